// What `scout serve --metrics` exports at GET /metrics, in Prometheus' text
// format (version 0.0.4): request counts by endpoint and status, prompt,
// cached and generated tokens, time to first token and inter-token latency
// histograms, queue length, busy slots, KV bytes in use, and per-layer
// expert-routing counts (how often each routed expert was chosen: the load
// balance a MoE model actually sees on this traffic). One mutex guards it all:
// updates come a few per generated token, far below where that costs.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace scout::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // The metric's lines: NAME_bucket{le="..."} (cumulative), NAME_sum, NAME_count.
  void render(std::string& out, const std::string& name) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  void request_done(const std::string& endpoint, int status);
  void tokens(int64_t prompt, int64_t cached, int64_t generated);
  void time_to_first_token(double seconds);
  void inter_token_latency(double seconds);
  void gauges(size_t queued, size_t busy_slots, size_t slots, size_t kv_bytes);
  // counts[layer][expert], totals since start (the scheduler's own, copied in).
  void expert_counts(const std::vector<std::vector<uint64_t>>& counts);

  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0, cached_tokens_ = 0, generated_tokens_ = 0;
  Histogram ttft_, itl_;
  size_t queued_ = 0, busy_ = 0, slots_ = 0, kv_bytes_ = 0;
  std::vector<std::vector<uint64_t>> experts_;
};

}  // namespace scout::server
