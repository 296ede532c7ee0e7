// The CPU backend: tensors in host memory, OpenMP across rows, heads and
// output tiles. Matrix products are cpu_matmul.cpp's, attention
// cpu_attention.cpp's, the KV blocks cpu_kv.cpp's; the rest is here.
#include <omp.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <span>
#include <stdexcept>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_attention.h"
#include "backend/cpu/cpu_kv.h"
#include "backend/cpu/cpu_math.h"
#include "backend/cpu/cpu_matmul.h"

namespace scout::backend {

namespace {

using cpu::CpuMatmul;

template <class T>
T* ptr(const Tensor& t) { return static_cast<T*>(t.data); }

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const ComputeOptions& o) { set_compute_options(o); }

  std::string name() const override { return "cpu"; }
  void set_compute_options(const ComputeOptions& o) override {
    mm_.set_options(o.n_threads > 0 ? o.n_threads : omp_get_max_threads(), o.quantize_activations);
  }

  // --- memory ---
  Buffer alloc(DType dtype, int64_t rows, int64_t cols) override {
    Tensor t{nullptr, dtype, rows, cols};
    // 64-byte aligned (a cache line, one AVX-512 vector), rounded up as aligned_alloc requires.
    const size_t bytes = std::max<size_t>(64, (t.bytes() + 63) / 64 * 64);
    t.data = std::aligned_alloc(64, bytes);
    if (!t.data) throw std::bad_alloc();
    return Buffer(this, t);
  }
  void upload(const Tensor& dst, const void* src) override { std::memcpy(dst.data, src, dst.bytes()); }
  void download(void* dst, const Tensor& src) override { std::memcpy(dst, src.data, src.bytes()); }
  Buffer place_weight(Weight& w, bool) override {
    w.data = w.host;  // the file's bytes, used in place
    w.on_host = true;
    return {};
  }
  Buffer place_constant(DType dtype, const void* host, int64_t rows, int64_t cols) override {
    return Buffer(nullptr, Tensor{const_cast<void*>(host), dtype, rows, cols});
  }
  std::unique_ptr<KvPool> make_kv_pool(const KvLayout& layout, const KvStorage& storage) override {
    return std::make_unique<cpu::CpuKvPool>(layout, storage.dir);
  }
  // The pass's sequences are its row groups (backend.h): kernels are picked per group.
  void begin_pass(const KvPass& kv) override {
    pass_groups_.clear();
    pass_row_group_.clear();
    for (const KvSegment& s : kv.segs) {
      pass_groups_.push_back(s.n_rows);
      pass_row_group_.insert(pass_row_group_.end(), static_cast<size_t>(s.n_rows),
                             static_cast<int32_t>(pass_groups_.size() - 1));
    }
  }
  void run_pass(uint64_t, const std::function<void()>& ops) override {
    struct InPass {  // the groups apply inside the pass only, even if an op throws
      bool& flag;
      explicit InPass(bool& f) : flag(f) { flag = true; }
      ~InPass() { flag = false; }
    } in_pass(in_pass_);
    ops();
  }
  bool rounds_groups_alone() const override { return true; }

  // --- ops ---
  void matmul(const Weight& w, const Tensor& x, const Tensor& y) override {
    check_shape("matmul (x)", x, x.rows, w.n_in);
    check_shape("matmul (y)", y, x.rows, w.n_out);
    mm_.run(w, ptr<float>(x), ptr<float>(y), x.rows, groups_of(x.rows));
  }

  void embed(const Weight& w, const Tensor& ids, const Tensor& out) override {
    check_shape("embed (ids)", ids, ids.rows, 1, DType::I32);
    check_shape("embed (out)", out, ids.rows, w.n_in);
    const int32_t* id = ptr<int32_t>(ids);
    for (int64_t t = 0; t < ids.rows; ++t)
      if (id[t] < 0 || id[t] >= w.n_out) throw std::out_of_range(fmt::format("embed: row id {} of {}", id[t], w.n_out));
#pragma omp parallel for num_threads(threads_for(ids.rows)) schedule(static)
    for (int64_t t = 0; t < ids.rows; ++t) cpu::weight_row(w, id[t], ptr<float>(out) + t * w.n_in);
  }

  void gather_rows(const Tensor& src, const Tensor& ids, const Tensor& out) override {
    check_shape("gather_rows (ids)", ids, ids.rows, 1, DType::I32);
    check_shape("gather_rows (out)", out, ids.rows, src.cols, src.dtype);
    const size_t row = static_cast<size_t>(src.cols) * dtype_size(src.dtype);
    for (int64_t t = 0; t < ids.rows; ++t) {
      const int32_t r = ptr<int32_t>(ids)[t];
      if (r < 0 || r >= src.rows) throw std::out_of_range(fmt::format("gather_rows: row {} of {}", r, src.rows));
      std::memcpy(ptr<std::byte>(out) + t * row, ptr<std::byte>(src) + r * row, row);
    }
  }

  void rmsnorm(const Tensor& x, const Tensor& weight, const Tensor& out, float eps) override {
    check_shape("rmsnorm (out)", out, x.rows, x.cols);
    if (!weight.empty()) check_shape("rmsnorm (weight)", weight, 1, x.cols);
    const int64_t n = x.cols;
    const float* w = weight.empty() ? nullptr : ptr<float>(weight);
#pragma omp parallel for num_threads(threads_for(x.rows * n / 4096)) schedule(static)
    for (int64_t t = 0; t < x.rows; ++t) {
      const float* xt = ptr<float>(x) + t * n;
      float* ot = ptr<float>(out) + t * n;
      float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
      for (int64_t i = 0; i < n; ++i) ss += xt[i] * xt[i];
      const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
      if (w) {
        for (int64_t i = 0; i < n; ++i) ot[i] = xt[i] * inv * w[i];
      } else {
        for (int64_t i = 0; i < n; ++i) ot[i] = xt[i] * inv;
      }
    }
  }

  void rope_table(const Tensor& pos, const Tensor& theta, const Tensor& out) override {
    check_shape("rope_table (pos)", pos, pos.rows, 1, DType::I32);
    check_shape("rope_table (theta)", theta, 1, theta.cols, DType::F64);
    check_shape("rope_table (out)", out, pos.rows, 2 * theta.cols);
    const int64_t half = theta.cols;
    const double* th = ptr<double>(theta);
#pragma omp parallel for num_threads(threads_for(pos.rows * half / 256)) schedule(static)
    for (int64_t t = 0; t < pos.rows; ++t)
      for (int64_t i = 0; i < half; ++i) {
        const double angle = ptr<int32_t>(pos)[t] * th[i];
        ptr<float>(out)[(t * half + i) * 2] = static_cast<float>(std::cos(angle));
        ptr<float>(out)[(t * half + i) * 2 + 1] = static_cast<float>(std::sin(angle));
      }
  }

  void rope(const Tensor& x, const Tensor& table, int head_dim) override {
    check_shape("rope (table)", table, x.rows, table.cols);
    const int half = static_cast<int>(table.cols / 2);
    const int n_heads = static_cast<int>(x.cols / head_dim);
    if (x.cols % head_dim != 0 || 2 * half > head_dim) throw std::logic_error("rope: head_dim does not fit the tensor");
#pragma omp parallel for num_threads(threads_for(x.rows * x.cols / 4096)) schedule(static)
    for (int64_t t = 0; t < x.rows; ++t) {
      const float* cs = ptr<float>(table) + t * half * 2;
      for (int h = 0; h < n_heads; ++h) {
        float* v = ptr<float>(x) + (t * n_heads + h) * head_dim;
        for (int i = 0; i < half; ++i) {
          const float c = cs[2 * i], s = cs[2 * i + 1];
          const float a = v[2 * i], b = v[2 * i + 1];
          v[2 * i] = a * c - b * s;
          v[2 * i + 1] = a * s + b * c;
        }
      }
    }
  }

  void attn_temperature(const Tensor& pos, double floor_scale, double scale, const Tensor& out) override {
    check_shape("attn_temperature (out)", out, pos.rows, 1);
    for (int64_t t = 0; t < pos.rows; ++t)
      ptr<float>(out)[t] =
          static_cast<float>(1.0 + scale * std::log(std::floor((ptr<int32_t>(pos)[t] + 1.0) / floor_scale) + 1.0));
  }

  void scale_rows(const Tensor& x, const Tensor& factor) override {
    check_shape("scale_rows (factor)", factor, x.rows, 1);
    for (int64_t t = 0; t < x.rows; ++t)
      for (int64_t i = 0; i < x.cols; ++i) ptr<float>(x)[t * x.cols + i] *= ptr<float>(factor)[t];
  }

  void add(const Tensor& y, const Tensor& x) override {
    check_shape("add", x, y.rows, y.cols);
    const int64_t n = y.size();
    float* yp = ptr<float>(y);
    const float* xp = ptr<float>(x);
#pragma omp parallel for simd num_threads(threads_for(n / 16384)) schedule(static)
    for (int64_t i = 0; i < n; ++i) yp[i] += xp[i];
  }

  void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
    check_shape("swiglu (up)", up, gate.rows, gate.cols);
    check_shape("swiglu (out)", out, gate.rows, gate.cols);
    swiglu(ptr<float>(gate), ptr<float>(up), ptr<float>(out), gate.size());
  }

  void fill_zero(const Tensor& x) override { std::memset(x.data, 0, x.bytes()); }

  void route(const Tensor& logits, Gating gating, const Tensor& experts, const Tensor& weights) override {
    const int64_t n = logits.rows, k = experts.cols;
    const int E = static_cast<int>(logits.cols);
    check_shape("route (experts)", experts, n, k, DType::I32);
    check_shape("route (weights)", weights, n, k);
    if (k < 1 || k > E) throw std::logic_error(fmt::format("route: top {} of {} experts", k, E));
    std::vector<int32_t> idx(static_cast<size_t>(E));
    for (int64_t t = 0; t < n; ++t) {
      const float* l = ptr<float>(logits) + t * E;
      top_k_row(l, E, static_cast<int>(k), idx);
      int32_t* ex = ptr<int32_t>(experts) + t * k;
      float* wt = ptr<float>(weights) + t * k;
      for (int64_t j = 0; j < k; ++j) {
        ex[j] = idx[static_cast<size_t>(j)];
        wt[j] = l[ex[j]];
      }
      if (gating == Gating::Sigmoid) {
        for (int64_t j = 0; j < k; ++j) wt[j] = 1.0f / (1.0f + std::exp(-wt[j]));
      } else {  // softmax over the chosen logits (= over all, renormalised over the top k)
        const float top = wt[0];
        float sum = 0.0f;
        for (int64_t j = 0; j < k; ++j) sum += (wt[j] = std::exp(wt[j] - top));
        for (int64_t j = 0; j < k; ++j) wt[j] /= sum;
      }
    }
  }

  void moe_ffn(const ExpertWeights& w, const Tensor& experts, const Tensor& weights, RouteWeighting weighting,
               const Tensor& x, const Tensor& out) override;

  void kv_write(const KvPass& kv, int layer, const Tensor& k, const Tensor& v) override {
    const KvLayout& L = kv.pool->layout();
    check_shape("kv_write (k)", k, k.rows, int64_t{L.n_head_kv} * L.head_dim_k);
    check_shape("kv_write (v)", v, k.rows, int64_t{L.n_head_kv} * L.head_dim_v);
    for (size_t s = 0; s < kv.segs.size(); ++s) cpu::kv_store(kv, layer, s, ptr<float>(k), ptr<float>(v));
  }

  void attention(const KvPass& kv, int layer, const Tensor& q, const AttentionParams& p, const Tensor& out) override {
    check_shape("attention (q)", q, q.rows, int64_t{p.n_head} * p.head_dim_k);
    check_shape("attention (out)", out, q.rows, int64_t{p.n_head} * p.head_dim_v);
    std::vector<const std::byte*> blocks;
    std::vector<int32_t> pos;
    for (size_t s = 0; s < kv.segs.size(); ++s) {  // each sequence attends to its own cache
      const KvSegment& seg = kv.segs[s];
      pos.resize(static_cast<size_t>(seg.n_rows));
      std::iota(pos.begin(), pos.end(), static_cast<int32_t>(seg.first_pos));
      cpu::cpu_attention(ptr<float>(q) + seg.row * q.cols, pos.data(), seg.n_rows, cpu::kv_view(kv, layer, s, blocks), p,
                         ptr<float>(out) + seg.row * out.cols, mm_.n_threads());
    }
  }

  void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out, float eps) override {
    check_shape("layer_norm (out)", out, x.rows, x.cols);
    check_shape("layer_norm (weight)", weight, 1, x.cols);
    check_shape("layer_norm (bias)", bias, 1, x.cols);
    const int64_t n = x.cols;
    const float *w = ptr<float>(weight), *b = ptr<float>(bias);
#pragma omp parallel for num_threads(threads_for(x.rows * n / 4096)) schedule(static)
    for (int64_t t = 0; t < x.rows; ++t) {
      const float* xt = ptr<float>(x) + t * n;
      float* ot = ptr<float>(out) + t * n;
      double sum = 0.0;  // two passes in double: the mean first, then the variance about it
      for (int64_t i = 0; i < n; ++i) sum += xt[i];
      const double mean = sum / static_cast<double>(n);
      double ss = 0.0;
      for (int64_t i = 0; i < n; ++i) ss += (xt[i] - mean) * (xt[i] - mean);
      const auto inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
      const auto m = static_cast<float>(mean);
      for (int64_t i = 0; i < n; ++i) ot[i] = (xt[i] - m) * inv * w[i] + b[i];
    }
  }

  void add_row(const Tensor& y, const Tensor& row) override {
    check_shape("add_row (row)", row, 1, y.cols);
    const float* r = ptr<float>(row);
#pragma omp parallel for num_threads(threads_for(y.size() / 16384)) schedule(static)
    for (int64_t t = 0; t < y.rows; ++t) {
      float* yt = ptr<float>(y) + t * y.cols;
#pragma omp simd
      for (int64_t i = 0; i < y.cols; ++i) yt[i] += r[i];
    }
  }

  void gelu(const Tensor& x, const Tensor& out) override {
    check_shape("gelu (out)", out, x.rows, x.cols);
    const float* xp = ptr<float>(x);
    float* op = ptr<float>(out);
    const int64_t n = x.size();
    // 0.5 x (1 + erf(x / sqrt 2)), 16 lanes at a time, erf odd.
    constexpr float kInvSqrt2 = 0.70710678118654752f;
#pragma omp parallel for num_threads(threads_for(n / 8192)) schedule(static)
    for (int64_t i = 0; i < n / 16; ++i) {
      const cpu::F32x16 v = cpu::load16(xp + i * 16);
      const cpu::F32x16 e = cpu::erf_nonnegative((v < 0.0f ? -v : v) * kInvSqrt2);
      cpu::store16(op + i * 16, 0.5f * v * (1.0f + (v < 0.0f ? -e : e)));
    }
    for (int64_t i = n / 16 * 16; i < n; ++i) {
      const float e = cpu::erf_nonnegative(std::abs(xp[i]) * kInvSqrt2);
      op[i] = 0.5f * xp[i] * (1.0f + (xp[i] < 0.0f ? -e : e));
    }
  }

  void attention_dense(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p, int64_t seq_len,
                       const Tensor& out) override;

  void top_k(const Tensor& x, const Tensor& ids, const Tensor& values) override {
    const int64_t k = ids.cols;
    check_shape("top_k (ids)", ids, x.rows, k, DType::I32);
    check_shape("top_k (values)", values, x.rows, k);
    if (k < 1 || k > x.cols) throw std::logic_error(fmt::format("top_k: {} of {}", k, x.cols));
    std::vector<int32_t> idx(static_cast<size_t>(x.cols));
    for (int64_t t = 0; t < x.rows; ++t) {
      const float* r = ptr<float>(x) + t * x.cols;
      top_k_row(r, static_cast<int>(x.cols), static_cast<int>(k), idx);
      for (int64_t j = 0; j < k; ++j) {
        ptr<int32_t>(ids)[t * k + j] = idx[static_cast<size_t>(j)];
        ptr<float>(values)[t * k + j] = r[idx[static_cast<size_t>(j)]];
      }
    }
  }

 protected:
  void free(void* data) override { std::free(data); }

 private:
  int threads_for(int64_t work) const { return mm_.threads_for(work); }

  // The row groups of a matmul over n rows inside a pass (backend.h): the
  // pass's rows, one group per sequence; or one row per sequence (the output
  // head's last rows), each its own group. Outside a pass: one group.
  std::span<const int64_t> groups_of(int64_t n) {
    if (!in_pass_ || pass_groups_.size() < 2) return {};
    if (n == static_cast<int64_t>(pass_row_group_.size())) return pass_groups_;
    if (n == static_cast<int64_t>(pass_groups_.size())) {
      ones_.assign(static_cast<size_t>(n), 1);
      return ones_;
    }
    return {};
  }
  bool in_pass_ = false;
  std::vector<int64_t> pass_groups_, ones_;
  std::vector<int32_t> pass_row_group_;  // the group of each row of the pass

  std::unique_ptr<cpu::CpuKvPool> dense_kv_;  // attention_dense's keys and values, in f32

  // The k largest of v[0..n) into idx[0..k), descending, ties to the lower
  // index: one pass with a k-entry min-heap (most values fail its first
  // comparison), then the heap sorted. A vocabulary of 200K takes ~0.2 ms.
  static void top_k_row(const float* v, int n, int k, std::vector<int32_t>& idx) {
    const auto better = [&](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); };
    idx.clear();
    for (int32_t i = 0; i < n; ++i) {
      if (static_cast<int>(idx.size()) < k) {
        idx.push_back(i);
        std::push_heap(idx.begin(), idx.end(), better);  // the worst kept on top
      } else if (v[i] > v[idx.front()]) {  // equal values come later: a higher index, not better
        std::pop_heap(idx.begin(), idx.end(), better);
        idx.back() = i;
        std::push_heap(idx.begin(), idx.end(), better);
      }
    }
    std::sort(idx.begin(), idx.end(), better);
  }

  void swiglu(const float* gate, const float* up, float* out, int64_t n) {
    // silu(g) = g / (1 + e^-g), from e = e^-|g| <= 1 so the exp vectorises
    // (std::exp is a library call per element): g >= 0: g / (1 + e); g < 0: g e / (1 + e).
#pragma omp parallel for simd num_threads(threads_for(n / 16384)) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float g = gate[i];
      const float e = cpu::exp_nonpositive(g < 0.0f ? g : -g);
      out[i] = (g < 0.0f ? g * e : g) / (1.0f + e) * up[i];
    }
  }

  CpuMatmul mm_;
  // moe_ffn's scratch: one expert's tokens gathered, its gate/up products and output.
  std::vector<float> moe_in_, moe_gate_, moe_up_, moe_out_;
};

// Each run of seq_len rows is stored as one sequence's positions 0..seq_len-1
// in a scratch f32 KV pool, and the flash-attention kernel reads it with
// causality off: every query sees the whole run.
void CpuBackend::attention_dense(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                                 int64_t seq_len, const Tensor& out) {
  const int64_t qd = int64_t{p.n_head} * p.head_dim_k, vd = int64_t{p.n_head} * p.head_dim_v;
  check_shape("attention_dense (q)", q, q.rows, qd);
  check_shape("attention_dense (k)", k, q.rows, qd);
  check_shape("attention_dense (v)", v, q.rows, vd);
  check_shape("attention_dense (out)", out, q.rows, vd);
  if (p.n_head_kv != p.n_head || p.causal || seq_len <= 0 || q.rows % seq_len != 0)
    throw std::logic_error("attention_dense: needs n_head_kv = n_head, causal off and whole runs");
  KvLayout L;
  L.types = KvType::F32;
  L.n_head_kv = p.n_head;
  L.head_dim_k = p.head_dim_k;
  L.head_dim_v = p.head_dim_v;
  if (!dense_kv_ || !(dense_kv_->layout().types == L.types) || dense_kv_->layout().n_head_kv != L.n_head_kv ||
      dense_kv_->layout().head_dim_k != L.head_dim_k || dense_kv_->layout().head_dim_v != L.head_dim_v)
    dense_kv_ = std::make_unique<cpu::CpuKvPool>(L);
  const auto n_blocks = static_cast<int32_t>((seq_len + L.block_size - 1) / L.block_size);
  dense_kv_->reserve(n_blocks);
  KvPass pass;
  pass.pool = dense_kv_.get();
  pass.n_layer = 1;
  pass.segs = {{0, seq_len, 0}};
  pass.tables = {{0, seq_len, 0, n_blocks}};
  for (int32_t b = 0; b < n_blocks; ++b) pass.block_ids.push_back(b);
  std::vector<int32_t> pos(static_cast<size_t>(seq_len));
  std::iota(pos.begin(), pos.end(), 0);
  std::vector<const std::byte*> blocks;
  for (int64_t r0 = 0; r0 < q.rows; r0 += seq_len) {
    cpu::kv_store(pass, 0, 0, ptr<float>(k) + r0 * qd, ptr<float>(v) + r0 * vd);
    cpu::cpu_attention(ptr<float>(q) + r0 * qd, pos.data(), seq_len, cpu::kv_view(pass, 0, 0, blocks), p,
                       ptr<float>(out) + r0 * vd, mm_.n_threads());
  }
}

void CpuBackend::moe_ffn(const ExpertWeights& w, const Tensor& experts, const Tensor& weights,
                         RouteWeighting weighting, const Tensor& x, const Tensor& out) {
  const int64_t n = x.rows, d = x.cols, k = experts.cols;
  const int E = w.n_expert;
  const int64_t F = w.gate.n_out / E;
  check_shape("moe_ffn (experts)", experts, n, k, DType::I32);
  check_shape("moe_ffn (weights)", weights, n, k);
  check_shape("moe_ffn (out)", out, n, w.down.n_out / E);
  // (token, weight) pairs grouped by expert, tokens in order.
  std::vector<std::vector<std::pair<int64_t, float>>> users(static_cast<size_t>(E));
  for (int64_t i = 0; i < n * k; ++i) {
    const int32_t e = ptr<int32_t>(experts)[i];
    if (e < 0 || e >= E) throw std::out_of_range(fmt::format("moe_ffn: expert {} of {}", e, E));
    users[static_cast<size_t>(e)].emplace_back(i / k, ptr<float>(weights)[i]);
  }
  const float* xp = ptr<float>(x);
  float* op = ptr<float>(out);
  for (int e = 0; e < E; ++e) {
    const auto& u = users[static_cast<size_t>(e)];
    if (u.empty()) continue;
    const int64_t m = static_cast<int64_t>(u.size());
    // The expert's rows by sequence (they are in token order), so each
    // sequence's share runs the kernel it runs when its pass is its own.
    std::vector<int64_t> groups;
    if (in_pass_ && n == static_cast<int64_t>(pass_row_group_.size()))
      for (int64_t i = 0; i < m; ++i) {
        const int32_t g = pass_row_group_[static_cast<size_t>(u[i].first)];
        if (i > 0 && g == pass_row_group_[static_cast<size_t>(u[i - 1].first)]) ++groups.back();
        else groups.push_back(1);
      }
    float* in = cpu::thread_buffer(moe_in_, static_cast<size_t>(m * d));
    float* g = cpu::thread_buffer(moe_gate_, static_cast<size_t>(m * F));
    float* up = cpu::thread_buffer(moe_up_, static_cast<size_t>(m * F));
    float* y = cpu::thread_buffer(moe_out_, static_cast<size_t>(m * d));
#pragma omp parallel for num_threads(threads_for(m * d / 16384)) schedule(static)
    for (int64_t i = 0; i < m; ++i) {
      const float s = weighting == RouteWeighting::Input ? u[i].second : 1.0f;
      const float* src = xp + u[i].first * d;
      for (int64_t c = 0; c < d; ++c) in[i * d + c] = s * src[c];
    }
    mm_.run(w.gate.rows(e * F, F), in, g, m, groups);
    mm_.run(w.up.rows(e * F, F), in, up, m, groups);
    swiglu(g, up, g, m * F);
    mm_.run(w.down.rows(e * d, d), g, y, m, groups);
    // Rows of one expert are distinct tokens, so they scatter in parallel.
#pragma omp parallel for num_threads(threads_for(m * d / 16384)) schedule(static)
    for (int64_t i = 0; i < m; ++i) {
      const float s = weighting == RouteWeighting::Output ? u[i].second : 1.0f;
      float* dst = op + u[i].first * d;
      for (int64_t c = 0; c < d; ++c) dst[c] += s * y[i * d + c];
    }
  }
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ComputeOptions& o) { return std::make_unique<CpuBackend>(o); }

}  // namespace scout::backend
