// The CUDA backend's matmul, routed experts, KV cache, attention and top k
// (cuda_backend.h), and the host fallbacks for weights left in host memory.
//
// matmul: up to 8 rows take a GEMV - quantized weights against 8-bit
// activations (dp4a) by default, f32 for float weights and with --exact -
// and more take a GEMM: bf16 tensor cores by default, f32 with --exact.
// moe_ffn: the (token, expert) pairs are grouped by expert on the device and
// the same GEMV / GEMM kernels run over the groups, reading each group's
// expert and rows from device memory; only the chosen experts' weights are read.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "backend/cuda/cuda_backend.h"

namespace scout::backend::cuda {

namespace k = scout::cuda;

namespace {

constexpr size_t kAlign = 256;
size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

template <class T>
T* ptr(const Tensor& t) { return static_cast<T*>(t.data); }

// Carves consecutive aligned pieces out of one scratch allocation.
class Carver {
 public:
  explicit Carver(void* base) : p_(static_cast<uint8_t*>(base)) {}
  template <class T>
  T* take(size_t n) {
    T* r = reinterpret_cast<T*>(p_ + at_);
    at_ += align_up(n * sizeof(T));
    return r;
  }
  static size_t size(std::initializer_list<size_t> bytes) {
    size_t s = 0;
    for (size_t b : bytes) s += align_up(b);
    return s;
  }

 private:
  uint8_t* p_;
  size_t at_ = 0;
};

}  // namespace

k::DeviceWeight CudaBackend::device_weight(const Weight& w, int64_t n_out) const {
  k::DeviceWeight d;
  d.type = w.type;
  d.data = w.data;
  d.row_bytes = w.row_bytes;
  d.n_in = w.n_in;
  d.n_out = n_out;
  return d;
}

bool CudaBackend::q8_path(TensorType t) const { return !exact_ && k::has_q8_gemv(t); }

void CudaBackend::gemv_rows(const k::DeviceWeight& w, const float* x, float* y, int64_t rows, const k::Grouping& g,
                            void* act) {
  if (q8_path(w.type)) {
    const k::ActQ8 a = k::act_q8_layout(act, w.type, rows, w.n_in);
    k::quantize_act(w.type, x, rows, w.n_in, a, stream_);
    k::gemv_q8(w, a, y, static_cast<int>(rows), g, stream_);
  } else {
    k::gemv_f32(w, x, y, static_cast<int>(rows), g, stream_);
  }
}

void CudaBackend::matmul(const Weight& w, const Tensor& x, const Tensor& y) {
  check_shape("matmul (x)", x, x.rows, w.n_in);
  check_shape("matmul (y)", y, x.rows, w.n_out);
  if (x.data == y.data && x.rows > 0) throw std::logic_error("matmul: y aliases x");
  if (x.rows == 0) return;
  if (w.on_host) return host_matmul(w, x, y);
  const k::DeviceWeight dw = device_weight(w, w.n_out);
  if (x.rows <= k::kGemvMaxRows) {
    void* act = q8_path(w.type) ? scratch(k::act_q8_bytes(w.type, x.rows, w.n_in)) : nullptr;
    gemv_rows(dw, ptr<float>(x), ptr<float>(y), x.rows, {}, act);
  } else {
    k::gemm(dw, ptr<float>(x), ptr<float>(y), x.rows, !exact_, {}, stream_);
  }
}

void CudaBackend::moe_ffn(const ExpertWeights& w, const Tensor& experts, const Tensor& weights,
                          RouteWeighting weighting, const Tensor& x, const Tensor& out) {
  const int64_t n = x.rows, d = x.cols, kk = experts.cols;
  const int E = w.n_expert;
  if (E < 1 || w.gate.n_out % E != 0 || w.down.n_out % E != 0)
    throw std::logic_error(fmt::format("moe_ffn: {} experts in matrices of {} and {} rows", E, w.gate.n_out, w.down.n_out));
  const int64_t F = w.gate.n_out / E;
  check_shape("moe_ffn (experts)", experts, n, kk, DType::I32);
  check_shape("moe_ffn (weights)", weights, n, kk);
  check_shape("moe_ffn (out)", out, n, w.down.n_out / E);
  if (w.gate.n_in != d || w.up.n_in != d || w.up.n_out != w.gate.n_out || w.down.n_in != F || out.cols != d)
    throw std::logic_error("moe_ffn: expert matrices do not fit the activations");
  if (n == 0 || kk == 0) return;
  if (w.gate.on_host || w.up.on_host || w.down.on_host) return host_moe_ffn(w, experts, weights, weighting, x, out);

  const int64_t P = n * kk;
  const bool gemv = n <= k::kGemvMaxRows;  // each expert then has at most n <= 8 rows: one GEMV tile
  const int tile = gemv ? k::kGemvMaxRows : k::kGemmTileRows;
  const int64_t max_tiles = k::moe_max_tiles_for(P, E, tile);
  const bool q8_in = gemv && (q8_path(w.gate.type) || q8_path(w.up.type));
  const bool q8_out = gemv && q8_path(w.down.type);
  // The gate's and the up matrix's 8-bit activations may differ in block size.
  const size_t act_g = q8_in && q8_path(w.gate.type) ? k::act_q8_bytes(w.gate.type, P, d) : 0;
  const size_t act_u = q8_in && q8_path(w.up.type) ? k::act_q8_bytes(w.up.type, P, d) : 0;
  const size_t act_d = q8_out ? k::act_q8_bytes(w.down.type, P, F) : 0;
  const size_t p4 = static_cast<size_t>(P) * 4, pd = static_cast<size_t>(P * d) * 4, pf = static_cast<size_t>(P * F) * 4;
  const size_t bytes =
      Carver::size({p4, p4, p4, static_cast<size_t>(max_tiles) * sizeof(k::RowTile), 4, pd, pd, pf, pf, act_g, act_u, act_d});
  Carver c(scratch(bytes));
  auto* clamped = c.take<int32_t>(static_cast<size_t>(P));
  auto* sorted = c.take<int32_t>(static_cast<size_t>(P));
  auto* pos = c.take<int32_t>(static_cast<size_t>(P));
  auto* tiles = c.take<k::RowTile>(static_cast<size_t>(max_tiles));
  auto* n_tiles = c.take<int32_t>(1);
  auto* xin = c.take<float>(static_cast<size_t>(P * d));
  auto* ys = c.take<float>(static_cast<size_t>(P * d));
  auto* gbuf = c.take<float>(static_cast<size_t>(P * F));
  auto* ubuf = c.take<float>(static_cast<size_t>(P * F));
  void* ag = c.take<uint8_t>(act_g);
  void* au = c.take<uint8_t>(act_u);
  void* ad = c.take<uint8_t>(act_d);

  k::moe_group(ptr<int32_t>(experts), P, E, tile, clamped, sorted, pos, tiles, n_tiles, err_dev_, stream_);
  k::moe_gather(ptr<float>(x), d, sorted, static_cast<int>(kk),
                weighting == RouteWeighting::Input ? ptr<float>(weights) : nullptr, P, xin, stream_);
  const k::Grouping gg{tiles, n_tiles, max_tiles, static_cast<size_t>(F) * w.gate.row_bytes};
  const k::Grouping gu{tiles, n_tiles, max_tiles, static_cast<size_t>(F) * w.up.row_bytes};
  const k::Grouping gd{tiles, n_tiles, max_tiles, static_cast<size_t>(d) * w.down.row_bytes};
  const k::DeviceWeight wg = device_weight(w.gate, F), wu = device_weight(w.up, F), wd = device_weight(w.down, d);
  if (gemv) {
    gemv_rows(wg, xin, gbuf, P, gg, ag);
    gemv_rows(wu, xin, ubuf, P, gu, au);
  } else {
    k::gemm(wg, xin, gbuf, P, !exact_, gg, stream_);
    k::gemm(wu, xin, ubuf, P, !exact_, gu, stream_);
  }
  k::swiglu(gbuf, ubuf, gbuf, P * F, stream_);
  if (gemv)
    gemv_rows(wd, gbuf, ys, P, gd, ad);
  else
    k::gemm(wd, gbuf, ys, P, !exact_, gd, stream_);
  k::moe_combine(ys, d, ptr<int32_t>(experts), weighting == RouteWeighting::Output ? ptr<float>(weights) : nullptr, pos,
                 n, static_cast<int>(kk), ptr<float>(out), stream_);
}

void CudaBackend::check_pass(const KvPass& kv, int layer, int64_t rows, const char* op) const {
  if (kv.pool != pass_.pool || kv.segs.size() != pass_.n_segs || rows != pass_.n_rows || kv.n_layer != pass_.n_layer)
    throw std::logic_error(fmt::format("{}: not the pass given to begin_pass", op));
  if (layer < 0 || layer >= kv.n_layer) throw std::logic_error(fmt::format("{}: layer {} of {}", op, layer, kv.n_layer));
}

namespace {

k::KvGeom geom(const KvLayout& L) {
  k::KvGeom g;
  g.block_size = L.block_size;
  g.n_head_kv = L.n_head_kv;
  g.head_dim_k = L.head_dim_k;
  g.head_dim_v = L.head_dim_v;
  g.f16 = L.types.k == KvType::F16 ? 1 : 0;  // make_kv_pool admits f16 or f32, the same for K and V
  return g;
}

}  // namespace

void CudaBackend::kv_write(const KvPass& kv, int layer, const Tensor& kt, const Tensor& vt) {
  const KvLayout& L = kv.pool->layout();
  check_shape("kv_write (k)", kt, kt.rows, int64_t{L.n_head_kv} * L.head_dim_k);
  check_shape("kv_write (v)", vt, kt.rows, int64_t{L.n_head_kv} * L.head_dim_v);
  check_pass(kv, layer, kt.rows, "kv_write");
  k::kv_write(pass_dev_, layer, geom(L), ptr<float>(kt), ptr<float>(vt), kt.rows, stream_);
}

void CudaBackend::attention(const KvPass& kv, int layer, const Tensor& q, const AttentionParams& p, const Tensor& out) {
  const KvLayout& L = kv.pool->layout();
  check_shape("attention (q)", q, q.rows, int64_t{p.n_head} * p.head_dim_k);
  check_shape("attention (out)", out, q.rows, int64_t{p.n_head} * p.head_dim_v);
  check_pass(kv, layer, q.rows, "attention");
  if (p.n_head_kv != L.n_head_kv || p.head_dim_k != L.head_dim_k || p.head_dim_v != L.head_dim_v || p.n_head_kv < 1 ||
      p.n_head % p.n_head_kv != 0)
    throw std::logic_error("attention: the heads do not match the KV cache");
  k::AttnArgs a;
  a.n_head = p.n_head;
  a.n_head_kv = p.n_head_kv;
  a.head_dim_k = p.head_dim_k;
  a.head_dim_v = p.head_dim_v;
  a.scale = p.scale;
  a.chunk = p.chunk_size;
  // A few rows per sequence (decode steps): split-K over the keys, fixed for
  // the shape; longer runs (prompts): flash attention over query tiles.
  if (q.rows <= 4 * static_cast<int64_t>(pass_.n_segs)) {
    const int splits = k::attention_splits(q.rows, p.n_head, p.n_head_kv, n_sm_);
    auto* part = static_cast<float*>(scratch(k::attention_decode_scratch(q.rows, p.n_head, p.head_dim_v, splits)));
    k::attention_decode(pass_dev_, layer, geom(L), a, ptr<float>(q), q.rows, splits, part, ptr<float>(out), stream_);
  } else {
    k::attention_prefill(pass_dev_, layer, geom(L), a, ptr<float>(q), q.rows, ptr<float>(out), stream_);
  }
}

void CudaBackend::top_k(const Tensor& x, const Tensor& ids, const Tensor& values) {
  const int64_t kk = ids.cols;
  check_shape("top_k (ids)", ids, x.rows, kk, DType::I32);
  check_shape("top_k (values)", values, x.rows, kk);
  if (kk < 1 || kk > x.cols) throw std::logic_error(fmt::format("top_k: {} of {}", kk, x.cols));
  if (x.rows == 0) return;
  const size_t bytes = k::top_k_scratch_bytes(x.rows, x.cols, static_cast<int>(kk));
  if (bytes == 0) {  // k beyond the kernels' reach: on the host
    need_host("top_k on the host");
    std::vector<float> hx(static_cast<size_t>(x.size())), hv(static_cast<size_t>(values.size()));
    std::vector<int32_t> hi(static_cast<size_t>(ids.size()));
    download(hx.data(), x);
    cpu_->top_k(Tensor{hx.data(), DType::F32, x.rows, x.cols}, Tensor{hi.data(), DType::I32, ids.rows, kk},
                Tensor{hv.data(), DType::F32, values.rows, kk});
    upload(ids, hi.data());
    return upload(values, hv.data());
  }
  k::top_k(ptr<float>(x), x.rows, x.cols, static_cast<int>(kk), scratch(bytes), ptr<int32_t>(ids), ptr<float>(values),
           stream_);
}

// --- weights left in host memory: the CPU computes, on copies ---

void CudaBackend::host_matmul(const Weight& w, const Tensor& x, const Tensor& y) {
  need_host("matmul with host weights");
  std::vector<float> hx(static_cast<size_t>(x.size())), hy(static_cast<size_t>(y.size()));
  download(hx.data(), x);
  Weight hw = w;
  hw.data = w.host;
  cpu_->matmul(hw, Tensor{hx.data(), DType::F32, x.rows, x.cols}, Tensor{hy.data(), DType::F32, y.rows, y.cols});
  upload(y, hy.data());
}

void CudaBackend::host_moe_ffn(const ExpertWeights& w, const Tensor& experts, const Tensor& weights,
                               RouteWeighting weighting, const Tensor& x, const Tensor& out) {
  need_host("moe_ffn with host weights");
  std::vector<float> hx(static_cast<size_t>(x.size())), hw(static_cast<size_t>(weights.size())),
      ho(static_cast<size_t>(out.size()));
  std::vector<int32_t> he(static_cast<size_t>(experts.size()));
  download(hx.data(), x);
  download(he.data(), experts);
  download(hw.data(), weights);
  download(ho.data(), out);
  ExpertWeights hwts = w;  // every matrix read from its host bytes
  for (Weight* m : {&hwts.gate, &hwts.up, &hwts.down}) m->data = m->host;
  cpu_->moe_ffn(hwts, Tensor{he.data(), DType::I32, experts.rows, experts.cols},
                Tensor{hw.data(), DType::F32, weights.rows, weights.cols}, weighting,
                Tensor{hx.data(), DType::F32, x.rows, x.cols}, Tensor{ho.data(), DType::F32, out.rows, out.cols});
  upload(out, ho.data());
}

// --- the vision encoder's ops: on the host until they have kernels ---
// Each copies its operands down, runs the CPU backend's op and copies the
// result up: correct, and slow only next to the encoder's matrix products,
// which run on the GPU.

namespace {
std::vector<float> host_copy(CudaBackend& be, const Tensor& t) {
  std::vector<float> h(static_cast<size_t>(t.size()));
  if (!t.empty()) be.download(h.data(), t);
  return h;
}
Tensor host_view(std::vector<float>& h, const Tensor& t) {
  return t.empty() ? Tensor{} : Tensor{h.data(), DType::F32, t.rows, t.cols};
}
}  // namespace

void CudaBackend::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out, float eps) {
  need_host("layer_norm on the host");
  std::vector<float> hx = host_copy(*this, x), hw = host_copy(*this, weight), hb = host_copy(*this, bias);
  std::vector<float> ho(static_cast<size_t>(out.size()));
  cpu_->layer_norm(host_view(hx, x), host_view(hw, weight), host_view(hb, bias), host_view(ho, out), eps);
  upload(out, ho.data());
}

void CudaBackend::add_row(const Tensor& y, const Tensor& row) {
  need_host("add_row on the host");
  std::vector<float> hy = host_copy(*this, y), hr = host_copy(*this, row);
  cpu_->add_row(host_view(hy, y), host_view(hr, row));
  upload(y, hy.data());
}

void CudaBackend::gelu(const Tensor& x, const Tensor& out) {
  need_host("gelu on the host");
  std::vector<float> hx = host_copy(*this, x);
  cpu_->gelu(host_view(hx, x), host_view(hx, x));
  upload(out, hx.data());
}

void CudaBackend::attention_dense(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                                  int64_t seq_len, const Tensor& out) {
  need_host("attention_dense on the host");
  std::vector<float> hq = host_copy(*this, q), hk = host_copy(*this, k), hv = host_copy(*this, v);
  std::vector<float> ho(static_cast<size_t>(out.size()));
  cpu_->attention_dense(host_view(hq, q), host_view(hk, k), host_view(hv, v), p, seq_len, host_view(ho, out));
  upload(out, ho.data());
}

}  // namespace scout::backend::cuda
