// `scout bench --url`: a serving benchmark client for an OpenAI-compatible
// server (scout serve, vLLM, llama-server), measuring what vLLM's
// benchmark_serving.py measures, with its definitions (TTFT, TPOT, ITL, E2EL
// and the throughputs: serving_metrics.h, with the reports).
//
// Each concurrency level sends its prompts as fast as `concurrency` requests
// in flight allow (vLLM's --request-rate inf with --max-concurrency N): N
// workers, each sending its next request when its last one ended. Requests
// stream (SSE) with stream_options.include_usage, so output and input token
// counts are the server's own; a server without usage has its output tokens
// counted as the chunks that carried text.
//
// The client is in serving_bench.cpp, built (into scout_http) only where
// cpp-httplib is: callers guard their calls with SCOUT_HAVE_HTTP. This header
// needs nothing of the library.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bench/serving_metrics.h"

namespace scout::bench {

// Server-sent events framing (the WHATWG rules scout serve, vLLM and OpenAI
// follow): lines end in \n, \r\n or \r; a blank line ends an event; "data:"
// lines (one space after the colon dropped) join with \n; comments (":...")
// and other fields (event:, id:, retry:) are skipped; an event with no data is
// not dispatched. Bytes may arrive split anywhere, even inside "\r\n".
class SseParser {
 public:
  using Handler = std::function<void(std::string_view data)>;
  void feed(std::string_view bytes, const Handler& on_event);
  // The stream ended: a last line without its newline, and an event without
  // its blank line, are dispatched (lenient, as line-reading clients are).
  void finish(const Handler& on_event);

 private:
  void line(std::string_view text, const Handler& on_event);
  void dispatch(const Handler& on_event);
  std::string line_;      // the current line so far
  std::string data_;      // the current event's data so far
  bool has_data_ = false;
  bool after_cr_ = false;  // the last byte was \r: a \n right after it ends nothing more
};

enum class ServingEndpoint { Completions, Chat };
// "completions" or "chat"; std::invalid_argument otherwise.
ServingEndpoint parse_serving_endpoint(const std::string& name);
std::string endpoint_path(ServingEndpoint e);  // "/v1/completions", "/v1/chat/completions"

struct ServingOptions {
  std::string url;      // http://host:port, optionally with a path prefix; a trailing /v1 is dropped
  std::string api_key;  // sent as "Authorization: Bearer KEY" when not empty
  std::string model;    // empty: the first model GET /v1/models lists
  ServingEndpoint endpoint = ServingEndpoint::Completions;
  std::vector<int64_t> concurrency = {1};
  int64_t num_prompts = 0;  // per level; 0: max(16, 4 x concurrency)
  int64_t input_len = 512;  // prompt tokens (exact as token ids where POST /tokenize answers; else approximate text)
  int64_t output_len = 128; // max_tokens; the server may stop earlier (usage says how many)
  uint64_t seed = 0;
  bool ignore_eos = false;  // send "ignore_eos": true (vLLM and llama-server know it)
  bool warmup = true;       // one request before the first level, not measured
  double timeout_s = 600;   // the longest wait for a byte of a response
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

// Reaching nothing at all (no connection, the model list or the warm-up
// request refused) throws ServingError; a request failing during a level is
// counted in that level's `failed` and the run goes on.
class ServingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Each level's requests (records) and metrics; report with serving_markdown,
// serving_json or serving_csv (serving_metrics.h).
ServingReport run_serving_bench(const ServingOptions& options);

}  // namespace scout::bench
