// The panel kernels (16 tokens x up to 4 weight rows) against the scalar
// reference dot product, at every level that has them (AVX2, AVX-512), for
// every type they cover, every row count 1-4, panels of 1-16 tokens (the rest
// padding), one and several blocks, and weights and activations at the ends
// of their ranges.
#include "kernels/cpu/quant_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/act_quant.h"
#include "tensor/dequant.h"
#include "tensor/blocks.h"
#include "tensor/quant.h"

namespace scout::kernels {
namespace {

std::vector<float> random_values(int64_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist(rng);
  return x;
}

// A weight row at the ends of its type's range, where the AVX2 kernels' int16
// sums come closest to overflowing: every stored code at its largest (all
// bits set: nibbles 15, high bits set, Q4_K scales and mins 63; Q8_0 -127),
// the block scales a plain 1/16.
void extreme_weights(TensorType t, int64_t n, uint8_t* dst) {
  using namespace scout::blocks;
  const size_t bytes = type_traits(t).block_bytes;
  const uint16_t sixteenth = 0x2C00;  // 1/16 as f16
  for (int64_t b = 0; b < n / type_traits(t).block_size; ++b) {
    uint8_t* blk = dst + b * bytes;
    std::fill_n(blk, bytes, uint8_t{0xFF});
    size_t d_at = 0;
    if (t == TensorType::Q8_0) std::fill_n(blk + offsetof(Q8_0, qs), sizeof(Q8_0::qs), uint8_t{0x81});
    if (t == TensorType::Q6_K) d_at = offsetof(Q6_K, d);
    std::memcpy(blk + d_at, &sixteenth, 2);
    if (t == TensorType::Q4_K || t == TensorType::Q5_K) std::memcpy(blk + 2, &sixteenth, 2);  // dmin
  }
}

// Activations of one sign, the largest 8-bit codes (-128 for Q8_256, -127 for
// Q8_32) in every block: with extreme_weights the products never cancel.
std::vector<float> extreme_activations(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(0.9f, 1.0f);
  std::vector<float> a(static_cast<size_t>(n));
  for (float& v : a) v = -u(rng);
  return a;
}

void check_level(CpuLevel level, int& tested) {
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
    const QuantGemm* g = quant_gemm(t, level);
    ASSERT_NE(g, nullptr) << type_name(t) << " at " << cpu_level_name(level);
    const QuantDot* ref = quant_dot_scalar(t);
    ASSERT_EQ(g->act, ref->act);
    const int64_t bs = type_traits(t).block_size;
    for (int64_t n : {bs, 3 * bs, int64_t{2048}}) {
      std::mt19937 rng(static_cast<uint32_t>(n) * 7 + static_cast<uint32_t>(t));
      // 4 weight rows (the last at the ends of its range), 16 token rows (the
      // last 4 at the ends of theirs).
      const size_t wb = row_bytes(t, static_cast<uint64_t>(n));
      std::vector<uint8_t> w(wb * kGemmRows);
      std::vector<std::vector<float>> wf(kGemmRows, std::vector<float>(static_cast<size_t>(n)));
      for (int r = 0; r < kGemmRows; ++r) {
        const std::vector<float> x = random_values(n, rng, 0.05f);
        if (r == kGemmRows - 1) extreme_weights(t, n, w.data() + r * wb);
        else quantize_row(t, x.data(), w.data() + r * wb, n);
        dequantize_row(t, w.data() + r * wb, wf[r].data(), n);
      }
      const size_t ab = act_row_bytes(g->act, n);
      std::vector<uint8_t> act(ab * kPanelTokens);
      std::vector<std::vector<float>> af;
      for (int k = 0; k < kPanelTokens; ++k) {
        const std::vector<float> x = k >= kPanelTokens - 4 ? extreme_activations(n, rng) : random_values(n, rng, 1.0f + k);
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
}

TEST(QuantGemm, PanelsMatchTheScalarDotProduct) {
  int tested = 0;
  for (CpuLevel level : {CpuLevel::Avx2, CpuLevel::Avx512}) {
    if (!cpu_supports(level)) continue;
    check_level(level, tested);
  }
  if (tested == 0) GTEST_SKIP() << "this CPU has neither AVX2 nor AVX-512 VNNI";
}

TEST(QuantGemm, TheAvx2AndAvx512LevelsHavePanels) {
  EXPECT_EQ(quant_gemm(TensorType::Q4_K, CpuLevel::Scalar), nullptr);
  EXPECT_EQ(quant_gemm(TensorType::Q4_K, CpuLevel::Vnni), nullptr);
  EXPECT_NE(quant_gemm(TensorType::Q4_K, CpuLevel::Avx2), nullptr);
  EXPECT_NE(quant_gemm(TensorType::Q4_K, CpuLevel::Avx512), nullptr);
  EXPECT_EQ(quant_gemm(TensorType::F16, CpuLevel::Avx2), nullptr);
  EXPECT_EQ(quant_gemm(TensorType::F16, CpuLevel::Avx512), nullptr);
}

}  // namespace
}  // namespace scout::kernels
