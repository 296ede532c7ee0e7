#include "kernels/cpu/act_quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace scout::kernels {
namespace {

std::vector<float> random_row(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist(rng);
  return x;
}

TEST(ActQuant, Blocks32RoundTripWithinHalfAStep) {
  const int64_t n = 32 * 5;
  std::vector<float> x = random_row(n, 1);
  x[7] = 0.0f;
  std::fill(x.begin() + 64, x.begin() + 96, 0.0f);  // an all-zero block: d = 0, q = 0
  std::vector<uint8_t> buf(act_row_bytes(ActFormat::Q8_32, n));
  quantize_activations(ActFormat::Q8_32, x.data(), buf.data(), n);
  const auto* b = reinterpret_cast<const ActBlock32*>(buf.data());
  for (int i = 0; i < n / 32; ++i) {
    float amax = 0;
    int sum = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * i + j]));
    EXPECT_NEAR(b[i].d, amax / 127.0f, amax / 127.0f / 1024);  // kept at half precision
    for (int j = 0; j < 32; ++j) {
      EXPECT_LE(std::abs(b[i].q[j]), 127);
      // Half a step, plus what the half-precision scale moves the top level.
      EXPECT_LE(std::fabs(b[i].d * b[i].q[j] - x[32 * i + j]), 0.5f * b[i].d + 127 * amax / 127.0f / 1024)
          << i << " " << j;
      sum += b[i].q[j];
    }
    EXPECT_EQ(b[i].sum, sum);
  }
  EXPECT_EQ(b[2].d, 0.0f);
}

TEST(ActQuant, Blocks256KeepSixteenSums) {
  const int64_t n = 256 * 3;
  const std::vector<float> x = random_row(n, 2);
  std::vector<uint8_t> buf(act_row_bytes(ActFormat::Q8_256, n));
  ASSERT_EQ(buf.size(), 3u * sizeof(ActBlock256));
  quantize_activations(ActFormat::Q8_256, x.data(), buf.data(), n);
  const auto* b = reinterpret_cast<const ActBlock256*>(buf.data());
  for (int i = 0; i < 3; ++i) {
    bool has_extreme = false;
    for (int j = 0; j < 256; ++j) {
      EXPECT_LE(std::fabs(b[i].d * b[i].q[j] - x[256 * i + j]), 0.5f * std::fabs(b[i].d) * 1.0001f);
      has_extreme |= b[i].q[j] == -127;
    }
    EXPECT_TRUE(has_extreme);  // the value of largest magnitude maps to -127 (the scale carries its sign)
    for (int s = 0; s < 16; ++s) {
      int sum = 0;
      for (int k = 0; k < 16; ++k) sum += b[i].q[16 * s + k];
      EXPECT_EQ(b[i].bsums[s], sum);
    }
  }
}

}  // namespace
}  // namespace scout::kernels
