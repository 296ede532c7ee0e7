// The float GEMM (kernels/cpu/float_gemm.h) against its plain reference on
// odd shapes, strides and blockings of k, and the property the backend relies
// on: a row's result is the same bits whichever tile, batch or k blocks
// compute it.
#include "kernels/cpu/float_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "test_util.h"

namespace scout::kernels {
namespace {

// y = x w^T through panels of 16 weight rows, k in blocks of k_block.
std::vector<float> panel_gemm(const std::vector<float>& x, int64_t ldx, int64_t n_x, const std::vector<float>& w,
                              int64_t ldw, int64_t n_w, int64_t k, int64_t ldy, int64_t k_block) {
  std::vector<float> y(static_cast<size_t>(n_x * ldy), -7.0f);
  std::vector<float> panel(static_cast<size_t>(k * kPanelCols));
  for (int64_t o = 0; o < n_w; o += kPanelCols) {
    const int cols = static_cast<int>(std::min<int64_t>(kPanelCols, n_w - o));
    for (int64_t k0 = 0; k0 < k; k0 += k_block) {
      const int64_t kn = std::min(k_block, k - k0);
      pack_weight_panel(w.data() + o * ldw + k0, ldw, cols, kn, panel.data());
      gemm_f32_panel(x.data() + k0, ldx, n_x, panel.data(), cols, kn, y.data() + o, ldy, k0 > 0);
    }
  }
  return y;
}

TEST(FloatGemm, MatchesTheReferenceOnOddShapes) {
  uint32_t seed = 1;
  for (int64_t k : {1, 5, 8, 9, 31, 100, 1411})
    for (int64_t n_x : {1, 2, 5, 6, 7, 13})
      for (int64_t n_w : {1, 3, 16, 17, 40}) {
        // Strides wider than k and than n_w: the kernel must not assume packed rows.
        const int64_t ldx = k + 3, ldw = k + 1, ldy = n_w + 2;
        const std::vector<float> x = test::random_floats(static_cast<size_t>(n_x * ldx), seed++);
        const std::vector<float> w = test::random_floats(static_cast<size_t>(n_w * ldw), seed++);
        std::vector<float> want(static_cast<size_t>(n_x * ldy), -7.0f);
        gemm_f32_reference(x.data(), ldx, n_x, w.data(), ldw, n_w, k, want.data(), ldy);
        for (int64_t k_block : {k, int64_t{7}}) {
          const std::vector<float> got = panel_gemm(x, ldx, n_x, w, ldw, n_w, k, ldy, k_block);
          for (int64_t t = 0; t < n_x; ++t)
            for (int64_t o = 0; o < ldy; ++o) {
              const size_t i = static_cast<size_t>(t * ldy + o);
              if (o >= n_w) {
                EXPECT_EQ(got[i], -7.0f) << "wrote past the block";
                continue;
              }
              double mag = 0;  // the size of the terms bounds the rounding
              for (int64_t j = 0; j < k; ++j) mag += std::abs(double(x[t * ldx + j]) * w[o * ldw + j]);
              EXPECT_NEAR(got[i], want[i], 1e-6 * mag + 1e-7) << "k " << k << " t " << t << " o " << o;
            }
        }
      }
}

TEST(FloatGemm, ARowsResultDoesNotDependOnItsBatchOrBlocks) {
  const int64_t k = 77, n_x = 13, n_w = 21;
  const std::vector<float> x = test::random_floats(n_x * k, 11), w = test::random_floats(n_w * k, 12);
  const std::vector<float> all = panel_gemm(x, k, n_x, w, k, n_w, k, n_w, k);
  EXPECT_EQ(panel_gemm(x, k, n_x, w, k, n_w, k, n_w, 10), all) << "k in blocks of 10";
  for (int64_t t = 0; t < n_x; ++t)
    for (int64_t o = 0; o < n_w; ++o) {
      const std::vector<float> xr(x.begin() + t * k, x.begin() + (t + 1) * k), wr(w.begin() + o * k, w.begin() + (o + 1) * k);
      EXPECT_EQ(panel_gemm(xr, k, 1, wr, k, 1, k, 1, k)[0], all[t * n_w + o]) << t << ", " << o;
    }
}

}  // namespace
}  // namespace scout::kernels
