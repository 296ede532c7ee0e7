#include "engine/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <utility>

#include "engine/speculative.h"

namespace scout::engine {

const char* finish_reason(StopReason r) {
  switch (r) {
    case StopReason::EndOfGeneration:
    case StopReason::StopString: return "stop";
    case StopReason::MaxTokens: return "length";
    case StopReason::ContextFull: return "context";
    case StopReason::Cancelled: return "cancelled";
  }
  return "unknown";
}

double GenerateResult::prompt_tokens_per_second() const {
  return prompt_seconds > 0 ? static_cast<double>(prompt_ids.size()) / prompt_seconds : 0.0;
}

double GenerateResult::generated_tokens_per_second() const {
  return generate_seconds > 0 ? static_cast<double>(ids.size()) / generate_seconds : 0.0;
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

JsonTokenTable::JsonTokenTable(const tokenizer::Tokenizer& tok) {
  const size_t n = tok.n_vocab();
  offsets_.reserve(n + 1);
  flags_.resize(n);
  offsets_.push_back(0);
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<int32_t>(i);
    const std::string b = tok.token_bytes(id, true);
    // A special token's bytes depend on render_specials (its text, or
    // nothing): the text stream's are not JSON text either way.
    const bool special = b.empty() || tok.token_bytes(id, false) != b;
    if (!special) {
      blob_ += b;
      flags_[i] |= kText;
    }
    if (tok.is_eog(id)) flags_[i] |= kEog;
    if (blob_.size() > std::numeric_limits<uint32_t>::max())
      throw std::runtime_error("JsonTokenTable: the vocabulary's bytes exceed 4 GiB");
    offsets_.push_back(static_cast<uint32_t>(blob_.size()));
  }
  // Plain string content: no quote (so the string cannot end), and the
  // state inside a string is the same after it (whole escapes, whole UTF-8
  // characters). What happens inside a string depends on nothing outside it.
  sampling::JsonPrefix in_string;
  in_string.feed("{\"");
  string_plain_.assign((n + 63) / 64, 0);
  std::vector<int32_t> text, special;
  for (size_t i = 0; i < n; ++i) {
    if (!(flags_[i] & kText)) continue;
    const auto id = static_cast<int32_t>(i);
    text.push_back(id);
    const std::string_view b = bytes(id);
    sampling::JsonPrefix t = in_string;
    if (b.find('"') == std::string_view::npos && t.feed_unchecked(b) && t.key() == in_string.key())
      string_plain_[i / 64] |= uint64_t{1} << (i % 64);
    else
      special.push_back(id);
  }
  text_.build(*this, std::move(text));
  string_special_.build(*this, std::move(special));
}

void JsonTokenTable::Sorted::build(const JsonTokenTable& t, std::vector<int32_t> sorted) {
  ids = std::move(sorted);
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return t.bytes(a) < t.bytes(b); });
  offsets.assign(1, 0);
  lcp.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string_view cur = t.bytes(ids[i]);
    max_len = std::max(max_len, cur.size());
    size_t l = 0;
    if (i > 0) {
      const std::string_view prev = t.bytes(ids[i - 1]);
      while (l < prev.size() && l < cur.size() && prev[l] == cur[l]) ++l;
    }
    lcp[i] = static_cast<uint16_t>(std::min<size_t>(l, std::numeric_limits<uint16_t>::max()));
    blob += cur;
    offsets.push_back(static_cast<uint32_t>(blob.size()));
  }
}

void JsonTokenTable::Sorted::walk(const sampling::JsonPrefix& state, Mask& m) const {
  // st[k] is the state after the first k bytes of the previous token, valid
  // for k <= ok (the bytes of it that were accepted). A token sharing more
  // than ok bytes with the previous one shares its rejected byte: rejected
  // without a look.
  std::vector<sampling::JsonPrefix> st(max_len + 1, state);
  size_t ok = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const size_t l = lcp[i];
    if (l > ok) continue;
    const char* b = blob.data() + offsets[i];
    const size_t len = offsets[i + 1] - offsets[i];
    size_t k = l;
    for (; k < len; ++k) {
      st[k + 1] = st[k];
      if (!st[k + 1].feed_byte_unchecked(static_cast<uint8_t>(b[k]))) break;
    }
    ok = k;
    if (k == len) m[static_cast<size_t>(ids[i]) / 64] |= uint64_t{1} << (ids[i] % 64);
  }
}

JsonTokenTable::Mask JsonTokenTable::compute(const sampling::JsonPrefix& state) const {
  if (state.complete()) {
    Mask m((size() + 63) / 64, 0);
    for (size_t i = 0; i < size(); ++i)
      if (flags_[i] & kEog) m[i / 64] |= uint64_t{1} << (i % 64);
    return m;
  }
  if (state.in_string()) {
    Mask m = string_plain_;
    string_special_.walk(state, m);
    return m;
  }
  Mask m((size() + 63) / 64, 0);
  text_.walk(state, m);
  return m;
}

JsonTokenTable::Mask JsonTokenTable::allowed_slow(const sampling::JsonPrefix& state) const {
  Mask m((size() + 63) / 64, 0);
  for (size_t i = 0; i < size(); ++i) {
    const auto id = static_cast<int32_t>(i);
    const bool ok = state.complete() ? is_eog(id) : is_text(id) && state.accepts(bytes(id));
    if (ok) m[i / 64] |= uint64_t{1} << (i % 64);
  }
  return m;
}

std::shared_ptr<const JsonTokenTable::Mask> JsonTokenTable::allowed(const sampling::JsonPrefix& state) const {
  const sampling::JsonPrefix::Key key = state.key();
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  auto m = std::make_shared<const Mask>(compute(state));
  std::lock_guard lock(mu_);
  if (cache_.size() >= kCacheEntries) cache_.clear();  // crude, and rare: states repeat
  cache_.emplace(key, m);
  return m;
}

TokenLogprob token_logprob(std::span<const float> logits, int32_t id, int n_top) {
  if (logits.empty() || id < 0 || static_cast<size_t>(id) >= logits.size())
    throw std::invalid_argument("token_logprob: no logits, or the token is out of range");
  double mx = -std::numeric_limits<double>::infinity();
  for (const float l : logits) mx = std::max(mx, static_cast<double>(l));
  double sum = 0;
  for (const float l : logits) sum += std::exp(static_cast<double>(l) - mx);
  const double lse = mx + std::log(sum);
  const auto lp = [&](int32_t i) { return static_cast<float>(static_cast<double>(logits[static_cast<size_t>(i)]) - lse); };

  TokenLogprob e;
  e.id = id;
  e.logprob = lp(id);
  // The n most likely in one pass, kept sorted (n is small: OpenAI's limit is 20).
  const size_t n = std::min(static_cast<size_t>(std::max(n_top, 0)), logits.size());
  std::vector<int32_t> top;
  top.reserve(n + 1);
  const auto before = [&](int32_t a, int32_t b) {  // a ranks before b
    const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  };
  for (size_t i = 0; i < logits.size() && n > 0; ++i) {
    const auto t = static_cast<int32_t>(i);
    if (top.size() == n && !before(t, top.back())) continue;
    top.insert(std::upper_bound(top.begin(), top.end(), t, before), t);
    if (top.size() > n) top.pop_back();
  }
  e.top.reserve(top.size());
  for (const int32_t t : top) e.top.emplace_back(t, lp(t));
  return e;
}

Generation::Generation(const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt, GenerateOptions opts,
                       std::function<void(std::string_view)> on_text)
    : tok_(tok),
      opts_(std::move(opts)),
      on_text_(std::move(on_text)),
      sampler_(opts_.sampler),
      stream_(tok, opts_.render_specials),
      stops_(opts_.stop) {
  r_.prompt_ids.assign(prompt.begin(), prompt.end());
  for (int32_t id : prompt) sampler_.accept(id);
  if (opts_.top_logprobs < -1) throw std::invalid_argument("top_logprobs must be -1 (off) or at least 0");
  if (opts_.json_object) {
    json_tokens_ = opts_.json_tokens ? opts_.json_tokens : std::make_shared<const JsonTokenTable>(tok_);
    if (json_tokens_->size() != tok_.n_vocab())
      throw std::invalid_argument("json_tokens: the table was built for another vocabulary");
  }
}

void Generation::emit(const std::string& s) {
  if (!s.empty() && on_text_) on_text_(s);
}

std::optional<int32_t> Generation::step(std::span<const float> logits, uint64_t n_past, uint64_t n_ctx) {
  if (opts_.json_object) return advance([&] { return draw_json(logits); }, logits, n_past, n_ctx);
  return advance([&] { return sampler_.sample(logits); }, logits, n_past, n_ctx);
}

std::optional<int32_t> Generation::step(std::span<const int32_t> top_ids, std::span<const float> top_logits,
                                        uint64_t n_past, uint64_t n_ctx) {
  if (opts_.json_object || opts_.top_logprobs >= 0)
    throw std::invalid_argument("Generation::step: json_object and logprobs need every logit, not the top tokens");
  return advance([&] { return sampler_.sample_top(top_ids, top_logits); }, {}, n_past, n_ctx);
}

int Generation::candidates() const {
  if (opts_.json_object || opts_.top_logprobs >= 0) return 0;
  return std::min<int>(sampler_.candidates_needed(), static_cast<int>(tok_.n_vocab()));
}

int32_t Generation::draw_json(std::span<const float> logits) {
  const JsonTokenTable::Mask& m = *json_tokens_->allowed(json_);
  const size_t n = std::min(logits.size(), json_tokens_->size());  // a wider head's extra rows are never text
  const auto allowed = [&](size_t i) { return i < n && (m[i / 64] >> (i % 64) & 1) != 0; };
  masked_.assign(logits.size(), -std::numeric_limits<float>::infinity());
  bool any = false;
  for (size_t w = 0; w * 64 < n; ++w) {
    const uint64_t bits = m[w];
    if (bits == 0) continue;
    const size_t base = w * 64, end = std::min(n, base + 64);
    if (bits == ~uint64_t{0}) {  // inside strings most words are full
      std::copy(logits.begin() + static_cast<std::ptrdiff_t>(base), logits.begin() + static_cast<std::ptrdiff_t>(end),
                masked_.begin() + static_cast<std::ptrdiff_t>(base));
      any = true;
      continue;
    }
    for (uint64_t b = bits; b != 0; b &= b - 1) {
      const size_t i = base + static_cast<size_t>(__builtin_ctzll(b));
      if (i >= end) break;
      masked_[i] = logits[i];
      any = true;
    }
  }
  if (!any) return -1;
  int32_t id = sampler_.sample(masked_);
  // The sampler's draw can land past its last candidate when rounding leaves
  // a remainder: with every logit kept that is a masked token. Take the most
  // likely valid one instead.
  if (!allowed(static_cast<size_t>(id))) {
    id = -1;
    for (size_t i = 0; i < n; ++i)
      if (allowed(i) && (id < 0 || masked_[i] > masked_[static_cast<size_t>(id)])) id = static_cast<int32_t>(i);
  }
  return id;
}

template <class Draw>
std::optional<int32_t> Generation::advance(Draw&& draw, std::span<const float> logits, uint64_t n_past,
                                           uint64_t n_ctx) {
  if (done_) return std::nullopt;
  if (r_.ids.empty()) t_first_step_ = Clock::now();  // the first step (a later one has a token)
  if (opts_.max_tokens >= 0 && static_cast<int64_t>(r_.ids.size()) >= opts_.max_tokens) {
    finish(StopReason::MaxTokens);
    return std::nullopt;
  }
  // Checked before sampling: every token generated so far is evaluated.
  if (opts_.should_stop && opts_.should_stop()) {
    finish(StopReason::Cancelled);
    return std::nullopt;
  }
  const int32_t id = draw();
  if (id < 0) {  // json_object: no token may come next
    finish(StopReason::EndOfGeneration);
    return std::nullopt;
  }
  sampler_.accept(id);
  r_.ids.push_back(id);
  if (opts_.top_logprobs >= 0) r_.logprobs.push_back(token_logprob(logits, id, opts_.top_logprobs));
  if (opts_.json_object && !json_.complete() && !json_.feed(json_tokens_->bytes(id)))
    throw std::logic_error("json_object: a masked token was drawn");  // never: the mask allows only valid ones
  if (tok_.is_eog(id) && !opts_.ignore_eog) {
    finish(StopReason::EndOfGeneration);
    return std::nullopt;
  }
  bool stopped = false;
  emit(stops_.push(stream_.push(id), stopped));
  if (stopped) {
    finish(StopReason::StopString);
    return std::nullopt;
  }
  if (opts_.json_object && json_.complete()) {  // the object is whole: nothing may follow
    finish(StopReason::EndOfGeneration);
    return std::nullopt;
  }
  if (n_past >= n_ctx) {
    finish(StopReason::ContextFull);
    return std::nullopt;
  }
  return id;
}

void Generation::finish(StopReason why) {
  done_ = true;
  r_.stop_reason = why;
  r_.generate_seconds = seconds_since(t_first_step_);
  if (why != StopReason::StopString) {
    bool stopped = false;
    emit(stops_.push(stream_.flush(), stopped));
    if (!stopped) emit(stops_.finish());
  }
  r_.text = stops_.text();
}

GenerateResult generate(Session& session, const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opts, const std::function<void(std::string_view)>& on_text,
                        std::span<const float> prompt_logits) {
  Generation g(tok, prompt, opts, on_text);
  // Sampling that looks at the top k only gets only those from the backend.
  const int k = g.candidates();
  auto step = [&](std::span<const int32_t> ids) {
    if (k > 0) {
      const TopTokens top = session.eval_top(ids, k);
      return g.step(top.row_ids(0), top.row_logits(0), session.n_past(), session.n_ctx());
    }
    return g.step(session.eval(ids), session.n_past(), session.n_ctx());
  };
  std::optional<int32_t> next;
  if (!prompt_logits.empty()) {  // the session holds the prompt already (a loaded cache)
    next = g.step(prompt_logits, session.n_past(), session.n_ctx());
  } else {
    const auto t_prompt = Clock::now();
    next = step(prompt);
    g.result().prompt_seconds = seconds_since(t_prompt);  // includes the first draw: microseconds
  }
  if (next && opts.draft_max > 0) {
    std::vector<int32_t> history(prompt.begin(), prompt.end());
    history.insert(history.end(), g.result().ids.begin(), g.result().ids.end() - 1);  // all but *next
    LookupDrafter lookup;
    std::optional<ModelDrafter> model;
    if (opts.draft_session) model.emplace(*opts.draft_session);
    SpeculativeStats stats;
    generate_speculative(session, g, std::move(history), *next, opts.draft_max,
                         model ? static_cast<Drafter&>(*model) : lookup, stats);
    g.result().drafted_tokens = stats.drafted;
    g.result().accepted_tokens = stats.accepted;
    return std::move(g.result());
  }
  while (next) {
    const int32_t ids[1] = {*next};
    next = step(ids);
  }
  return std::move(g.result());
}

}  // namespace scout::engine
