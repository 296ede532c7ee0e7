// Google Benchmark micro-benchmarks of the CPU kernels (kernels/cpu), one
// thread: quantized GEMV (one activation row, how generation runs) and the
// 4-row form prompt batches use, per weight type and SIMD level, on a matrix
// that fits the L2 cache and one that has to come from DRAM. Reports weight
// bytes/s (compare with `scout bench --mem-bw`) and multiply-adds/s.
//   build/tools/scout_kernel_bench --benchmark_filter=q4_K
#include <benchmark/benchmark.h>

#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

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
void BM_QuantGemm(benchmark::State& state, TensorType t, int64_t n_out) {
  const QuantGemm* g = quant_gemm(t, CpuLevel::Avx512);
  if (!cpu_supports(CpuLevel::Avx512) || !g) {
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
  for (TensorType t : types) {
    const std::string name = "quant_gemm/" + std::string(scout::type_name(t)) + "/avx512/rows:256/act:16";
    benchmark::RegisterBenchmark(name.c_str(), BM_QuantGemm, t, int64_t{256});
  }
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
