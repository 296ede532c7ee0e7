// libFuzzer entry point for the request bodies of `scout serve`
// (server/request.h): any input must parse, for each endpoint, to a request
// or to a RequestError whose message and param can be sent back in a JSON
// error body; anything else escaping (a nlohmann exception, a crash) is a
// bug. Parsed requests are checked against the ranges the parser promises.
// Also linked into request_fuzz_replay, which replays corpus-request/ in
// ordinary builds.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/request.h"

namespace {

using scout::server::CompletionRequest;
using scout::server::Endpoint;
using scout::server::RequestError;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "request_fuzz: broken invariant: %s\n", what);
    std::abort();
  }
}

// The error body the server sends: dump() throws on ill-formed UTF-8.
void check_error(const RequestError& e) {
  check(e.status == 400, "status 400");
  check(*e.what() != '\0', "a message");
  const nlohmann::json body = {{"error", {{"message", e.what()}, {"param", e.param}, {"code", e.code}}}};
  (void)body.dump();
}

void check_request(const CompletionRequest& r, Endpoint endpoint) {
  const scout::server::ParseLimits limits;
  check(r.endpoint == endpoint, "endpoint");
  check(r.n >= 1 && r.n <= limits.max_n, "n in range");
  check(r.stop.size() <= limits.max_stop, "stop count");
  for (const std::string& s : r.stop) check(!s.empty(), "no empty stop string");
  check(!r.max_tokens || *r.max_tokens >= 1, "max_tokens >= 1");
  check(!r.temperature || (*r.temperature >= 0 && *r.temperature <= 2), "temperature in range");
  check(!r.top_p || (*r.top_p > 0 && *r.top_p <= 1), "top_p in range");
  check(!r.top_k || *r.top_k >= 0, "top_k >= 0");
  check(!r.min_p || (*r.min_p >= 0 && *r.min_p <= 1), "min_p in range");
  check(!r.repeat_penalty || *r.repeat_penalty > 0, "repeat_penalty > 0");
  check(r.top_logprobs >= 0 && r.top_logprobs <= 20, "top_logprobs in range");
  check(r.logprobs || r.top_logprobs == 0, "top_logprobs only with logprobs");
  check(!r.include_usage || r.stream, "include_usage only when streaming");
  if (endpoint == Endpoint::ChatCompletions) {
    check(!r.messages.empty() && r.messages.size() <= limits.max_messages, "messages");
    for (const auto& m : r.messages) {
      check(m.role == "system" || m.role == "user" || m.role == "assistant", "role");
      for (const std::string& url : m.images) check(!url.empty(), "image url");
      // The text may hold markers of its own, never fewer than the images.
      size_t markers = 0;
      for (size_t at = m.content.find("<__media__>"); at != std::string::npos; at = m.content.find("<__media__>", at + 1))
        ++markers;
      check(markers >= m.images.size(), "a marker per image");
    }
  } else {
    check(r.messages.empty(), "no messages for completions");
    check(!r.prompt_is_tokens || !r.prompt_tokens.empty(), "token prompt not empty");
    check(r.prompt_is_tokens || r.prompt_tokens.empty(), "text prompt has no tokens");
    for (const int32_t t : r.prompt_tokens) check(t >= 0, "token ids >= 0");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const Endpoint endpoint : {Endpoint::ChatCompletions, Endpoint::Completions}) {
    try {
      check_request(scout::server::parse_completion_request(body, endpoint), endpoint);
    } catch (const RequestError& e) {
      check_error(e);
    }
  }
  try {
    (void)scout::server::parse_tokenize_request(body);
  } catch (const RequestError& e) {
    check_error(e);
  }
  try {
    for (const int32_t t : scout::server::parse_detokenize_request(body)) check(t >= 0, "detokenize ids >= 0");
  } catch (const RequestError& e) {
    check_error(e);
  }
  return 0;
}
