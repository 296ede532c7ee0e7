// Text generation on a session: evaluate a prompt, then sample and evaluate
// one token at a time until an end-of-generation token, a stop string, the
// token limit or a full context. Text is streamed as whole UTF-8 characters,
// and never includes a stop string or any prefix of one that might complete.
// The per-token logic is Generation, so several generations can share forward
// passes (`scout batch --parallel`); generate() drives one on one session.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/session.h"
#include "engine/stop_matcher.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace scout::engine {

struct GenerateOptions {
  int64_t max_tokens = 128;              // < 0: until end of generation or a full context
  std::vector<std::string> stop;         // stop strings (not part of the output)
  sampling::SamplerParams sampler;
  bool ignore_eog = false;               // keep going past end-of-generation tokens
  bool render_specials = false;          // print special tokens' text
  std::function<bool()> should_stop;     // asked between tokens; true ends generation (Ctrl-C)
};

enum class StopReason { EndOfGeneration, StopString, MaxTokens, ContextFull, Cancelled };
// The one name every output uses (run --json, batch, the server): OpenAI's
// finish_reason, "stop" (an end-of-generation token or a stop string),
// "length", plus "context" (the context is full) and "cancelled".
const char* finish_reason(StopReason r);

struct GenerateResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> ids;     // generated, the end-of-generation token included
  std::string text;             // what was streamed
  StopReason stop_reason = StopReason::MaxTokens;
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
  // candidates() > 0: then the draw is the one step(logits) makes.
  std::optional<int32_t> step(std::span<const int32_t> top_ids, std::span<const float> top_logits, uint64_t n_past,
                              uint64_t n_ctx);
  // How many top tokens step() needs (sampling::Sampler::candidates_needed, at
  // most the vocabulary); 0: every logit.
  int candidates() const;
  bool done() const { return done_; }
  // prompt_seconds is the caller's to set; generate_seconds runs from the first step to the end.
  GenerateResult& result() { return r_; }

 private:
  // step()'s work around drawing the token: limits before it, stops after.
  template <class Draw>
  std::optional<int32_t> advance(Draw&& draw, uint64_t n_past, uint64_t n_ctx);
  void finish(StopReason why);
  void emit(const std::string& s);

  const tokenizer::Tokenizer& tok_;
  GenerateOptions opts_;
  std::function<void(std::string_view)> on_text_;
  sampling::Sampler sampler_;
  tokenizer::TextStream stream_;
  StopMatcher stops_;
  GenerateResult r_;
  std::chrono::steady_clock::time_point t_first_step_;
  bool done_ = false;
};

// on_text receives each piece of output text as soon as it is final. With
// prompt_logits, the session already holds the prompt (a loaded prompt
// cache) and these are its last token's logits: nothing is evaluated before
// the first draw. Sampling from all logits or from the backend's top k makes
// the same draws (sampling::Sampler::sample_top), so both paths give the same text.
GenerateResult generate(Session& session, const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opts, const std::function<void(std::string_view)>& on_text = {},
                        std::span<const float> prompt_logits = {});

}  // namespace scout::engine
