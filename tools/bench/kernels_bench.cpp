// Google Benchmark micro-benchmarks of the CPU kernels (kernels/cpu), one
// thread: quantized GEMV (one activation row, how generation runs) and the
// 4-row form prompt batches use, per weight type and SIMD level, on a matrix
// that fits the L2 cache and one that has to come from DRAM. Reports weight
// bytes/s (compare with `scout bench --mem-bw`) and multiply-adds/s. And the
// CPU backend's attention over the paged KV cache per KV type, for a prompt
// batch and one decode step at depth, on all threads (flop/s). And the whole
// CPU matmul (quantizing, packing, kernel calls) on a 2048-square matrix, and
// the int8 multiply-add peak of one core, the ceiling for the GMAC/s above.
//   build/tools/scout_kernel_bench --benchmark_filter=q4_K
//   build/tools/scout_kernel_bench --benchmark_filter=attention/.*f16
#include <benchmark/benchmark.h>
#include <omp.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "backend/cpu/cpu_attention.h"
#include "backend/cpu/cpu_kv.h"
#include "backend/cpu/cpu_matmul.h"
#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/quant_dot.h"
#include "kernels/cpu/quant_gemm.h"
#include "tensor/quant.h"

namespace {

using scout::TensorType;
using namespace scout::kernels;

struct Matrix {
  std::vector<uint8_t> w, act;
  size_t row_bytes = 0, act_bytes = 0;
};

// A random n_out x n_in weight matrix of type t and kMaxActRows activation rows.
const Matrix& matrix(TensorType t, int64_t n_out, int64_t n_in) {
  static std::map<std::tuple<TensorType, int64_t, int64_t>, Matrix> cache;
  Matrix& m = cache[{t, n_out, n_in}];
  if (!m.w.empty()) return m;
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> row(static_cast<size_t>(n_in));
  m.row_bytes = scout::row_bytes(t, static_cast<uint64_t>(n_in));
  m.w.resize(m.row_bytes * n_out);
  for (int64_t r = 0; r < n_out; ++r) {
    if (r < 64)  // 64 distinct rows, repeated: quantizing all would take longer than the benchmark
      for (float& v : row) v = dist(rng);
    scout::quantize_row(t, row.data(), m.w.data() + m.row_bytes * (r % 64), n_in);
    if (r >= 64) std::copy_n(m.w.data() + m.row_bytes * (r % 64), m.row_bytes, m.w.data() + m.row_bytes * r);
  }
  const ActFormat f = quant_dot_scalar(t)->act;
  m.act_bytes = act_row_bytes(f, n_in);
  m.act.resize(m.act_bytes * kMaxActRows);
  for (int r = 0; r < kMaxActRows; ++r) {
    for (float& v : row) v = dist(rng);
    quantize_activations(f, row.data(), m.act.data() + r * m.act_bytes, n_in);
  }
  return m;
}

void BM_QuantDot(benchmark::State& state, TensorType t, CpuLevel level, int64_t n_out, int n_act) {
  if (!cpu_supports(level)) {
    state.SkipWithError("this CPU lacks the level");
    return;
  }
  const int64_t n_in = 2048;
  const Matrix& m = matrix(t, n_out, n_in);
  const QuantDot* k = quant_dot(t, level);
  std::vector<float> out(static_cast<size_t>(n_out * kMaxActRows));
  for (auto _ : state) {
    for (int64_t r = 0; r < n_out; ++r)
      k->fn(n_in, m.w.data() + r * m.row_bytes, m.act.data(), m.act_bytes, n_act, &out[r * kMaxActRows]);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(m.w.size()));
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(n_out * n_in * n_act) * state.iterations() / 1e9,
                                                benchmark::Counter::kIsRate);
}

// The prompt-batch form: 4 weight rows x a panel of kPanelTokens tokens per call.
void BM_QuantGemm(benchmark::State& state, TensorType t, CpuLevel level, int64_t n_out) {
  const QuantGemm* g = quant_gemm(t, level);
  if (!cpu_supports(level) || !g) {
    state.SkipWithError("no panel kernel here");
    return;
  }
  const int64_t n_in = 2048;
  const Matrix& m = matrix(t, n_out, n_in);
  std::vector<uint8_t> act(m.act_bytes * kPanelTokens);
  for (int k = 0; k < kPanelTokens; ++k)
    std::copy_n(m.act.data() + (k % kMaxActRows) * m.act_bytes, m.act_bytes, act.data() + k * m.act_bytes);
  std::vector<uint8_t> panel(panel_bytes(g->act, n_in));
  pack_panel(g->act, act.data(), m.act_bytes, kPanelTokens, n_in, panel.data());
  std::vector<float> out(static_cast<size_t>(n_out * kPanelTokens));
  for (auto _ : state) {
    for (int64_t r = 0; r < n_out; r += kGemmRows)
      g->fn(n_in, m.w.data() + r * m.row_bytes, m.row_bytes, kGemmRows, panel.data(), &out[r * kPanelTokens]);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(m.w.size()));
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(n_out * n_in * kPanelTokens) * state.iterations() / 1e9,
                                                benchmark::Counter::kIsRate);
}

#if defined(__x86_64__)
// The int8 multiply-add peak of one core: twelve independent chains of the
// one instruction (or pair) the integer kernels are built from, nothing else,
// so a kernel's GMAC/s reads as a fraction of what the core can do.
//   avx2/maddubs:   vpmaddubsw alone (u8 x s8 pairs to int16), 32 MACs
//   avx2/maddubs+madd: vpmaddubsw then vpmaddwd to int32, as the row kernels
//   vnni/dpbusd256, avx512/dpbusd512: vpdpbusd on 256- and 512-bit vectors
// Each step feeds its result back as its next input: no step can be hoisted.
constexpr int kChains = 12;
#define SCOUT_PEAK_LOOP(VEC, ZERO, SET1, STEP)                                   \
  VEC x[kChains];                                                                \
  for (int c = 0; c < kChains; ++c) x[c] = SET1(0x01020304 + c);                \
  const VEC b = SET1(0x01FF02FE);                                                \
  for (int64_t i = 0; i < iters; ++i)                                            \
    for (int c = 0; c < kChains; ++c) x[c] = STEP;                               \
  VEC s = ZERO;                                                                  \
  for (int c = 0; c < kChains; ++c) s = _mm256_or_si256(s, x[c]);                \
  return s;

__attribute__((target("avx2"))) __m256i peak_maddubs(int64_t iters) {
  SCOUT_PEAK_LOOP(__m256i, _mm256_setzero_si256(), _mm256_set1_epi32, _mm256_maddubs_epi16(x[c], b))
}
__attribute__((target("avx2"))) __m256i peak_maddubs_madd(int64_t iters) {
  SCOUT_PEAK_LOOP(__m256i, _mm256_setzero_si256(), _mm256_set1_epi32,
                  _mm256_madd_epi16(_mm256_maddubs_epi16(x[c], b), b))
}
__attribute__((target("avx2,avx512f,avx512vl,avx512vnni"))) __m256i peak_dpbusd256(int64_t iters) {
  SCOUT_PEAK_LOOP(__m256i, _mm256_setzero_si256(), _mm256_set1_epi32, _mm256_dpbusd_epi32(x[c], b, x[c]))
}
#undef SCOUT_PEAK_LOOP
__attribute__((target("avx2,avx512f,avx512bw,avx512vnni"))) __m256i peak_dpbusd512(int64_t iters) {
  __m512i x[kChains];
  for (int c = 0; c < kChains; ++c) x[c] = _mm512_set1_epi32(0x01020304 + c);
  const __m512i b = _mm512_set1_epi32(0x01FF02FE);
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) x[c] = _mm512_dpbusd_epi32(x[c], b, x[c]);
  __m512i s = _mm512_setzero_si512();
  for (int c = 0; c < kChains; ++c) s = _mm512_or_si512(s, x[c]);
  return _mm512_castsi512_si256(s);
}

void BM_Int8Peak(benchmark::State& state, CpuLevel level, __m256i (*loop)(int64_t), int macs_per_step) {
  if (!cpu_supports(level)) {
    state.SkipWithError("this CPU lacks the level");
    return;
  }
  constexpr int64_t kIters = 1 << 16;
  for (auto _ : state) {
    __m256i r = loop(kIters);
    benchmark::DoNotOptimize(r);
  }
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(kIters) * kChains * macs_per_step *
                                                    state.iterations() / 1e9, benchmark::Counter::kIsRate);
}
#endif

// The CPU backend's whole matrix product (backend/cpu/cpu_matmul.h) as a
// prompt runs it: a 2048 x 2048 matrix against n_rows activation rows, with
// quantizing, panel packing and the kernel calls, on n_threads threads.
void BM_Matmul(benchmark::State& state, TensorType t, int64_t n_rows, int n_threads) {
  const int64_t n = 2048;
  const Matrix& m = matrix(t, n, n);
  scout::backend::Weight w;
  w.type = t;
  w.n_in = w.n_out = n;
  w.row_bytes = m.row_bytes;
  w.data = w.host = m.w.data();
  scout::backend::cpu::CpuMatmul mm;
  mm.set_options(n_threads, true);
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_rows * n)), y(x.size());
  for (float& v : x) v = dist(rng);
  for (auto _ : state) {
    mm.run(w, x.data(), y.data(), n_rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(n * n * n_rows) * state.iterations() / 1e9,
                                                benchmark::Counter::kIsRate);
}

void BM_QuantizeActivations(benchmark::State& state, ActFormat f) {
  const int64_t n = 2048;
  std::vector<float> x(n, 0.5f);
  std::vector<uint8_t> dst(act_row_bytes(f, n));
  for (auto _ : state) {
    quantize_activations(f, x.data(), dst.data(), n);
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(state.iterations() * n * 4);
}

// Attention of n_q queries after `depth` cached positions (one global layer
// of n_head query heads over n_head_kv kv heads of head_dim, or a chunked
// one), all threads.
void BM_Attention(benchmark::State& state, scout::backend::KvType type, int head_dim, int64_t depth, int64_t n_q,
                  int64_t chunk, int n_head, int n_head_kv) {
  using namespace scout::backend;
  KvLayout layout;
  layout.types = type;
  layout.n_head_kv = n_head_kv;
  layout.head_dim_k = layout.head_dim_v = head_dim;
  cpu::CpuKvPool pool(layout);
  const int64_t n_pos = depth + n_q;
  const auto n_blocks = static_cast<int32_t>((n_pos + layout.block_size - 1) / layout.block_size);
  pool.reserve(n_blocks);
  KvPass pass;
  pass.pool = &pool;
  pass.n_layer = 1;
  pass.segs = {{0, n_pos, 0}};
  pass.tables = {{0, n_pos, 0, n_blocks}};
  for (int32_t b = 0; b < n_blocks; ++b) pass.block_ids.push_back(b);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> kv(static_cast<size_t>(n_pos * n_head_kv * head_dim));
  for (float& x : kv) x = dist(rng);
  cpu::kv_store(pass, 0, 0, kv.data(), kv.data());
  AttentionParams p;
  p.n_head = n_head;
  p.n_head_kv = n_head_kv;
  p.head_dim_k = p.head_dim_v = head_dim;
  p.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  p.chunk_size = chunk;
  std::vector<float> q(static_cast<size_t>(n_q * n_head * head_dim)), out(q.size());
  for (float& x : q) x = dist(rng);
  std::vector<int32_t> pos(static_cast<size_t>(n_q));
  double pairs = 0;
  for (int64_t i = 0; i < n_q; ++i) {
    pos[i] = static_cast<int32_t>(depth + i);
    pairs += static_cast<double>(pos[i] - p.first_visible(pos[i]) + 1);
  }
  pass.segs = {{0, n_q, depth}};
  std::vector<const std::byte*> ptrs;
  const cpu::KvLayerView view = cpu::kv_view(pass, 0, 0, ptrs);
  for (auto _ : state) {
    cpu::cpu_attention(q.data(), pos.data(), n_q, view, p, out.data(), omp_get_max_threads());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["flop/s"] = benchmark::Counter(pairs * n_head * 2 * (2.0 * head_dim) * state.iterations(),
                                                benchmark::Counter::kIsRate);
}

void register_all() {
  const TensorType types[] = {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q2_K, TensorType::Q3_K,
                              TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::IQ4_XS};
  for (TensorType t : types)
    for (int li = 0; li < kCpuLevels; ++li) {
      const auto level = static_cast<CpuLevel>(li);
      for (int64_t n_out : {int64_t{256}, int64_t{16384}})  // ~0.3 MB (L2) and ~20-35 MB (DRAM)
        for (int n_act : {1, 4}) {
          const std::string name = "quant_dot/" + std::string(scout::type_name(t)) + "/" +
                                   std::string(cpu_level_name(level)) + "/rows:" + std::to_string(n_out) +
                                   "/act:" + std::to_string(n_act);
          benchmark::RegisterBenchmark(name.c_str(), BM_QuantDot, t, level, n_out, n_act);
        }
    }
  for (TensorType t : types)
    for (CpuLevel level : {CpuLevel::Avx2, CpuLevel::Avx512}) {
      const std::string name = "quant_gemm/" + std::string(scout::type_name(t)) + "/" +
                               std::string(cpu_level_name(level)) + "/rows:256/act:16";
      benchmark::RegisterBenchmark(name.c_str(), BM_QuantGemm, t, level, int64_t{256});
    }
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K})
    for (int n_threads : {1, 2})
      for (int64_t n_rows : {int64_t{8}, int64_t{512}}) {
        const std::string name = "matmul/" + std::string(scout::type_name(t)) + "/2048x2048/rows:" +
                                 std::to_string(n_rows) + "/threads:" + std::to_string(n_threads);
        benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, t, n_rows, n_threads)->UseRealTime();
      }
  for (const auto& t : scout::backend::kKvTypes)
    for (const int dim : {128, 32})
      for (const auto& [depth, n_q, what] : {std::tuple{int64_t{16384}, int64_t{512}, "pp512"},
                                             std::tuple{int64_t{16384}, int64_t{1}, "tg"},
                                             std::tuple{int64_t{65536}, int64_t{1}, "tg"}}) {
        const std::string name = "attention/" + std::string(t.name) + "/dim:" + std::to_string(dim) + "/" + what +
                                 "/depth:" + std::to_string(depth);
        benchmark::RegisterBenchmark(name.c_str(), BM_Attention, t.type, dim, depth, n_q, int64_t{0}, 16, 4)->UseRealTime();
      }
  // The long-context run's nano model: one query and one kv head of 32.
  benchmark::RegisterBenchmark("attention/f16/dim:32/heads:1/pp512/depth:65536", BM_Attention, scout::backend::KvType::F16,
                               32, int64_t{65536}, int64_t{512}, int64_t{0}, 1, 1)
      ->UseRealTime();
#if defined(__x86_64__)
  benchmark::RegisterBenchmark("int8_peak/avx2/maddubs", BM_Int8Peak, CpuLevel::Avx2, peak_maddubs, 32);
  benchmark::RegisterBenchmark("int8_peak/avx2/maddubs+madd", BM_Int8Peak, CpuLevel::Avx2, peak_maddubs_madd, 32);
  benchmark::RegisterBenchmark("int8_peak/vnni/dpbusd256", BM_Int8Peak, CpuLevel::Vnni, peak_dpbusd256, 32);
  benchmark::RegisterBenchmark("int8_peak/avx512/dpbusd512", BM_Int8Peak, CpuLevel::Avx512, peak_dpbusd512, 64);
#endif
  benchmark::RegisterBenchmark("quantize_activations/q8_32", BM_QuantizeActivations, ActFormat::Q8_32);
  benchmark::RegisterBenchmark("quantize_activations/q8_256", BM_QuantizeActivations, ActFormat::Q8_256);
}

}  // namespace

// Registered from main, not at static initialisation: the type table must exist first.
int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
