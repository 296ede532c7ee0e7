// Prints the single-thread quantization speed per type (M elements/s on 1M
// gaussian values) and the round-trip RMSE. Asserts nothing about speed: it
// is a benchmark to read, as timings depend on the machine and its load.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <vector>

#include "tensor/quant.h"
#include "tensor/tensor_convert.h"
#include "tensor/types.h"

namespace scout {
namespace {

TEST(QuantSpeed, Report) {
  const int64_t n = int64_t{1} << 20;
  std::vector<float> x(n);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : x) v = dist(rng);
  std::printf("%-7s %12s %10s\n", "type", "M elem/s", "rmse");
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
                       TensorType::Q5_K, TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS}) {
    std::vector<uint8_t> q(row_bytes(t, n));
    // CPU time, best of three: closest to the speed of an unloaded core.
    double best = INFINITY;
    for (int rep = 0; rep < 3; ++rep) {
      const std::clock_t c0 = std::clock();
      quantize_row(t, x.data(), q.data(), n);
      best = std::min(best, static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
    }
    const std::vector<float> y = dequantize(t, q.data(), n);
    double err = 0;
    for (int64_t i = 0; i < n; ++i) err += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
    std::printf("%-7s %12.1f %10.5f\n", type_name(t).data(), best > 0 ? n / best / 1e6 : INFINITY,
                std::sqrt(err / static_cast<double>(n)));
  }
}

}  // namespace
}  // namespace scout
