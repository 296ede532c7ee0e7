#include "runtime/profiling_backend.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace scout::runtime {

namespace {

using Clock = std::chrono::steady_clock;

struct OpStats {
  int64_t calls = 0;
  double seconds = 0;
  double weight_bytes = 0;  // matmuls: bytes of weights read
};

// "blk.3.ffn_gate_exps.weight" -> "ffn_gate_exps": one line per role, not per layer.
std::string role(std::string_view name) {
  if (name.starts_with("blk.")) {
    const size_t dot = name.find('.', 4);
    if (dot != std::string_view::npos) name.remove_prefix(dot + 1);
  }
  if (name.ends_with(".weight")) name.remove_suffix(7);
  return std::string(name);
}

class ProfilingBackend final : public Backend {
 public:
  explicit ProfilingBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}
  ~ProfilingBackend() override { report(); }

  std::string name() const override { return inner_->name(); }

  void matmul(const WeightView& w, const float* x, float* y, int64_t n_rows) override {
    OpStats& s = time(fmt::format("matmul {} {}", role(w.name), type_name(w.type)),
                      [&] { inner_->matmul(w, x, y, n_rows); });
    s.weight_bytes += static_cast<double>(w.row_bytes) * static_cast<double>(w.n_out);
  }
  void get_rows(const WeightView& w, const int32_t* ids, int64_t n, float* out) override {
    time("get_rows", [&] { inner_->get_rows(w, ids, n, out); });
  }
  void rmsnorm(const float* x, const float* weight, float* out, int64_t n_rows, int64_t n, float eps) override {
    time("rmsnorm", [&] { inner_->rmsnorm(x, weight, out, n_rows, n, eps); });
  }
  void rope(float* x, int64_t n_rows, int n_heads, int head_dim, int rope_dim, const float* cos_sin) override {
    time("rope", [&] { inner_->rope(x, n_rows, n_heads, head_dim, rope_dim, cos_sin); });
  }
  void scale_rows(float* x, const float* factor, int64_t n_rows, int64_t n) override {
    time("scale_rows", [&] { inner_->scale_rows(x, factor, n_rows, n); });
  }
  void add(float* y, const float* x, int64_t n) override {
    time("add", [&] { inner_->add(y, x, n); });
  }
  void swiglu(const float* gate, const float* up, float* out, int64_t n) override {
    time("swiglu", [&] { inner_->swiglu(gate, up, out, n); });
  }
  void softmax(float* x, int64_t n_rows, int64_t n) override {
    time("softmax", [&] { inner_->softmax(x, n_rows, n); });
  }
  void attention(const float* q, const int32_t* pos, int64_t n_rows, const KvLayerView& kv, const AttentionParams& p,
                 float* out) override {
    time("attention", [&] { inner_->attention(q, pos, n_rows, kv, p, out); });
  }

 private:
  template <typename F>
  OpStats& time(const std::string& key, F&& f) {
    const auto t0 = Clock::now();
    f();
    const auto t1 = Clock::now();
    if (calls_ == 0) first_ = t0;
    last_ = t1;
    ++calls_;
    OpStats& s = ops_[key];
    s.calls++;
    s.seconds += std::chrono::duration<double>(t1 - t0).count();
    return s;
  }

  void report() const {
    if (calls_ == 0) return;
    const double span = std::chrono::duration<double>(last_ - first_).count();
    std::vector<std::pair<std::string, OpStats>> rows(ops_.begin(), ops_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    double in_ops = 0;
    std::string table = fmt::format("{:<36} {:>9} {:>10} {:>7} {:>10} {:>9}\n", "op", "calls", "ms", "%", "us/call",
                                    "GB/s");
    for (const auto& [key, s] : rows) {
      in_ops += s.seconds;
      table += fmt::format("{:<36} {:>9} {:>10.2f} {:>6.1f}% {:>10.2f} {:>9}\n", key, s.calls, s.seconds * 1e3,
                           100.0 * s.seconds / span, 1e6 * s.seconds / static_cast<double>(s.calls),
                           s.weight_bytes > 0 ? fmt::format("{:.1f}", s.weight_bytes / s.seconds / 1e9) : "");
    }
    table += fmt::format("{:<36} {:>9} {:>10.2f} {:>6.1f}%\n", "(between ops: model code)", "", (span - in_ops) * 1e3,
                         100.0 * (span - in_ops) / span);
    spdlog::info("profile of {} backend calls over {:.1f} ms (first call to last):\n{}", calls_, span * 1e3, table);
  }

  std::unique_ptr<Backend> inner_;
  std::map<std::string, OpStats> ops_;
  int64_t calls_ = 0;
  Clock::time_point first_, last_;
};

}  // namespace

std::unique_ptr<Backend> make_profiling_backend(std::unique_ptr<Backend> inner) {
  return std::make_unique<ProfilingBackend>(std::move(inner));
}

bool profiling_requested() {
  const char* v = std::getenv("SCOUT_PROFILE");
  return v && *v && std::string_view(v) != "0";
}

}  // namespace scout::runtime
