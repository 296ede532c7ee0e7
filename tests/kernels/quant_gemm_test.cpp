// The panel kernels (16 tokens x up to 4 weight rows) against the scalar
// reference dot product, for every type they cover, every row count 1-4,
// panels of 1-16 tokens (the rest padding), one and several blocks.
#include "kernels/cpu/quant_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/act_quant.h"
#include "tensor/dequant.h"
#include "tensor/quant.h"

namespace scout::kernels {
namespace {

std::vector<float> random_values(int64_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist(rng);
  return x;
}

TEST(QuantGemm, PanelsMatchTheScalarDotProduct) {
  if (!cpu_supports(CpuLevel::Avx512)) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  int tested = 0;
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
    const QuantGemm* g = quant_gemm(t, CpuLevel::Avx512);
    ASSERT_NE(g, nullptr) << type_name(t);
    const QuantDot* ref = quant_dot_scalar(t);
    ASSERT_EQ(g->act, ref->act);
    const int64_t bs = type_traits(t).block_size;
    for (int64_t n : {bs, 3 * bs, int64_t{2048}}) {
      std::mt19937 rng(static_cast<uint32_t>(n) * 7 + static_cast<uint32_t>(t));
      // 4 weight rows, 8 token rows.
      const size_t wb = row_bytes(t, static_cast<uint64_t>(n));
      std::vector<uint8_t> w(wb * kGemmRows);
      std::vector<std::vector<float>> wf(kGemmRows, std::vector<float>(static_cast<size_t>(n)));
      for (int r = 0; r < kGemmRows; ++r) {
        const std::vector<float> x = random_values(n, rng, 0.05f);
        quantize_row(t, x.data(), w.data() + r * wb, n);
        dequantize_row(t, w.data() + r * wb, wf[r].data(), n);
      }
      const size_t ab = act_row_bytes(g->act, n);
      std::vector<uint8_t> act(ab * kPanelTokens);
      std::vector<std::vector<float>> af;
      for (int k = 0; k < kPanelTokens; ++k) {
        const std::vector<float> x = random_values(n, rng, 1.0f + k);
        quantize_activations(g->act, x.data(), act.data() + k * ab, n);
        af.push_back(x);
      }
      for (int n_tok = 1; n_tok <= kPanelTokens; ++n_tok) {
        std::vector<uint8_t> panel(panel_bytes(g->act, n));
        pack_panel(g->act, act.data(), ab, n_tok, n, panel.data());
        for (int rows = 1; rows <= kGemmRows; ++rows) {
          std::vector<float> out(kGemmRows * kPanelTokens, -1.0f);
          g->fn(n, w.data(), wb, rows, panel.data(), out.data());
          for (int r = 0; r < rows; ++r)
            for (int k = 0; k < kPanelTokens; ++k) {
              if (k >= n_tok) {  // padding tokens must come out zero
                EXPECT_EQ(out[r * kPanelTokens + k], 0.0f);
                continue;
              }
              float want;
              ref->fn(n, w.data() + r * wb, act.data() + k * ab, ab, 1, &want);
              double mag = 0;
              for (int64_t i = 0; i < n; ++i) mag += std::fabs(double{wf[r][i]} * af[k][i]);
              EXPECT_NEAR(out[r * kPanelTokens + k], want, 4e-6 * mag)
                  << type_name(t) << " n=" << n << " tokens " << n_tok << " rows " << rows << " r" << r << " t" << k;
            }
          ++tested;
        }
      }
    }
  }
  EXPECT_GT(tested, 0);
}

TEST(QuantGemm, OnlyTheAvx512LevelHasPanels) {
  EXPECT_EQ(quant_gemm(TensorType::Q4_K, CpuLevel::Scalar), nullptr);
  EXPECT_EQ(quant_gemm(TensorType::Q4_K, CpuLevel::Avx2), nullptr);
  EXPECT_EQ(quant_gemm(TensorType::F16, CpuLevel::Avx512), nullptr);
}

}  // namespace
}  // namespace scout::kernels
