// Text generation on a session: evaluate a prompt, then sample and evaluate
// one token at a time until an end-of-generation token, a stop string, the
// token limit or a full context. Text is streamed as whole UTF-8 characters,
// and never includes a stop string or any prefix of one that might complete.
// The per-token logic is Generation, so several generations can share forward
// passes (`scout batch --parallel`); generate() drives one on one session.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/session.h"
#include "engine/stop_matcher.h"
#include "sampling/json_prefix.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace scout::engine {

// What constrained JSON decoding needs to know about a vocabulary: each
// token's bytes (what Tokenizer::token_bytes gives, and TextStream appends),
// which tokens may appear in JSON text at all (not control or user-defined
// tokens, not empty ones) and which end generation. Building it reads every
// token once (about 150 ms for the 202k Llama 4 vocabulary), so a server
// builds one per tokenizer and hands it to each generation
// (GenerateOptions::json_tokens); it is immutable apart from a thread-safe
// cache of masks, so one table serves concurrent generations and they share
// the masks. A mask not in the cache takes 0.1-0.5 ms on 202k tokens.
class JsonTokenTable {
 public:
  explicit JsonTokenTable(const tokenizer::Tokenizer& tok);

  size_t size() const { return flags_.size(); }
  std::string_view bytes(int32_t id) const {
    return std::string_view(blob_).substr(offsets_[static_cast<size_t>(id)],
                                          offsets_[static_cast<size_t>(id) + 1] - offsets_[static_cast<size_t>(id)]);
  }
  // May stand in JSON text: not special, not empty.
  bool is_text(int32_t id) const { return flags_[static_cast<size_t>(id)] & kText; }
  bool is_eog(int32_t id) const { return flags_[static_cast<size_t>(id)] & kEog; }

  // One bit per token (bit id % 64 of word id / 64): whether the token may
  // come next in `state`. A text token when feeding its bytes keeps the text
  // a valid prefix; an end-of-generation token only when the object is
  // complete; any other special token never. Computed over the tokens sorted
  // by bytes, as over a trie (tokens sharing a rejected prefix are skipped at
  // once); inside a string, the tokens that are plain string content (most of
  // a vocabulary) are allowed without a look. Cached by state
  // (JsonPrefix::key): generating a long string or number asks for the same
  // state again and again.
  using Mask = std::vector<uint64_t>;
  std::shared_ptr<const Mask> allowed(const sampling::JsonPrefix& state) const;
  // The same without the sorted walk or the cache: every token fed on its
  // own (the reference the tests compare with).
  Mask allowed_slow(const sampling::JsonPrefix& state) const;

 private:
  static constexpr uint8_t kText = 1, kEog = 2;
  static constexpr size_t kCacheEntries = 256;  // 25 KB each for 202k tokens
  // Tokens sorted by bytes, their bytes stored in that order (the walk reads
  // them in sequence).
  struct Sorted {
    std::vector<int32_t> ids;
    std::string blob;
    std::vector<uint32_t> offsets;  // [n + 1]
    std::vector<uint16_t> lcp;      // bytes ids[i] shares with ids[i - 1] (0 for i = 0)
    size_t max_len = 0;
    void build(const JsonTokenTable& t, std::vector<int32_t> ids);
    void walk(const sampling::JsonPrefix& state, Mask& m) const;
  };
  Mask compute(const sampling::JsonPrefix& state) const;

  std::string blob_;               // every token's bytes, concatenated in id order
  std::vector<uint32_t> offsets_;  // [n + 1]: token id's bytes are blob_[offsets_[id], offsets_[id + 1])
  std::vector<uint8_t> flags_;
  Sorted text_;                    // every text token
  Sorted string_special_;          // the text tokens that are not plain string content
  Mask string_plain_;              // the ones that are: inside a string they leave the state as it was
  mutable std::mutex mu_;
  mutable std::unordered_map<sampling::JsonPrefix::Key, std::shared_ptr<const Mask>, sampling::JsonPrefix::KeyHash>
      cache_;
};

struct GenerateOptions {
  int64_t max_tokens = 128;              // < 0: until end of generation or a full context
  std::vector<std::string> stop;         // stop strings (not part of the output)
  sampling::SamplerParams sampler;
  bool ignore_eog = false;               // keep going past end-of-generation tokens
  bool render_specials = false;          // print special tokens' text
  std::function<bool()> should_stop;     // asked between tokens; true ends generation (Ctrl-C)
  // response_format json_object: the generated text is always a prefix of
  // one JSON object (sampling::JsonPrefix says which, whitespace runs of at
  // most 2 bytes included), and generation ends with EndOfGeneration as soon
  // as the object is complete. Before each draw the logits of every token
  // that cannot come next are set to -inf, before the sampler's chain
  // (penalties, top-k, ...), so greedy takes the most likely valid token.
  // When no token can come next (a tiny vocabulary) generation ends with
  // EndOfGeneration too; at max_tokens mid-object, MaxTokens as always (and a
  // stop string, if any, still ends it where it matches). Needs every logit:
  // candidates() is 0.
  bool json_object = false;
  // The table json_object needs for this tokenizer; null: the Generation
  // builds its own (about 150 ms on a 202k vocabulary, and its masks are
  // shared with no other generation).
  std::shared_ptr<const JsonTokenTable> json_tokens;
  // -1: off. 0..n: GenerateResult::logprobs gets, per generated token, its
  // log-probability and that many most likely alternatives (OpenAI allows up
  // to 20; more is not refused here, at most the vocabulary is listed).
  // Needs every logit: candidates() is 0. Off, nothing changes; on, the
  // draws are the same as off.
  int top_logprobs = -1;
  // > 0: speculative decoding (engine/speculative.h), guessing up to this
  // many tokens (at most kMaxDraft) a step: by prompt lookup, or with
  // draft_session set, by that session's model (same vocabulary; it must hold
  // nothing yet). The draws are the same as off.
  int draft_max = 0;
  Session* draft_session = nullptr;
};

enum class StopReason { EndOfGeneration, StopString, MaxTokens, ContextFull, Cancelled };
// The one name every output uses (run --json, batch, the server): OpenAI's
// finish_reason, "stop" (an end-of-generation token or a stop string),
// "length", plus "context" (the context is full) and "cancelled".
const char* finish_reason(StopReason r);

// One generated token's log-probability: log-softmax of the raw model logits
// (before penalties, temperature and the JSON mask: vLLM's default raw
// logprobs), the normalizing sum taken in double.
struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // (id, logprob), most likely first, ties to the lower id
};

struct GenerateResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> ids;     // generated, the end-of-generation token included
  // With top_logprobs >= 0: one entry per token of ids, in order, appended by
  // the step() that draws the token (a server can stream them as they come).
  std::vector<TokenLogprob> logprobs;
  std::string text;             // what was streamed
  StopReason stop_reason = StopReason::MaxTokens;
  uint64_t drafted_tokens = 0;   // with GenerateOptions::draft_max: tokens guessed,
  uint64_t accepted_tokens = 0;  // ... and drawn as guessed
  double prompt_seconds = 0;    // evaluating the prompt
  double generate_seconds = 0;  // sampling and evaluating the generated tokens
  double prompt_tokens_per_second() const;
  double generated_tokens_per_second() const;
};

// One generation after its prompt was evaluated, advanced by whoever runs
// the model: step() takes the logits of the last evaluated token and says
// which token to evaluate next, until the generation is over.
class Generation {
 public:
  // on_text receives each piece of output text as soon as it is final.
  Generation(const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt, GenerateOptions opts,
             std::function<void(std::string_view)> on_text = {});

  // Samples the next token from logits ([n_vocab]; the sequence holds n_past
  // of n_ctx tokens). Returns it when it must be evaluated for the generation
  // to go on; nullopt when the generation is over (result() is final then).
  std::optional<int32_t> step(std::span<const float> logits, uint64_t n_past, uint64_t n_ctx);
  // The same from the most likely tokens only (Session::eval_top), when
  // candidates() > 0: then the draw is the one step(logits) makes. Throws
  // std::invalid_argument with json_object or top_logprobs on (they need
  // every logit).
  std::optional<int32_t> step(std::span<const int32_t> top_ids, std::span<const float> top_logits, uint64_t n_past,
                              uint64_t n_ctx);
  // How many top tokens step() needs (sampling::Sampler::candidates_needed, at
  // most the vocabulary); 0: every logit (always with json_object or logprobs).
  int candidates() const;
  bool done() const { return done_; }
  // Draws left before max_tokens ends the generation; -1: no limit.
  int64_t tokens_left() const {
    return opts_.max_tokens < 0 ? -1 : std::max<int64_t>(0, opts_.max_tokens - static_cast<int64_t>(r_.ids.size()));
  }
  // prompt_seconds is the caller's to set; generate_seconds runs from the first step to the end.
  GenerateResult& result() { return r_; }

 private:
  // step()'s work around drawing the token: limits before it, stops after.
  // draw() returns the token, or -1 when no token may come next (json_object).
  // logits: the raw logits for logprobs (empty on the top-k path).
  template <class Draw>
  std::optional<int32_t> advance(Draw&& draw, std::span<const float> logits, uint64_t n_past, uint64_t n_ctx);
  void finish(StopReason why);
  void emit(const std::string& s);
  int32_t draw_json(std::span<const float> logits);  // sampler_.sample on the masked logits, or -1

  const tokenizer::Tokenizer& tok_;
  GenerateOptions opts_;
  std::function<void(std::string_view)> on_text_;
  sampling::Sampler sampler_;
  tokenizer::TextStream stream_;
  StopMatcher stops_;
  GenerateResult r_;
  std::chrono::steady_clock::time_point t_first_step_;
  bool done_ = false;
  std::shared_ptr<const JsonTokenTable> json_tokens_;  // with json_object
  sampling::JsonPrefix json_;                           // the text so far, with json_object
  std::vector<float> masked_;                           // draw_json's logits, kept between steps
};

// log-softmax of logits at id (in double), and the n most likely tokens'
// (largest first, ties to the lower id): what TokenLogprob holds.
TokenLogprob token_logprob(std::span<const float> logits, int32_t id, int n_top);

// on_text receives each piece of output text as soon as it is final. With
// prompt_logits, the session already holds the prompt (a loaded prompt
// cache) and these are its last token's logits: nothing is evaluated before
// the first draw. Sampling from all logits or from the backend's top k makes
// the same draws (sampling::Sampler::sample_top), so both paths give the same text.
GenerateResult generate(Session& session, const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opts, const std::function<void(std::string_view)>& on_text = {},
                        std::span<const float> prompt_logits = {});

}  // namespace scout::engine
