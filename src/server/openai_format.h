// The JSON scout serve answers with, in OpenAI's shapes: chat.completion and
// text_completion objects, their streamed chunks, usage, log probabilities
// and error bodies. Only shapes here: no I/O, no state.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/generate.h"
#include "server/request.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace scout::server {

using ojson = nlohmann::ordered_json;

// JSON text for the wire: invalid UTF-8 (a token's bytes can be half a
// character) is replaced by U+FFFD rather than throwing.
std::string to_text(const ojson& j);

// {"error": {"message", "type", "param", "code"}}; type from the status
// (invalid_request_error, authentication_error, not_found_error, ...).
ojson error_body(int status, const std::string& message, const std::string& param = {}, const std::string& code = {});

// What identifies one response and each of its chunks.
struct ResponseHead {
  Endpoint endpoint = Endpoint::ChatCompletions;
  std::string id;  // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;
  std::string model;
  int top_logprobs = -1;  // -1: no logprobs in the answer
};
ResponseHead make_head(Endpoint endpoint, const std::string& model, int top_logprobs);

ojson usage_json(const Usage& u);

struct ChoiceText {
  std::string text;
  std::string finish_reason;
  std::vector<engine::TokenLogprob> logprobs;
};

// The whole answer of a request that did not stream.
ojson completion_json(const ResponseHead& head, const std::vector<ChoiceText>& choices, const Usage& usage,
                      const tokenizer::Tokenizer& tok);

// One streamed chunk of choice `index`: text (may be empty), the first chunk
// of a chat choice with role "assistant", the last with its finish_reason.
// include_usage: every chunk carries "usage": null (the OpenAI API's shape
// when usage is asked for).
ojson chunk_json(const ResponseHead& head, uint32_t index, bool first, const std::string& text,
                 const std::optional<std::string>& finish_reason, const std::vector<engine::TokenLogprob>& logprobs,
                 const tokenizer::Tokenizer& tok, bool include_usage);
// The last chunk with stream_options.include_usage: "choices": [] and the usage.
ojson usage_chunk_json(const ResponseHead& head, const Usage& usage);

}  // namespace scout::server
