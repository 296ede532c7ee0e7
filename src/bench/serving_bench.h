// `scout bench --url`: a serving benchmark client for an OpenAI-compatible
// server (scout serve, vLLM, llama-server), measuring what vLLM's
// benchmark_serving.py measures, with its definitions:
//   TTFT  time to first token: the first streamed token chunk - the request's start
//   TPOT  time per output token: (E2EL - TTFT) / (output tokens - 1), for requests with > 1 output token
//   ITL   inter-token latency: the gaps between successive token chunks, all requests' gaps pooled
//   E2EL  end-to-end latency: the last token chunk - the request's start
// (a token chunk: one with non-empty "choices"; see RequestRecord::chunk_s)
// request throughput = completed / duration, output token throughput = output
// tokens / duration, total token throughput = (input + output tokens) / duration;
// each latency as mean, median, standard deviation (numpy's np.std: the
// population one) and 99th percentile (numpy's default: linear interpolation),
// in milliseconds; an empty set reads 0, as in vLLM.
//
// Each concurrency level sends its prompts as fast as `concurrency` requests
// in flight allow (vLLM's --request-rate inf with --max-concurrency N): N
// workers, each sending its next request when its last one ended. Requests
// stream (SSE) with stream_options.include_usage, so output and input token
// counts are the server's own; a server without usage has its output tokens
// counted as the chunks that carried text.
//
// All of it is in serving_bench.cpp, built (into scout_http) only where
// cpp-httplib is: callers guard their calls with SCOUT_HAVE_HTTP. This header
// needs nothing of the library.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

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

// One request as it went, times in seconds from the start of its level.
struct RequestRecord {
  double start_s = 0;
  // Each streamed chunk with a non-empty "choices" (even with empty text, as
  // vLLM counts them), but for a chat stream's first chunk when it only
  // announces the role and a last chunk that only carries the finish reason:
  // servers that send those apart from the tokens would otherwise add a
  // TTFT of no token and an ITL gap of ~0.
  std::vector<double> chunk_s;
  double end_s = 0;             // the response ended (after data: [DONE])
  int64_t prompt_tokens = 0;    // usage.prompt_tokens, else the prompt's intended length
  int64_t output_tokens = -1;   // usage.completion_tokens; -1: the server sent no usage
  int64_t text_chunks = 0;      // chunks that carried non-empty text
  std::string finish_reason;    // the last one seen
  bool success = false;         // HTTP 200, at least one chunk, no error, ended with [DONE]
  std::string error;            // why not, when not

  // usage's count, else the chunks with text (one token each, as servers stream).
  int64_t output_count() const { return output_tokens >= 0 ? output_tokens : text_chunks; }
};

// One statistic in milliseconds.
struct Distribution {
  double mean = 0, median = 0, std = 0, p99 = 0;
  size_t count = 0;
};
// numpy's np.percentile(x, p) (linear interpolation between the closest
// ranks); x need not be sorted; 0 for an empty x.
double percentile(std::vector<double> x, double p);
// seconds in, milliseconds out; all zero for none.
Distribution distribution_ms(const std::vector<double>& seconds);

struct LevelMetrics {
  int64_t concurrency = 1;
  int64_t num_prompts = 0;
  int64_t completed = 0, failed = 0;
  double duration_s = 0;  // the level's first request sent .. its last one ended
  int64_t total_input_tokens = 0, total_output_tokens = 0;  // completed requests only
  double request_throughput = 0, output_throughput = 0, total_token_throughput = 0;  // per second
  Distribution ttft, tpot, itl, e2el;
  std::map<std::string, int64_t> errors;  // failed requests by error text
};

// The metrics of a level's requests (vLLM's calculate_metrics).
LevelMetrics compute_metrics(std::span<const RequestRecord> records, double duration_s, int64_t concurrency);

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

struct ServingReport {
  std::string url, model, endpoint_path;
  int64_t input_len = 0, output_len = 0;
  uint64_t seed = 0;
  std::string prompt_kind;  // how prompts were made: "token ids" or "text"
  std::vector<LevelMetrics> levels;
  std::vector<std::vector<RequestRecord>> records;  // per level, in prompt order

  // The level the scaling column compares with: concurrency 1 when measured, else the first.
  const LevelMetrics* base() const;
};

// Reaching nothing at all (no connection, the model list or the warm-up
// request refused) throws ServingError; a request failing during a level is
// counted in that level's `failed` and the run goes on.
class ServingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

ServingReport run_serving_bench(const ServingOptions& options);

// A throughput table and a latency table (markdown, as `scout bench`), then
// each level's output token throughput relative to the base level.
std::string serving_markdown(const ServingReport& report);
// One object per level, vLLM's result keys (request_throughput, mean_ttft_ms, ...).
nlohmann::ordered_json serving_json(const ServingReport& report);
std::string serving_csv(const ServingReport& report);

}  // namespace scout::bench
