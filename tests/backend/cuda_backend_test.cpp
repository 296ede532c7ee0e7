// The CUDA backend against the CPU backend: op by op on random inputs, every
// weight type the GPU reads, the routed experts, the KV cache and attention
// over multi-sequence passes, whole forward passes (prompt and decode steps,
// which replay recorded graphs), host-placed weights (--cpu-moe, -ngl), and
// the external oracle. These need a GPU and skip themselves, saying why, when
// none is visible (CI has none); the device selection tests run everywhere.
//
// Tolerances, per path:
// - f32 (float weights, --exact, attention, norms): the same products, added
//   in another order, so a dot product of n terms agrees within a few ulp of
//   sum |w x|: 1e-5 of that sum (n <= 2048 here).
// - 8-bit GEMV (quantized weights, <= 8 rows, the default): the activations
//   are rounded exactly as the CPU rounds them and each block's integer sum
//   is the CPU's, so only the float scaling (fused or not) and the order of
//   the blocks' sum differ: 1e-5 of sum |w x| against the CPU's 8-bit path.
// - bf16 GEMM (> 8 rows, the default): both operands rounded to 8-bit
//   mantissas (relative error <= 2^-9 each), so each product is within
//   2^-8 + 2^-18 of itself: 4e-3 of sum |w x| against the CPU's exact path.
// - Composite ops (moe_ffn, forward passes) carry those errors through
//   several matmuls; exact runs are held to 1e-4 of the output's scale.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "backend/device.h"
#include "engine/kv_cache.h"
#include "engine/session.h"
#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "models/model.h"
#include "sampling/sampler.h"
#include "tensor/dequant.h"
#include "tensor/quant.h"
#include "test_util.h"
#ifdef SCOUT_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace scout::backend {
namespace {

bool have_gpu(std::string* why) { return cuda_device_count(why) > 0; }

#define SKIP_WITHOUT_GPU()                      \
  do {                                          \
    std::string why_;                           \
    if (!have_gpu(&why_)) GTEST_SKIP() << why_; \
  } while (0)

using test::random_floats;

ComputeOptions opts(bool quantize) { return {1, quantize}; }

// Tensors on a backend from host values, kept alive by the holder.
struct Tensors {
  Backend& be;
  std::vector<Buffer> keep;
  template <class T>
  Tensor put(const std::vector<T>& v, DType t, int64_t rows, int64_t cols) {
    keep.push_back(be.alloc(t, rows, cols));
    const Tensor x = keep.back().tensor();
    if (!v.empty()) be.upload(x, v.data());
    return x;
  }
  Tensor zeros(DType t, int64_t rows, int64_t cols) {
    keep.push_back(be.alloc(t, rows, cols));
    be.fill_zero(keep.back().tensor());
    return keep.back().tensor();
  }
  template <class T = float>
  std::vector<T> get(const Tensor& x) {
    std::vector<T> v(static_cast<size_t>(x.size()));
    be.download(v.data(), x);
    return v;
  }
};

// A weight matrix of random values stored as `type`.
struct TestWeight {
  std::vector<uint8_t> bytes;
  Weight w;  // on the CPU: data = the bytes
};

TestWeight make_weight(TensorType type, int64_t n_out, int64_t n_in, uint32_t seed) {
  TestWeight t;
  const std::vector<float> values = random_floats(static_cast<size_t>(n_out * n_in), seed, 0.5f);
  const size_t rb = row_bytes(type, static_cast<uint64_t>(n_in));
  t.bytes.resize(rb * n_out);
  for (int64_t r = 0; r < n_out; ++r) {
    if (type == TensorType::F32)
      std::memcpy(t.bytes.data() + r * rb, values.data() + r * n_in, rb);
    else
      quantize_row(type, values.data() + r * n_in, t.bytes.data() + r * rb, n_in);
  }
  t.w.name = "test";
  t.w.type = type;
  t.w.n_in = n_in;
  t.w.n_out = n_out;
  t.w.row_bytes = rb;
  t.w.host = t.w.data = t.bytes.data();
  t.w.on_host = true;
  return t;
}

// max over outputs of |a - b| / sum_i |w_oi x_ti|: the error relative to the
// dot product's own magnitude.
double matmul_rel_err(const Weight& w, const std::vector<float>& x, const std::vector<float>& a,
                      const std::vector<float>& b, int64_t n_rows) {
  std::vector<float> row(static_cast<size_t>(w.n_in));
  double worst = 0;
  for (int64_t o = 0; o < w.n_out; ++o) {
    dequantize_row(w.type, w.host + o * w.row_bytes, row.data(), w.n_in);
    for (int64_t t = 0; t < n_rows; ++t) {
      double mag = 0;
      for (int64_t i = 0; i < w.n_in; ++i) mag += std::abs(static_cast<double>(row[i]) * x[t * w.n_in + i]);
      const size_t k = static_cast<size_t>(t * w.n_out + o);
      worst = std::max(worst, std::abs(static_cast<double>(a[k]) - b[k]) / std::max(mag, 1e-30));
    }
  }
  return worst;
}

// max |a - b| / max(1, max |b|).
double scaled_err(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0, scale = 1;
  for (size_t i = 0; i < b.size(); ++i) {
    m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::abs(b[i])));
  }
  return a.size() == b.size() ? m / scale : 1e30;
}

const std::vector<TensorType> kGpuTypes = {
    TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
    TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K, TensorType::Q3_K,
    TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS};

class CudaMatmul : public ::testing::TestWithParam<TensorType> {};

// Row counts on both sides of the GEMV/GEMM switch and past a GEMM tile,
// output counts that are not multiples of a tile or a warp group.
TEST_P(CudaMatmul, MatchesCpu) {
  SKIP_WITHOUT_GPU();
  const TensorType type = GetParam();
  const bool quantized = type_traits(type).quantized;
  const int64_t block = std::max<int64_t>(type_traits(type).block_size, 32);
  auto gpu = make_cuda_backend(opts(true)), gpu_exact = make_cuda_backend(opts(false));
  auto cpu = make_cpu_backend(opts(true)), cpu_exact = make_cpu_backend(opts(false));
  for (const int64_t n_in : {block, block * 3, int64_t{2048}}) {
    for (const int64_t n_out : {1, 37, 130}) {
      TestWeight tw = make_weight(type, n_out, n_in, 11);
      Weight wg = tw.w;
      const Buffer placed = gpu->place_weight(wg, false);
      ASSERT_FALSE(wg.on_host) << type_name(type);
      for (const int64_t n_rows : {1, 3, 8, 9, 64, 67}) {
        const std::vector<float> x = random_floats(static_cast<size_t>(n_rows * n_in), 5);
        std::vector<float> want(static_cast<size_t>(n_rows * n_out)), want_q(want.size());
        cpu_exact->matmul(tw.w, Tensor{const_cast<float*>(x.data()), DType::F32, n_rows, n_in},
                          Tensor{want.data(), DType::F32, n_rows, n_out});
        cpu->matmul(tw.w, Tensor{const_cast<float*>(x.data()), DType::F32, n_rows, n_in},
                    Tensor{want_q.data(), DType::F32, n_rows, n_out});
        for (Backend* be : {gpu.get(), gpu_exact.get()}) {
          Tensors t{*be, {}};
          const Tensor dx = t.put(x, DType::F32, n_rows, n_in), dy = t.zeros(DType::F32, n_rows, n_out);
          be->matmul(wg, dx, dy);
          const std::vector<float> got = t.get(dy);
          const bool exact = be == gpu_exact.get();
          const std::string what = std::string(exact ? "exact " : "") + std::string(type_name(type)) + " " +
                                   std::to_string(n_out) + "x" + std::to_string(n_in) + " rows " + std::to_string(n_rows);
          if (exact || n_rows <= 8) {
            // f32, or the 8-bit GEMV against the CPU's 8-bit path: rounding only.
            EXPECT_LT(matmul_rel_err(tw.w, x, got, exact || !quantized ? want : want_q, n_rows), 1e-5) << what;
          } else {
            EXPECT_LT(matmul_rel_err(tw.w, x, got, want, n_rows), 4e-3) << what;  // bf16 tensor cores
          }
        }
      }
    }
  }
}

TEST_P(CudaMatmul, EmbedIsTheDequantizedRow) {
  SKIP_WITHOUT_GPU();
  const TensorType type = GetParam();
  TestWeight tw = make_weight(type, 50, std::max<int64_t>(type_traits(type).block_size, 32) * 2, 3);
  auto gpu = make_cuda_backend(opts(true));
  auto cpu = make_cpu_backend(opts(true));
  Weight wg = tw.w;
  const Buffer placed = gpu->place_weight(wg, false);
  const std::vector<int32_t> ids = {0, 49, 7, 7, 23};
  const int64_t n = static_cast<int64_t>(ids.size());
  std::vector<float> want(static_cast<size_t>(n * tw.w.n_in));
  cpu->embed(tw.w, Tensor{const_cast<int32_t*>(ids.data()), DType::I32, n, 1}, Tensor{want.data(), DType::F32, n, tw.w.n_in});
  Tensors t{*gpu, {}};
  const Tensor out = t.zeros(DType::F32, n, tw.w.n_in);
  gpu->embed(wg, t.put(ids, DType::I32, n, 1), out);
  EXPECT_EQ(t.get(out), want) << type_name(type);  // decoding is exact on both sides
}

INSTANTIATE_TEST_SUITE_P(Types, CudaMatmul, ::testing::ValuesIn(kGpuTypes),
                         [](const ::testing::TestParamInfo<TensorType>& i) { return std::string(type_name(i.param)); });

TEST(CudaOps, ElementwiseMatchCpu) {
  SKIP_WITHOUT_GPU();
  auto gpu = make_cuda_backend(opts(true));
  auto cpu = make_cpu_backend(opts(true));
  Tensors t{*gpu, {}};
  const int64_t rows = 5, n = 600;  // n not a multiple of a block of threads
  std::vector<float> x = random_floats(rows * n, 1), up = random_floats(rows * n, 2), nw = random_floats(n, 3);
  auto host = [](std::vector<float>& v, int64_t r, int64_t c) { return Tensor{v.data(), DType::F32, r, c}; };
  for (const bool with_weight : {true, false}) {
    for (const int64_t cols : {n, int64_t{60}}) {  // a block per row, and a warp per row (QK norm)
      const int64_t r = rows * n / cols;
      std::vector<float> want(x.size());
      cpu->rmsnorm(host(x, r, cols), with_weight ? host(nw, 1, cols) : Tensor{}, host(want, r, cols), 1e-5f);
      const Tensor dx = t.put(x, DType::F32, r, cols), dw = t.put(nw, DType::F32, 1, n).prefix(1, cols);
      gpu->rmsnorm(dx, with_weight ? dw : Tensor{}, dx, 1e-5f);
      EXPECT_LT(scaled_err(t.get(dx), want), 1e-5) << "rmsnorm " << cols;
    }
  }
  {
    std::vector<int32_t> pos = {0, 5, 8191, 8192, 9999999};
    std::vector<double> theta = {1.0, 0.3, 1e-3, 1e-6};
    const int64_t np = static_cast<int64_t>(pos.size());
    std::vector<float> table(np * 8), temp(np);
    cpu->rope_table(Tensor{pos.data(), DType::I32, np, 1}, Tensor{theta.data(), DType::F64, 1, 4}, host(table, np, 8));
    cpu->attn_temperature(Tensor{pos.data(), DType::I32, np, 1}, 8192.0, 0.1, host(temp, np, 1));
    const Tensor dpos = t.put(pos, DType::I32, np, 1), dth = t.put(theta, DType::F64, 1, 4);
    const Tensor dtab = t.zeros(DType::F32, np, 8), dtemp = t.zeros(DType::F32, np, 1);
    gpu->rope_table(dpos, dth, dtab);
    gpu->attn_temperature(dpos, 8192.0, 0.1, dtemp);
    EXPECT_LT(scaled_err(t.get(dtab), table), 1e-7) << "rope_table";
    EXPECT_EQ(t.get(dtemp), temp) << "attn_temperature";
    // rope: 3 heads of 10 dims, the table rotating the first 8 of each.
    std::vector<float> v = random_floats(np * 30, 9), vw = v;
    cpu->rope(host(vw, np, 30), host(table, np, 8), 10);
    const Tensor dv = t.put(v, DType::F32, np, 30);
    gpu->rope(dv, dtab, 10);
    EXPECT_LT(scaled_err(t.get(dv), vw), 1e-6) << "rope";
  }
  {
    std::vector<float> f = {0.5f, 2.0f, -1.0f, 3.0f, 0.0f}, a = x;
    cpu->scale_rows(host(a, rows, n), host(f, rows, 1));
    const Tensor dx = t.put(x, DType::F32, rows, n);
    gpu->scale_rows(dx, t.put(f, DType::F32, rows, 1));
    EXPECT_EQ(t.get(dx), a) << "scale_rows";
    cpu->add(host(a, rows, n), host(up, rows, n));
    gpu->add(dx, t.put(up, DType::F32, rows, n));
    EXPECT_EQ(t.get(dx), a) << "add";
    std::vector<float> s(x.size());
    cpu->swiglu(host(x, rows, n), host(up, rows, n), host(s, rows, n));
    const Tensor dg = t.put(x, DType::F32, rows, n);
    gpu->swiglu(dg, t.put(up, DType::F32, rows, n), dg);
    EXPECT_LT(scaled_err(t.get(dg), s), 1e-5) << "swiglu";
    gpu->fill_zero(dg);
    EXPECT_EQ(t.get(dg), std::vector<float>(x.size(), 0.0f)) << "fill_zero";
    std::vector<int32_t> ids = {4, 0, 4};
    std::vector<float> g(3 * n);
    cpu->gather_rows(host(x, rows, n), Tensor{ids.data(), DType::I32, 3, 1}, host(g, 3, n));
    const Tensor dgr = t.zeros(DType::F32, 3, n);
    gpu->gather_rows(t.put(x, DType::F32, rows, n), t.put(ids, DType::I32, 3, 1), dgr);
    EXPECT_EQ(t.get(dgr), g) << "gather_rows";
  }
}

// Routing with tied logits: the same experts in the same order, gates to rounding.
TEST(CudaOps, RouteMatchesCpu) {
  SKIP_WITHOUT_GPU();
  auto gpu = make_cuda_backend(opts(true));
  auto cpu = make_cpu_backend(opts(true));
  Tensors t{*gpu, {}};
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> level(-4, 4);
  for (const int64_t E : {4, 16, 128})
    for (const int64_t k : {1, 2, 8}) {
      if (k > E) continue;
      const int64_t n = 70;
      std::vector<float> logits(n * E);
      for (float& v : logits) v = 0.5f * level(rng);
      for (const Gating g : {Gating::Sigmoid, Gating::SoftmaxTopK}) {
        std::vector<int32_t> ex(n * k);
        std::vector<float> wt(n * k);
        cpu->route(Tensor{logits.data(), DType::F32, n, E}, g, Tensor{ex.data(), DType::I32, n, k},
                   Tensor{wt.data(), DType::F32, n, k});
        const Tensor dex = t.zeros(DType::I32, n, k), dwt = t.zeros(DType::F32, n, k);
        gpu->route(t.put(logits, DType::F32, n, E), g, dex, dwt);
        EXPECT_EQ(t.get<int32_t>(dex), ex) << E << " " << k;
        EXPECT_LT(scaled_err(t.get(dwt), wt), 1e-6) << E << " " << k;
      }
    }
}

// Sampling's top k over a vocabulary-sized row with ties, including k past
// the kernels' reach (computed on the host).
TEST(CudaOps, TopKMatchesCpu) {
  SKIP_WITHOUT_GPU();
  auto gpu = make_cuda_backend(opts(true));
  auto cpu = make_cpu_backend(opts(true));
  Tensors t{*gpu, {}};
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> level(-3000, 3000);
  for (const int64_t cols : {50, 5000, 202048}) {
    const int64_t n = 3;
    std::vector<float> x(n * cols);
    for (float& v : x) v = 0.01f * level(rng);
    x[1] = -std::numeric_limits<float>::infinity();
    const Tensor dx = t.put(x, DType::F32, n, cols);
    for (const int64_t k : {1, 40, 256, 300}) {
      if (k > cols) continue;
      std::vector<int32_t> ids(n * k);
      std::vector<float> vals(n * k);
      cpu->top_k(Tensor{x.data(), DType::F32, n, cols}, Tensor{ids.data(), DType::I32, n, k},
                 Tensor{vals.data(), DType::F32, n, k});
      const Tensor di = t.zeros(DType::I32, n, k), dv = t.zeros(DType::F32, n, k);
      gpu->top_k(dx, di, dv);
      EXPECT_EQ(t.get<int32_t>(di), ids) << cols << " " << k;
      EXPECT_EQ(t.get(dv), vals) << cols << " " << k;
    }
  }
}

TEST(CudaOps, EmbedIdOutOfRangeIsReported) {
  SKIP_WITHOUT_GPU();
  auto gpu = make_cuda_backend(opts(true));
  TestWeight tw = make_weight(TensorType::Q8_0, 10, 64, 1);
  Weight wg = tw.w;
  const Buffer placed = gpu->place_weight(wg, false);
  Tensors t{*gpu, {}};
  const Tensor out = t.zeros(DType::F32, 2, 64);
  gpu->embed(wg, t.put(std::vector<int32_t>{3, 10}, DType::I32, 2, 1), out);
  std::vector<float> h(128);
  EXPECT_THROW(gpu->download(h.data(), out), std::out_of_range);
  gpu->embed(wg, t.put(std::vector<int32_t>{3, 9}, DType::I32, 2, 1), out);
  EXPECT_NO_THROW(gpu->download(h.data(), out));  // the error was cleared
}

// The routed experts against the CPU's, every path: GEMV (<= 8 tokens) and
// grouped GEMM, 8-bit and exact, input and output weighting, out += .
TEST(CudaMoe, MatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int64_t d = 256, F = 512;
  for (const TensorType type : {TensorType::F16, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K, TensorType::IQ4_XS})
    for (const int E : {4, 16})
      for (const int64_t k : {1, 2})
        for (const bool quantize : {false, true}) {
          auto gpu = make_cuda_backend(opts(quantize));
          auto cpu = make_cpu_backend(opts(quantize));
          TestWeight g = make_weight(type, F * E, d, 1), u = make_weight(type, F * E, d, 2),
                     dn = make_weight(type, d * E, F, 3);
          ExpertWeights cw{g.w, u.w, dn.w, E}, gw = cw;
          const Buffer b1 = gpu->place_weight(gw.gate, false), b2 = gpu->place_weight(gw.up, false),
                       b3 = gpu->place_weight(gw.down, false);
          for (const int64_t n : {1, 3, 8, 9, 67})
            for (const RouteWeighting rw : {RouteWeighting::Input, RouteWeighting::Output}) {
              std::vector<float> logits = random_floats(n * E, 10 + n), x = random_floats(n * d, 20 + n),
                                 out0 = random_floats(n * d, 30 + n);
              std::vector<int32_t> ex(n * k);
              std::vector<float> wt(n * k), want = out0;
              cpu->route(Tensor{logits.data(), DType::F32, n, E}, Gating::Sigmoid, Tensor{ex.data(), DType::I32, n, k},
                         Tensor{wt.data(), DType::F32, n, k});
              cpu->moe_ffn(cw, Tensor{ex.data(), DType::I32, n, k}, Tensor{wt.data(), DType::F32, n, k}, rw,
                           Tensor{x.data(), DType::F32, n, d}, Tensor{want.data(), DType::F32, n, d});
              Tensors t{*gpu, {}};
              const Tensor dout = t.put(out0, DType::F32, n, d);
              gpu->moe_ffn(gw, t.put(ex, DType::I32, n, k), t.put(wt, DType::F32, n, k), rw, t.put(x, DType::F32, n, d),
                           dout);
              // Exact: f32 either side. 8-bit: the same activations for <= 8
              // tokens (a rounding step apart where an input moved by an ulp),
              // bf16 against 8-bit activations for more.
              const double tol = !quantize ? 1e-4 : n <= 8 ? 5e-3 : 3e-2;
              EXPECT_LT(scaled_err(t.get(dout), want), tol)
                  << type_name(type) << " E " << E << " k " << k << " n " << n << (quantize ? " q8" : " exact")
                  << (rw == RouteWeighting::Input ? " input" : " output");
            }
        }
}

// kv_write + attention over passes of several sequences: prompts in pieces
// (flash attention), decode steps (split-K), chunked and global layers, f16
// and f32 caches, grouped-query heads, blocks smaller than a key tile.
TEST(CudaAttention, MatchesCpuOverMultiSequencePasses) {
  SKIP_WITHOUT_GPU();
  struct Shape {
    int n_head, n_head_kv, dk, dv;
  };
  for (const Shape sh : {Shape{10, 2, 64, 64}, Shape{16, 2, 128, 80}, Shape{4, 4, 32, 32}})
    for (const KvType type : {KvType::F16, KvType::F32}) {
      auto gpu = make_cuda_backend(opts(true));
      auto cpu = make_cpu_backend(opts(true));
      engine::KvCacheConfig c;
      c.n_layer = 2;
      c.n_head_kv = static_cast<uint32_t>(sh.n_head_kv);
      c.head_dim_k = static_cast<uint32_t>(sh.dk);
      c.head_dim_v = static_cast<uint32_t>(sh.dv);
      c.layer_chunk = {24, 0};
      c.types = type;
      c.block_size = 16;
      c.n_seq = 3;
      engine::KvCache gkv(c, *gpu), ckv(c, *cpu);
      KvPass gp, cp;
      // Passes: prompts of different lengths, then steps of every sequence.
      std::vector<std::vector<engine::SeqRows>> passes = {{{0, 20}, {1, 5}}, {{2, 24}}, {{0, 4}, {1, 19}, {2, 1}}};
      for (int s = 0; s < 30; ++s) passes.push_back({{0, 1}, {1, 1}, {2, 1}});
      passes.push_back({{1, 7}});          // prefill inside a chunk: seq 1 at 54..60 (chunk 48..71)
      passes.push_back({{0, 2}, {2, 3}});  // split-K with several rows per sequence
      uint32_t seed = 100;
      for (const auto& rows : passes) {
        int64_t n = 0;
        for (const auto& r : rows) n += r.n;
        for (const auto& r : rows) {
          gkv.append(r.seq, r.n);
          ckv.append(r.seq, r.n);
        }
        gkv.describe(rows, gp);
        ckv.describe(rows, cp);
        gpu->begin_pass(gp);
        Tensors t{*gpu, {}};
        for (int layer = 0; layer < 2; ++layer) {
          AttentionParams p;
          p.n_head = sh.n_head;
          p.n_head_kv = sh.n_head_kv;
          p.head_dim_k = sh.dk;
          p.head_dim_v = sh.dv;
          p.scale = 1.0f / std::sqrt(static_cast<float>(sh.dk));
          p.chunk_size = layer == 0 ? 24 : 0;
          std::vector<float> kk = random_floats(n * sh.n_head_kv * sh.dk, seed++), vv = random_floats(n * sh.n_head_kv * sh.dv, seed++),
                             q = random_floats(n * sh.n_head * sh.dk, seed++);
          std::vector<float> want(n * sh.n_head * sh.dv);
          cpu->kv_write(cp, layer, Tensor{kk.data(), DType::F32, n, sh.n_head_kv * sh.dk},
                        Tensor{vv.data(), DType::F32, n, sh.n_head_kv * sh.dv});
          cpu->attention(cp, layer, Tensor{q.data(), DType::F32, n, sh.n_head * sh.dk}, p,
                         Tensor{want.data(), DType::F32, n, sh.n_head * sh.dv});
          gpu->kv_write(gp, layer, t.put(kk, DType::F32, n, sh.n_head_kv * sh.dk),
                        t.put(vv, DType::F32, n, sh.n_head_kv * sh.dv));
          const Tensor dout = t.zeros(DType::F32, n, sh.n_head * sh.dv);
          gpu->attention(gp, layer, t.put(q, DType::F32, n, sh.n_head * sh.dk), p, dout);
          const std::vector<float> got = t.get(dout);
          double m = 0;
          for (size_t i = 0; i < got.size(); ++i) m = std::max(m, static_cast<double>(std::abs(got[i] - want[i])));
          ASSERT_LT(m, 1e-4) << "heads " << sh.n_head << "/" << sh.n_head_kv << " dims " << sh.dk << "/" << sh.dv
                             << (type == KvType::F16 ? " f16" : " f32") << " layer " << layer << " rows " << n;
        }
      }
    }
}

// --- whole forward passes ---

std::string make_test_model(const test::TempDir& dir, const char* wt, int n_layer = 4) {
  const std::string path = dir.path(std::string("m-") + wt + ".gguf");
  const nlohmann::json cfg = {{"arch", "llama4"}, {"n_layer", n_layer}, {"d_model", 256}, {"n_head", 4},
                              {"n_head_kv", 2}, {"head_dim", 64}, {"n_expert", 4}, {"n_expert_used", 1},
                              {"expert_ff", 256}, {"dense_ff", 512}, {"chunk_size", 32}, {"context_length", 4096},
                              {"weight_type", wt}, {"vocab", {{"builtin", true}}}};
  maker::make_model(maker::parse_model_config(cfg), 3, path);
  return path;
}

// Logits of a prompt (every row) and then of 6 decode steps, one pass each.
std::vector<float> run_session(const Model& m, bool quantize, const std::vector<int32_t>& prompt) {
  engine::SessionOptions o;
  o.quantize_activations = quantize;
  o.n_threads = 2;
  engine::Session s(m, o);
  std::vector<float> all = s.eval(prompt, true);
  int32_t next = prompt.back();
  for (int i = 0; i < 6; ++i) {
    const std::vector<float> l = s.eval(std::span<const int32_t>(&next, 1));
    all.insert(all.end(), l.begin(), l.end());
    next = static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
  }
  return all;
}

std::shared_ptr<Backend> gpu_backend(bool quantize) { return std::shared_ptr<Backend>(make_cuda_backend(opts(quantize))); }

LoadOptions on(std::shared_ptr<Backend> be, Placement placement = {}) {
  LoadOptions o;
  o.backend = std::move(be);
  o.placement = placement;
  return o;
}

TEST(CudaForward, LogitsMatchCpuOnEveryWeightType) {
  SKIP_WITHOUT_GPU();
  for (const char* wt : {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_K", "q5_K", "q6_K", "q2_K", "iq4_xs"}) {
    test::TempDir dir;
    const std::string path = make_test_model(dir, wt);
    const auto cpu_model = Model::load(path, on(std::shared_ptr<Backend>(make_cpu_backend())));
    const auto gpu_model = Model::load(path, on(gpu_backend(false)));
    // 80 tokens: past a chunk boundary (32), prompt batches on both attention paths.
    const std::vector<int32_t> tokens = test::random_tokens(80, cpu_model->hparams().n_vocab, 9);
    const std::vector<float> a = run_session(*cpu_model, false, tokens), b = run_session(*gpu_model, false, tokens);
    // Exact on both sides (f32, f16 KV): summation order only.
    EXPECT_LT(scaled_err(b, a), 1e-4) << wt;
    // The default path: 8-bit GEMV and bf16 prompts against the CPU's 8-bit path.
    const std::vector<float> aq = run_session(*cpu_model, true, tokens), bq = run_session(*gpu_model, true, tokens);
    EXPECT_LT(scaled_err(bq, aq), 5e-2) << wt << " (8-bit activations)";
  }
}

// --cpu-moe and -ngl: the same logits with weights left in host memory.
TEST(CudaForward, HostPlacedWeightsMatch) {
  SKIP_WITHOUT_GPU();
  test::TempDir dir;
  const std::string path = make_test_model(dir, "q8_0");
  const auto cpu_model = Model::load(path, on(std::shared_ptr<Backend>(make_cpu_backend())));
  const std::vector<int32_t> tokens = test::random_tokens(40, cpu_model->hparams().n_vocab, 4);
  const std::vector<float> want = run_session(*cpu_model, false, tokens);
  for (const Placement pl : {Placement{.cpu_moe = true}, Placement{.n_gpu_layers = 1}, Placement{.n_gpu_layers = 0}}) {
    const auto m = Model::load(path, on(gpu_backend(false), pl));
    EXPECT_LT(scaled_err(run_session(*m, false, tokens), want), 1e-4)
        << "cpu_moe " << pl.cpu_moe << " ngl " << pl.n_gpu_layers;
  }
}

// A recorded decode step replays to the same logits as the same step run op by
// op (expert statistics force op-by-op passes), step after step as the context grows.
TEST(CudaForward, GraphReplayEqualsEager) {
  SKIP_WITHOUT_GPU();
  test::TempDir dir;
  const std::string path = make_test_model(dir, "q4_K");
  auto be = gpu_backend(true);
  const auto m = Model::load(path, on(be));
  const std::vector<int32_t> prompt = test::random_tokens(20, m->hparams().n_vocab, 2);
  engine::Session recorded(*m), eager(*m);
  ExpertStats stats(m->hparams());
  eager.set_expert_stats(&stats);
  std::vector<float> a = recorded.eval(prompt), b = eager.eval(prompt);
  for (int step = 0; step < 40; ++step) {  // crosses the 32-token chunk boundary
    ASSERT_EQ(a, b) << "step " << step;
    const int32_t next = static_cast<int32_t>(std::max_element(a.begin(), a.end()) - a.begin());
    a = recorded.eval(std::span<const int32_t>(&next, 1));
    b = eager.eval(std::span<const int32_t>(&next, 1));
  }
#ifdef SCOUT_HAVE_CUDA
  EXPECT_GT(dynamic_cast<cuda::CudaBackend&>(*be).recorded_passes(), 0u);
#endif
  // Several sequences per step (batch decoding), replayed too.
  engine::SessionOptions o;
  o.n_seq = 3;
  engine::Session multi(*m, o);
  for (uint32_t s = 0; s < 3; ++s) multi.eval_seq(s, std::span(prompt).first(5 + 3 * s));
  std::vector<engine::SeqToken> steps = {{0, 1}, {1, 2}, {2, 3}};
  for (int i = 0; i < 5; ++i) {
    const std::vector<float> l = multi.decode(steps);
    ASSERT_EQ(l.size(), 3 * static_cast<size_t>(m->hparams().n_vocab));
    for (auto& st : steps) st.token = (st.token * 7 + i) % static_cast<int32_t>(m->hparams().n_vocab);
  }
}

// Device selection, on any machine.
TEST(DeviceSelection, NamesAndResolution) {
  EXPECT_EQ(parse_device("cpu"), Device::Cpu);
  EXPECT_EQ(parse_device("cuda"), Device::Cuda);
  EXPECT_EQ(parse_device("auto"), Device::Auto);
  EXPECT_FALSE(parse_device("gpu").has_value());
  EXPECT_EQ(resolve_device(Device::Cpu), Device::Cpu);
  std::string why;
  const bool gpu = cuda_device_count(&why) > 0;
  // auto stays on the CPU until the CUDA backend is verified on a GPU (device.cpp).
  EXPECT_EQ(resolve_device(Device::Auto), Device::Cpu);
  EXPECT_EQ(shared_backend(Device::Auto)->name(), "cpu");
  if (gpu) {
    EXPECT_EQ(shared_backend(Device::Cuda)->name(), "cuda");
    EXPECT_FALSE(cuda_memory(0).name.empty());
  } else {
    EXPECT_FALSE(why.empty());
    EXPECT_EQ(cuda_memory(0).total, 0u);
    try {
      resolve_device(Device::Cuda);
      ADD_FAILURE() << "--device cuda without a GPU must throw";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("--device cuda"), std::string::npos) << e.what();
    }
    EXPECT_THROW(make_cuda_backend({}), std::runtime_error);
  }
}

TEST(DeviceSelection, CommandLine) {
  // The Llama 4 default, named (`run` alone uses stories260K).
  const std::string model = test::default_model_path();
  const test::CommandResult bad = test::run_scout({"run", "-m", model, "-p", "hi", "-n", "2", "--device", "gpu"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--device"), std::string::npos) << bad.err;
  const test::CommandResult cpu = test::run_scout({"run", "-m", model, "-p", "hi", "-n", "2", "--device", "cpu"});
  EXPECT_EQ(cpu.exit_code, 0) << cpu.err;
  const test::CommandResult cuda = test::run_scout({"run", "-m", model, "-p", "hi", "-n", "2", "--device", "cuda"});
  if (cuda_device_count() > 0) {
    EXPECT_EQ(cuda.exit_code, 0) << cuda.err;
    EXPECT_FALSE(cuda.out.empty());
  } else {
    // One error line naming the flag, and the usage error's exit status.
    EXPECT_EQ(cuda.exit_code, 2) << cuda.err;
    EXPECT_NE(cuda.err.find("--device cuda"), std::string::npos) << cuda.err;
    EXPECT_EQ(std::count(cuda.err.begin(), cuda.err.end(), '\n'), 1) << cuda.err;
  }
}

}  // namespace
}  // namespace scout::backend
