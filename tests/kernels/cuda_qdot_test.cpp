// kernels/cuda/qdot.cuh and the activation rounding of device_math.cuh,
// compiled as host C++: the GPU's 8-bit activations must be the CPU's bit for
// bit, and every type's block dot product, summed over its lanes' parts, must
// be the CPU scalar reference's block value (the integer sums exactly; the
// final float scaling within rounding, since either compiler may fuse a
// multiply into the add there).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/quant_dot.h"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/qdot.cuh"
#include "tensor/quant.h"

namespace scout::cuda {
namespace {

using kernels::ActBlock256;
using kernels::ActBlock32;
using kernels::ActFormat;

// Activation rows of several shapes: normals, mixed magnitudes, zeros, ties
// of |max| with both signs, a lone negative maximum.
std::vector<std::vector<float>> act_rows(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> rows;
  auto row = [&](auto&& gen) {
    std::vector<float> r(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) r[static_cast<size_t>(i)] = gen(i);
    rows.push_back(std::move(r));
  };
  row([&](int64_t) { return normal(rng); });
  row([&](int64_t i) { return normal(rng) * std::pow(10.0f, static_cast<float>(i / 32 % 7) - 3.0f); });
  row([&](int64_t) { return 0.0f; });
  row([&](int64_t i) { return i % 5 == 0 ? (i % 2 ? 3.0f : -3.0f) : normal(rng); });  // tied maxima
  row([&](int64_t i) { return i % 64 == 9 ? -50.0f : normal(rng); });
  row([&](int64_t i) { return static_cast<float>(i % 7) * 0.5f - 1.5f; });  // exact halves: rounding ties
  return rows;
}

// The GPU layout of one activation row: int8 values, per block a scale and sums.
struct GpuActRow {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> sums;  // 1 per 32-block, 16 per 256-block
};

GpuActRow quantize_gpu(const std::vector<float>& x, int block) {
  GpuActRow r;
  const size_t n = x.size(), nb = n / block, ns = block == 32 ? 1 : 16;
  r.q.resize(n);
  r.d.resize(nb);
  r.sums.resize(nb * ns);
  for (size_t b = 0; b < nb; ++b)
    quantize_act_block(x.data() + b * block, block, r.q.data() + b * block, r.d[b], r.sums.data() + b * ns);
  return r;
}

TEST(CudaActQuant, BlocksMatchTheCpuBitForBit) {
  for (const ActFormat fmt : {ActFormat::Q8_32, ActFormat::Q8_256}) {
    const int block = fmt == ActFormat::Q8_32 ? 32 : 256;
    const int64_t n = 1024;
    for (const auto& x : act_rows(n, 7)) {
      std::vector<uint8_t> cpu(kernels::act_row_bytes(fmt, n));
      kernels::quantize_activations(fmt, x.data(), cpu.data(), n);
      const GpuActRow g = quantize_gpu(x, block);
      for (int64_t b = 0; b < n / block; ++b) {
        if (fmt == ActFormat::Q8_32) {
          ActBlock32 c;
          std::memcpy(&c, cpu.data() + b * sizeof(ActBlock32), sizeof c);
          EXPECT_EQ(float_to_bits(g.d[b]), float_to_bits(c.d)) << b;
          EXPECT_EQ(g.sums[b], c.sum) << b;
          EXPECT_EQ(0, std::memcmp(g.q.data() + b * 32, c.q, 32)) << b;
        } else {
          ActBlock256 c;
          std::memcpy(&c, cpu.data() + b * sizeof(ActBlock256), sizeof c);
          EXPECT_EQ(float_to_bits(g.d[b]), float_to_bits(c.d)) << b;
          for (int j = 0; j < 16; ++j) EXPECT_EQ(g.sums[b * 16 + j], c.bsums[j]) << b << " " << j;
          EXPECT_EQ(0, std::memcmp(g.q.data() + b * 256, c.q, 256)) << b;
        }
      }
    }
  }
}

// One block's value by the GPU code: every part, integer sums added, then finished.
template <TensorType T>
float gpu_block(const uint8_t* blk, const int8_t* aq, float ad, const int32_t* sums, double* magnitude) {
  using Q = QDot<T>;
  QPart total;
  typename Q::Regs regs{};
  for (int p = 0; p < Q::kParts; ++p) {
    Q::load(blk, p, regs);
    const QPart part = Q::part(regs, aq, sums, p);
    total.a += part.a;
    total.b += part.b;
  }
  // The two scaled terms on their own: d*da*sum(q a) and the minimum's term.
  const int32_t zeros[16] = {};
  QPart a_only, b_only;
  a_only.a = total.a;
  b_only.b = total.b;
  *magnitude = std::abs(static_cast<double>(Q::finish(regs, a_only, ad, zeros))) +
               std::abs(static_cast<double>(Q::finish(regs, b_only, ad, sums)));
  return Q::finish(regs, total, ad, sums);
}

template <TensorType T>
void check_type() {
  using Q = QDot<T>;
  const kernels::QuantDot* ref = kernels::quant_dot_scalar(T);
  ASSERT_NE(ref, nullptr);
  ASSERT_EQ(ref->act == ActFormat::Q8_256, Q::kAct256);
  ASSERT_EQ(static_cast<uint32_t>(Q::kElems), type_traits(T).block_size);
  ASSERT_EQ(static_cast<uint32_t>(Q::kBytes), type_traits(T).block_bytes);
  const int64_t n = 1024, nb = n / Q::kElems;
  std::mt19937 rng(99);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int bad = 0, checked = 0;
  for (int wr = 0; wr < 4; ++wr) {
    std::vector<float> wf(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) wf[static_cast<size_t>(i)] = normal(rng) * (wr == 3 ? 0.001f : 0.1f) + (wr == 2 ? 0.3f : 0.0f);
    std::vector<uint8_t> w(row_bytes(T, n));
    quantize_row(T, wf.data(), w.data(), n);
    for (const auto& x : act_rows(n, 100 + wr)) {
      std::vector<uint8_t> cpu_act(kernels::act_row_bytes(ref->act, n));
      kernels::quantize_activations(ref->act, x.data(), cpu_act.data(), n);
      const GpuActRow g = quantize_gpu(x, Q::kAct256 ? 256 : 32);
      for (int64_t b = 0; b < nb; ++b) {
        const size_t act_bytes = Q::kAct256 ? sizeof(ActBlock256) : sizeof(ActBlock32);
        float want = 0.0f;
        ref->fn(Q::kElems, w.data() + b * Q::kBytes, cpu_act.data() + b * act_bytes, act_bytes, 1, &want);
        double mag = 0;
        const float got = gpu_block<T>(w.data() + b * Q::kBytes, g.q.data() + b * Q::kElems, g.d[static_cast<size_t>(b)],
                                       g.sums.data() + b * (Q::kAct256 ? 16 : 1), &mag);
        // Rounding of the scaled terms only: a wrong integer sum moves the
        // result by a whole d*da step, |term| / |sum| (sums here are < 10^6).
        const double tol = 1e-6 * mag + 1e-35;
        ++checked;
        if (std::abs(static_cast<double>(got) - want) > tol && bad++ < 5)
          ADD_FAILURE() << type_name(T) << " weight row " << wr << " block " << b << ": got " << got << ", want " << want;
      }
    }
  }
  EXPECT_EQ(bad, 0) << "of " << checked;
}

#define SCOUT_QDOT_TEST(T) \
  TEST(CudaQDot, T) { check_type<TensorType::T>(); }

SCOUT_QDOT_TEST(Q4_0)
SCOUT_QDOT_TEST(Q4_1)
SCOUT_QDOT_TEST(Q5_0)
SCOUT_QDOT_TEST(Q5_1)
SCOUT_QDOT_TEST(Q8_0)
SCOUT_QDOT_TEST(IQ4_NL)
SCOUT_QDOT_TEST(Q2_K)
SCOUT_QDOT_TEST(Q3_K)
SCOUT_QDOT_TEST(Q4_K)
SCOUT_QDOT_TEST(Q5_K)
SCOUT_QDOT_TEST(Q6_K)
SCOUT_QDOT_TEST(IQ4_XS)

#undef SCOUT_QDOT_TEST

TEST(CudaQDot, Iq4LookupAndBytePerm) {
  constexpr int kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  std::mt19937 rng(5);
  for (int it = 0; it < 4096; ++it) {
    const uint32_t v = rng() & 0x0F0F0F0Fu;
    const int got = iq4_lookup4(v);
    for (int b = 0; b < 4; ++b)
      EXPECT_EQ(static_cast<int8_t>(got >> (8 * b)), kLevels[(v >> (8 * b)) & 0xF]) << std::hex << v;
  }
  EXPECT_EQ(byte_perm(0x33221100u, 0x77665544u, 0x7531), 0x77553311u);
  EXPECT_EQ(dp4a(0x01FF7F80, 0x02030405, 10), 10 + 1 * 2 + (-1) * 3 + 127 * 4 + (-128) * 5);
}

TEST(CudaQDot, ScaleBytesFromWords) {
  std::mt19937 rng(8);
  for (int it = 0; it < 256; ++it) {
    uint8_t bytes[12];
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    uint32_t w[3];
    std::memcpy(w, bytes, 12);
    for (int j = 0; j < 8; ++j) {
      int sc, m, sc2, m2;
      unpack_scale_min_k4(bytes, j, sc, m);
      scale_min_k4(w, j, sc2, m2);
      EXPECT_EQ(sc, sc2);
      EXPECT_EQ(m, m2);
    }
    for (int j = 0; j < 16; ++j) EXPECT_EQ(unpack_scale_q3_k(bytes, j), scale_q3_k(w, j));
  }
}

}  // namespace
}  // namespace scout::cuda
