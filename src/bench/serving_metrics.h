// The serving benchmark's measurements (`scout bench --url`, serving_bench.h):
// what each request recorded, and what vLLM's benchmark_serving.py computes
// from that, with its definitions:
//   TTFT  time to first token: the first streamed token chunk - the request's start
//   TPOT  time per output token: (E2EL - TTFT) / (output tokens - 1), for requests with > 1 output token
//   ITL   inter-token latency: the gaps between successive token chunks, all requests' gaps pooled
//   E2EL  end-to-end latency: the last token chunk - the request's start
// (a token chunk: one with non-empty "choices"; see RequestRecord::chunk_s)
// request throughput = completed / duration, output token throughput = output
// tokens / duration, total token throughput = (input + output tokens) / duration;
// each latency as mean, median, standard deviation (numpy's np.std: the
// population one) and 99th percentile (numpy's default: linear interpolation),
// in milliseconds; an empty set reads 0, as in vLLM. Then the reports of a
// run: markdown tables, vLLM's JSON keys, CSV.
//
// Apart from the HTTP client so that it needs no cpp-httplib: it builds into
// scout_lib everywhere, and its tests run without a server.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace scout::bench {

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

// A throughput table and a latency table (markdown, as `scout bench`), then
// each level's output token throughput relative to the base level.
std::string serving_markdown(const ServingReport& report);
// One object per level, vLLM's result keys (request_throughput, mean_ttft_ms, ...).
nlohmann::ordered_json serving_json(const ServingReport& report);
std::string serving_csv(const ServingReport& report);

}  // namespace scout::bench
