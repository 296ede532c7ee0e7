// The integer dot products: the scalar reference against plain f64 math on
// the dequantized weights and activations, and every SIMD level this CPU has
// against the scalar reference, on every type, 1-4 activation rows, row
// lengths of 1 and several blocks, and weight rows at odd addresses.
#include "kernels/cpu/quant_dot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/act_quant.h"
#include "tensor/dequant.h"
#include "tensor/quant.h"

namespace scout::kernels {
namespace {

const TensorType kTypes[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                             TensorType::Q8_0, TensorType::IQ4_NL, TensorType::Q2_K, TensorType::Q3_K,
                             TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::IQ4_XS};

std::vector<float> random_values(int64_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist(rng);
  return x;
}

// One test case: a quantized weight row (stored at an odd offset, as rows in
// a mapped file may be) and kMaxActRows quantized activation rows (4-byte
// aligned as the backend keeps them, but not back to back).
struct Case {
  int64_t n;
  ActFormat fmt;
  std::vector<uint8_t> w_storage, act_storage;
  const uint8_t* w;
  const uint8_t* act;
  size_t stride;
  std::vector<float> w_f32;                 // dequantized weights
  std::vector<std::vector<float>> act_f32;  // dequantized activations

  Case(TensorType t, int64_t n_, uint32_t seed) : n(n_), fmt(quant_dot_scalar(t)->act) {
    std::mt19937 rng(seed);
    const std::vector<float> wf = random_values(n, rng, 0.05f);
    const size_t wb = row_bytes(t, static_cast<uint64_t>(n));
    w_storage.resize(wb + 3);
    w = w_storage.data() + 3;
    quantize_row(t, wf.data(), w_storage.data() + 3, n);
    w_f32.resize(static_cast<size_t>(n));
    dequantize_row(t, w, w_f32.data(), n);

    stride = act_row_bytes(fmt, n) + 4;  // rows not back to back either
    act_storage.resize(stride * kMaxActRows + 4);
    act = act_storage.data() + 4;
    for (int r = 0; r < kMaxActRows; ++r) {
      std::vector<float> x = random_values(n, rng, 1.0f + r);
      uint8_t* dst = act_storage.data() + 4 + r * stride;
      std::vector<uint8_t> tmp(act_row_bytes(fmt, n));
      quantize_activations(fmt, x.data(), tmp.data(), n);
      std::copy(tmp.begin(), tmp.end(), dst);
      act_f32.push_back(dequantized_activations(tmp.data()));
    }
  }

  std::vector<float> dequantized_activations(const uint8_t* q) const {
    std::vector<float> x(static_cast<size_t>(n));
    if (fmt == ActFormat::Q8_32) {
      const auto* b = reinterpret_cast<const ActBlock32*>(q);
      for (int64_t i = 0; i < n; ++i) x[i] = b[i / 32].d * b[i / 32].q[i % 32];
    } else {
      const auto* b = reinterpret_cast<const ActBlock256*>(q);
      for (int64_t i = 0; i < n; ++i) x[i] = b[i / 256].d * b[i / 256].q[i % 256];
    }
    return x;
  }

  // The exact dot of the dequantized values, and the sum of |terms| (the scale of rounding errors).
  void exact(int r, double& dot, double& mag) const {
    dot = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double p = double{w_f32[i]} * act_f32[r][i];
      dot += p;
      mag += std::fabs(p);
    }
  }
};

std::vector<int64_t> lengths(TensorType t) {
  const int64_t b = type_traits(t).block_size;
  return {b, 3 * b, 8 * b + (b == 32 ? 0 : 0), 2048};
}

TEST(QuantDot, ScalarReferenceIsTheDotOfTheDequantizedValues) {
  for (TensorType t : kTypes) {
    const QuantDot* k = quant_dot_scalar(t);
    ASSERT_NE(k, nullptr) << type_name(t);
    for (int64_t n : lengths(t)) {
      const Case c(t, n, 11);
      float out[kMaxActRows];
      k->fn(n, c.w, c.act, c.stride, kMaxActRows, out);
      for (int r = 0; r < kMaxActRows; ++r) {
        double dot, mag;
        c.exact(r, dot, mag);
        // Integer sums are exact; only the per-block float scaling rounds.
        EXPECT_NEAR(out[r], dot, 2e-6 * mag + 1e-30) << type_name(t) << " n=" << n << " row " << r;
      }
    }
  }
}

TEST(QuantDot, EverySimdLevelMatchesTheScalarReference) {
  int tested = 0;
  for (int li = 1; li < kCpuLevels; ++li) {
    const auto level = static_cast<CpuLevel>(li);
    if (!cpu_supports(level)) {
      std::printf("[ SKIPPED  ] level %s: not supported by this CPU\n", std::string(cpu_level_name(level)).c_str());
      continue;
    }
    for (TensorType t : kTypes) {
      const QuantDot* ref = quant_dot_scalar(t);
      const QuantDot* k = quant_dot(t, level);
      ASSERT_NE(k, nullptr);
      ASSERT_EQ(k->act, ref->act) << type_name(t);
      for (int64_t n : lengths(t)) {
        const Case c(t, n, 23 + static_cast<uint32_t>(n));
        for (int na = 1; na <= kMaxActRows; ++na) {
          float want[kMaxActRows], got[kMaxActRows] = {};
          ref->fn(n, c.w, c.act, c.stride, na, want);
          k->fn(n, c.w, c.act, c.stride, na, got);
          for (int r = 0; r < na; ++r) {
            double dot, mag;
            c.exact(r, dot, mag);
            EXPECT_NEAR(got[r], want[r], 2e-6 * mag + 1e-30)
                << cpu_level_name(level) << " " << type_name(t) << " n=" << n << " rows " << na << " row " << r;
          }
        }
        ++tested;
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no SIMD level on this CPU";
}

TEST(QuantDot, FloatTypesHaveNoIntegerKernel) {
  for (int li = 0; li < kCpuLevels; ++li)
    for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16})
      EXPECT_EQ(quant_dot(t, static_cast<CpuLevel>(li)), nullptr);
}

TEST(QuantDot, LevelNamesRoundTrip) {
  EXPECT_EQ(cpu_level_name(CpuLevel::Scalar), "scalar");
  EXPECT_TRUE(cpu_supports(CpuLevel::Scalar));
  EXPECT_TRUE(cpu_supports(cpu_level()));
}

}  // namespace
}  // namespace scout::kernels
