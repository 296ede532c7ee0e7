#include "engine/speculative.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "engine/generate.h"
#include "engine/session.h"

namespace scout::engine {

std::vector<int32_t> lookup_draft(std::span<const int32_t> history, int max_draft, int max_ngram, int min_ngram) {
  const auto len = static_cast<int64_t>(history.size());
  if (max_draft <= 0) return {};
  for (int64_t n = std::min<int64_t>(max_ngram, len - 1); n >= std::max(1, min_ngram); --n) {
    const std::span<const int32_t> key = history.subspan(static_cast<size_t>(len - n));
    // Latest first: the nearest context is the likeliest to go on the same way.
    for (int64_t i = len - n - 1; i >= 0; --i) {
      if (!std::equal(key.begin(), key.end(), history.begin() + i)) continue;
      const int64_t from = i + n, to = std::min(len, from + max_draft);
      return {history.begin() + from, history.begin() + to};
    }
  }
  return {};
}

std::vector<int32_t> ModelDrafter::draft(std::span<const int32_t> history, int max) {
  // Keep what the session shares with history (as far as its chunked layers
  // allow a cut), evaluate the rest but the last token, then decode greedily.
  size_t common = 0;
  while (common < held_.size() && common + 1 < history.size() && held_[common] == history[common]) ++common;
  if (common < held_.size()) {
    common = static_cast<size_t>(session_.kv_cache().keepable_prefix(0, static_cast<int64_t>(common)));
    session_.kv_cache().truncate(0, static_cast<int64_t>(common));
    held_.resize(common);
  }
  std::vector<int32_t> out;
  std::vector<float> logits = session_.eval(history.subspan(common));
  held_.assign(history.begin(), history.end());
  for (;;) {
    const auto best = std::max_element(logits.begin(), logits.end());  // ties: the lower id
    out.push_back(static_cast<int32_t>(best - logits.begin()));
    if (static_cast<int>(out.size()) == max) return out;
    logits = session_.eval({&out.back(), 1});
    held_.push_back(out.back());
  }
}

void check_same_vocabulary(const tokenizer::Tokenizer& target, const tokenizer::Tokenizer& draft) {
  if (target.n_vocab() != draft.n_vocab())
    throw std::runtime_error(fmt::format("the draft model's vocabulary has {} tokens, the model's {}: they must be the same",
                                         draft.n_vocab(), target.n_vocab()));
  for (size_t id = 0; id < target.n_vocab(); ++id) {
    const auto i = static_cast<int32_t>(id);
    if (target.token_text(i) != draft.token_text(i))
      throw std::runtime_error(fmt::format("the draft model's token {} is '{}', the model's '{}': the vocabularies differ", i,
                                           draft.token_text(i), target.token_text(i)));
  }
}

void generate_speculative(Session& session, Generation& g, std::vector<int32_t> history, int32_t next, int n_draft,
                          Drafter& drafter, SpeculativeStats& stats) {
  if (n_draft < 1 || n_draft > kMaxDraft)
    throw std::invalid_argument(fmt::format("speculative decoding: {} draft tokens (1 to {})", n_draft, kMaxDraft));
  const uint64_t n_ctx = session.n_ctx();
  // How many tokens to guess: halved after a step whose first guess was
  // wrong, doubled after one whose guesses were all right (up to n_draft),
  // so text that does not repeat costs little beyond plain decoding.
  int64_t len = n_draft;
  for (std::optional<int32_t> token = next; token;) {
    history.push_back(*token);
    const auto base = static_cast<int64_t>(session.n_past());
    // The pass [token, draft...] must fit the context and stay inside one
    // attention chunk (passes never cross a boundary, and the rows cut off
    // afterwards must lie in the current chunk).
    int64_t room = static_cast<int64_t>(n_ctx) - base - 1;
    if (const int64_t b = session.kv_cache().next_chunk_boundary(base); b >= 0) room = std::min(room, b - base - 1);
    // Guesses past max_tokens would be evaluated for nothing.
    if (const int64_t left = g.tokens_left(); left >= 0) room = std::min(room, left - 1);
    room = std::clamp<int64_t>(room, 0, len);
    const std::vector<int32_t> draft = room > 0 ? drafter.draft(history, static_cast<int>(room)) : std::vector<int32_t>{};
    if (static_cast<int64_t>(draft.size()) > room) throw std::logic_error("speculative decoding: a draft too long");

    std::vector<int32_t> rows{*token};
    rows.insert(rows.end(), draft.begin(), draft.end());
    const std::vector<float> logits = session.eval(rows, /*all_logits=*/!draft.empty());
    const size_t n_vocab = logits.size() / rows.size();
    if (!draft.empty()) {
      ++stats.passes;
      stats.drafted += draft.size();
    }
    // Draw from row i's logits as plain decoding would after evaluating row
    // i alone; go on while the draw is the guess that row i + 1 holds.
    size_t i = 0;
    for (;; ++i) {
      token = g.step(std::span<const float>(logits.data() + i * n_vocab, n_vocab), static_cast<uint64_t>(base) + i + 1,
                     n_ctx);
      if (!token || i == draft.size() || *token != draft[i]) break;
      ++stats.accepted;
      history.push_back(*token);
    }
    if (!draft.empty() && i == 0) len = std::max<int64_t>(1, len / 2);
    if (!draft.empty() && i == draft.size()) len = std::min<int64_t>(n_draft, 2 * len);
    // Rows past i hold guesses that were not drawn (or follow the end).
    if (const int64_t keep = base + static_cast<int64_t>(i) + 1; keep < static_cast<int64_t>(session.n_past())) {
      if (session.kv_cache().keepable_prefix(0, keep) != keep)
        throw std::logic_error(fmt::format("speculative decoding: cannot cut the cache back to {} positions", keep));
      session.kv_cache().truncate(0, keep);
    }
  }
}

}  // namespace scout::engine
