#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace scout::server {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, count_);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, sum_, name, count_);
}

namespace {
// Seconds, from a fast decode step on a small model to a long prompt on a big one.
std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}
}  // namespace

Metrics::Metrics() : ttft_(latency_buckets()), itl_(latency_buckets()) {}

void Metrics::request_done(const std::string& endpoint, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{endpoint, status}];
}

void Metrics::tokens(int64_t prompt, int64_t cached, int64_t generated) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += static_cast<uint64_t>(prompt);
  cached_tokens_ += static_cast<uint64_t>(cached);
  generated_tokens_ += static_cast<uint64_t>(generated);
}

void Metrics::time_to_first_token(double seconds) {
  std::lock_guard lock(mu_);
  ttft_.observe(seconds);
}

void Metrics::inter_token_latency(double seconds) {
  std::lock_guard lock(mu_);
  itl_.observe(seconds);
}

void Metrics::gauges(size_t queued, size_t busy_slots, size_t slots, size_t kv_bytes) {
  std::lock_guard lock(mu_);
  queued_ = queued;
  busy_ = busy_slots;
  slots_ = slots;
  kv_bytes_ = kv_bytes;
}

void Metrics::expert_counts(const std::vector<std::vector<uint64_t>>& counts) {
  std::lock_guard lock(mu_);
  experts_ = counts;
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  header(out, "scout_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
  for (const auto& [key, n] : requests_)
    out += fmt::format("scout_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
  header(out, "scout_prompt_tokens_total", "counter", "Prompt positions of started requests (image rows included).");
  out += fmt::format("scout_prompt_tokens_total {}\n", prompt_tokens_);
  header(out, "scout_prompt_tokens_cached_total", "counter", "Prompt positions reused from a slot's KV cache.");
  out += fmt::format("scout_prompt_tokens_cached_total {}\n", cached_tokens_);
  header(out, "scout_generated_tokens_total", "counter", "Tokens generated.");
  out += fmt::format("scout_generated_tokens_total {}\n", generated_tokens_);
  header(out, "scout_time_to_first_token_seconds", "histogram", "From a request's arrival to its first generated token.");
  ttft_.render(out, "scout_time_to_first_token_seconds");
  header(out, "scout_inter_token_latency_seconds", "histogram", "Between successive tokens of one choice.");
  itl_.render(out, "scout_inter_token_latency_seconds");
  header(out, "scout_queue_length", "gauge", "Requests waiting for a slot.");
  out += fmt::format("scout_queue_length {}\n", queued_);
  header(out, "scout_slots_busy", "gauge", "Slots running a request.");
  out += fmt::format("scout_slots_busy {}\n", busy_);
  header(out, "scout_slots_total", "gauge", "Slots (--parallel).");
  out += fmt::format("scout_slots_total {}\n", slots_);
  header(out, "scout_kv_cache_bytes", "gauge", "Bytes of KV cache blocks held by slots.");
  out += fmt::format("scout_kv_cache_bytes {}\n", kv_bytes_);
  if (!experts_.empty()) {
    header(out, "scout_expert_routed_tokens_total", "counter",
           "Tokens routed to each expert, per MoE layer (prompt and generated).");
    for (size_t l = 0; l < experts_.size(); ++l)
      for (size_t e = 0; e < experts_[l].size(); ++e)  // dense layers have none
        out += fmt::format("scout_expert_routed_tokens_total{{layer=\"{}\",expert=\"{}\"}} {}\n", l, e, experts_[l][e]);
  }
  return out;
}

}  // namespace scout::server
