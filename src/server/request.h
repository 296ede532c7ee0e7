// The request bodies `scout serve` accepts, parsed into what the scheduler
// runs: OpenAI's /v1/chat/completions and /v1/completions bodies, and the
// /tokenize and /detokenize bodies (llama-server's shapes). Parsing is strict
// about types and ranges (every mistake is a RequestError naming its field,
// answered with 400) and lenient about keys it does not know (clients send
// `user`, `metadata`, ...), except keys whose meaning scout cannot honour
// (tools, logit_bias, echo, ...): ignoring those would silently give the
// client something else than it asked for, so they are a 400 too.
// The same body parser reads the OpenAI Batch format's bodies (issue 17).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"

namespace scout::server {

// What a bad request is answered with: an OpenAI error body
// {"error": {"message", "type": "invalid_request_error", "param", "code"}}.
class RequestError : public std::runtime_error {
 public:
  RequestError(const std::string& message, std::string param = {}, std::string code = {}, int status = 400)
      : std::runtime_error(message), param(std::move(param)), code(std::move(code)), status(status) {}
  std::string param;  // the offending field ("messages[1].content", "temperature"); empty: none
  std::string code;   // OpenAI's machine-readable code, when one fits ("invalid_json", "context_length_exceeded")
  int status;
};

enum class Endpoint { ChatCompletions, Completions };

// Limits on a body before and while it is parsed.
struct ParseLimits {
  int max_depth = 64;         // JSON nesting (objects and arrays); deeper: 400
  int max_n = 16;             // choices per request
  size_t max_stop = 16;       // stop strings
  size_t max_messages = 4096;
};

struct CompletionRequest {
  Endpoint endpoint = Endpoint::ChatCompletions;
  std::string model;  // as given; empty when absent

  // /v1/chat/completions: the conversation, roles system (also for OpenAI's
  // "developer"), user and assistant (whose content may be null or absent: "");
  // "tool" and "function" are 400. A message's content is a string or
  // content parts (text, image_url) joined in order with a <__media__> marker
  // where each image goes (vision/media_prompt.h); its images are the urls as
  // given (data: URIs; anything else is refused when the request runs).
  std::vector<chat::Message> messages;

  // /v1/completions: the prompt as text (a string, or an array holding one
  // string), or as token ids (an array of integers, or an array holding one such array).
  std::string prompt;
  std::vector<int32_t> prompt_tokens;
  bool prompt_is_tokens = false;

  // Sampling: absent fields take the server's defaults (its sampling flags).
  std::optional<int64_t> max_tokens;  // max_tokens or max_completion_tokens (both: must agree), >= 1
  std::optional<float> temperature;   // [0, 2]
  std::optional<float> top_p;         // (0, 1]
  std::optional<int32_t> top_k;       // >= 0; 0: off
  std::optional<float> min_p;         // [0, 1]
  std::optional<float> presence_penalty;   // [-2, 2]
  std::optional<float> frequency_penalty;  // [-2, 2]
  std::optional<float> repeat_penalty;     // > 0 (llama-server's extension)
  std::optional<uint64_t> seed;            // any 64-bit integer; negative ones as their two's complement
  std::vector<std::string> stop;  // a string or an array of strings; empty strings are dropped
  bool ignore_eos = false;        // generate past end-of-generation tokens (vLLM's and llama-server's extension: benchmarks)

  // Log probabilities: chat's logprobs (bool) + top_logprobs (0..20); completions' logprobs (integer 0..5).
  bool logprobs = false;
  int top_logprobs = 0;

  int n = 1;                  // choices, 1..limits.max_n
  bool json_object = false;   // response_format {"type": "json_object"} ("text": false)
  bool stream = false;
  bool include_usage = false; // stream_options.include_usage (stream_options without stream: 400)
};

// Parses a body (UTF-8 JSON text): throws RequestError, code "invalid_json"
// for text that is not JSON or nests deeper than limits.max_depth.
CompletionRequest parse_completion_request(std::string_view body, Endpoint endpoint, const ParseLimits& limits = {});
// The same from parsed JSON (the Batch format's "body").
CompletionRequest parse_completion_request(const nlohmann::json& body, Endpoint endpoint,
                                           const ParseLimits& limits = {});
// A std::string or a literal body is JSON text too (both convert to string_view
// and to json alike: without these the call would be ambiguous).
inline CompletionRequest parse_completion_request(const std::string& body, Endpoint endpoint,
                                                  const ParseLimits& limits = {}) {
  return parse_completion_request(std::string_view(body), endpoint, limits);
}
inline CompletionRequest parse_completion_request(const char* body, Endpoint endpoint, const ParseLimits& limits = {}) {
  return parse_completion_request(std::string_view(body), endpoint, limits);
}

// POST /tokenize: {"content": "...", "add_special": false, "parse_special": true, "with_pieces": false}.
struct TokenizeRequest {
  std::string content;
  bool add_special = false;   // a BOS first when the vocabulary adds one
  bool parse_special = true;  // special-token text becomes those tokens
  bool with_pieces = false;   // answer [{"id", "piece"}] instead of ids
};
TokenizeRequest parse_tokenize_request(std::string_view body, const ParseLimits& limits = {});

// POST /detokenize: {"tokens": [ids]}. Ids are checked against the vocabulary by the caller.
std::vector<int32_t> parse_detokenize_request(std::string_view body, const ParseLimits& limits = {});

// JSON text parsed with the nesting limit; RequestError (400, "invalid_json") otherwise.
nlohmann::json parse_json_body(std::string_view body, const ParseLimits& limits = {});

}  // namespace scout::server
