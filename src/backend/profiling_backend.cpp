#include "backend/profiling_backend.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "gguf/tensor_names.h"

namespace scout::backend {

namespace {

using Clock = std::chrono::steady_clock;

struct OpStats {
  int64_t calls = 0;
  double seconds = 0;
  double weight_bytes = 0;  // matmuls: bytes of weights read
};

class ProfilingBackend final : public Backend {
 public:
  explicit ProfilingBackend(std::shared_ptr<Backend> inner) : inner_(std::move(inner)) {}
  ~ProfilingBackend() override { report(); }

  std::string name() const override { return inner_->name(); }
  void set_compute_options(const ComputeOptions& o) override { inner_->set_compute_options(o); }

  // Memory and setup pass through untimed (Buffers belong to the inner backend).
  Buffer alloc(DType dtype, int64_t rows, int64_t cols) override { return inner_->alloc(dtype, rows, cols); }
  void upload(const Tensor& dst, const void* src) override { inner_->upload(dst, src); }
  void download(void* dst, const Tensor& src) override { inner_->download(dst, src); }
  void synchronize() override { inner_->synchronize(); }
  Buffer place_weight(Weight& w, bool keep_on_host) override { return inner_->place_weight(w, keep_on_host); }
  Buffer place_constant(DType dtype, const void* host, int64_t rows, int64_t cols) override {
    return inner_->place_constant(dtype, host, rows, cols);
  }
  std::unique_ptr<KvPool> make_kv_pool(const KvLayout& layout, const KvStorage& storage) override {
    return inner_->make_kv_pool(layout, storage);
  }
  // Not recorded (key 0): each op is timed on its own, which a replayed
  // recording would hide; the inner backend still sees the pass.
  void run_pass(uint64_t, const std::function<void()>& ops) override { inner_->run_pass(0, ops); }
  bool rounds_groups_alone() const override { return inner_->rounds_groups_alone(); }
  void begin_pass(const KvPass& kv) override { inner_->begin_pass(kv); }

  void matmul(const Weight& w, const Tensor& x, const Tensor& y) override {
    OpStats& s = time(fmt::format("matmul {} {}", names::role_of(w.name), type_name(w.type)),
                      [&] { inner_->matmul(w, x, y); });
    s.weight_bytes += static_cast<double>(w.bytes());
  }
  void embed(const Weight& w, const Tensor& ids, const Tensor& out) override {
    time("embed", [&] { inner_->embed(w, ids, out); });
  }
  void gather_rows(const Tensor& src, const Tensor& ids, const Tensor& out) override {
    time("gather_rows", [&] { inner_->gather_rows(src, ids, out); });
  }
  void rmsnorm(const Tensor& x, const Tensor& weight, const Tensor& out, float eps) override {
    time("rmsnorm", [&] { inner_->rmsnorm(x, weight, out, eps); });
  }
  void rope_table(const Tensor& pos, const Tensor& theta, const Tensor& out) override {
    time("rope_table", [&] { inner_->rope_table(pos, theta, out); });
  }
  void rope(const Tensor& x, const Tensor& table, int head_dim) override {
    time("rope", [&] { inner_->rope(x, table, head_dim); });
  }
  void attn_temperature(const Tensor& pos, double floor_scale, double scale, const Tensor& out) override {
    time("attn_temperature", [&] { inner_->attn_temperature(pos, floor_scale, scale, out); });
  }
  void scale_rows(const Tensor& x, const Tensor& factor) override {
    time("scale_rows", [&] { inner_->scale_rows(x, factor); });
  }
  void add(const Tensor& y, const Tensor& x) override { time("add", [&] { inner_->add(y, x); }); }
  void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
    time("swiglu", [&] { inner_->swiglu(gate, up, out); });
  }
  void fill_zero(const Tensor& x) override { time("fill_zero", [&] { inner_->fill_zero(x); }); }
  void route(const Tensor& logits, Gating gating, const Tensor& experts, const Tensor& weights) override {
    time("route", [&] { inner_->route(logits, gating, experts, weights); });
  }
  void moe_ffn(const ExpertWeights& w, const Tensor& experts, const Tensor& weights, RouteWeighting weighting,
               const Tensor& x, const Tensor& out) override {
    time(fmt::format("moe_ffn {}", type_name(w.gate.type)),
         [&] { inner_->moe_ffn(w, experts, weights, weighting, x, out); });
  }
  void kv_write(const KvPass& kv, int layer, const Tensor& k, const Tensor& v) override {
    time("kv_write", [&] { inner_->kv_write(kv, layer, k, v); });
  }
  void attention(const KvPass& kv, int layer, const Tensor& q, const AttentionParams& p, const Tensor& out) override {
    time("attention", [&] { inner_->attention(kv, layer, q, p, out); });
  }
  void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out, float eps) override {
    time("layer_norm", [&] { inner_->layer_norm(x, weight, bias, out, eps); });
  }
  void add_row(const Tensor& y, const Tensor& row) override { time("add_row", [&] { inner_->add_row(y, row); }); }
  void gelu(const Tensor& x, const Tensor& out) override { time("gelu", [&] { inner_->gelu(x, out); }); }
  void attention_dense(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p, int64_t seq_len,
                       const Tensor& out) override {
    time("attention_dense", [&] { inner_->attention_dense(q, k, v, p, seq_len, out); });
  }
  void top_k(const Tensor& x, const Tensor& ids, const Tensor& values) override {
    time("top_k", [&] { inner_->top_k(x, ids, values); });
  }

 protected:
  void free(void*) override {}  // never called: Buffers are the inner backend's

 private:
  template <typename F>
  OpStats& time(const std::string& key, F&& f) {
    const auto t0 = Clock::now();
    f();
    inner_->synchronize();  // a GPU's op is done only then
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

  std::shared_ptr<Backend> inner_;
  std::map<std::string, OpStats> ops_;
  int64_t calls_ = 0;
  Clock::time_point first_, last_;
};

}  // namespace

std::shared_ptr<Backend> make_profiling_backend(std::shared_ptr<Backend> inner) {
  return std::make_shared<ProfilingBackend>(std::move(inner));
}

bool profiling_requested() {
  const char* v = std::getenv("SCOUT_PROFILE");
  return v && *v && std::string_view(v) != "0";
}

}  // namespace scout::backend
