// Text generation on a session: evaluate a prompt, then sample and evaluate
// one token at a time until an end-of-generation token, a stop string, the
// token limit or a full context. Text is streamed as whole UTF-8 characters,
// and never includes a stop string or any prefix of one that might complete.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/session.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace scout::runtime {

struct GenerateOptions {
  int64_t max_tokens = 128;              // < 0: until end of generation or a full context
  std::vector<std::string> stop;         // stop strings (not part of the output)
  sampling::SamplerParams sampler;
  bool ignore_eog = false;               // keep going past end-of-generation tokens
  bool render_specials = false;          // print special tokens' text
  std::function<bool()> should_stop;     // asked between tokens; true ends generation (Ctrl-C)
};

enum class StopReason { EndOfGeneration, StopString, MaxTokens, ContextFull, Cancelled };
const char* stop_reason_name(StopReason r);  // "eog", "stop", "length", "context", "cancelled"

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

// on_text receives each piece of output text as soon as it is final.
GenerateResult generate(Session& session, const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opts, const std::function<void(std::string_view)>& on_text = {});

}  // namespace scout::runtime
