// kernels/cuda/device_math.cuh compiled as host C++, against the CPU backend:
// the per-row math of the GPU's route, top_k, rope_table and attn_temperature
// kernels must give the CPU's results exactly; f16 rounding must be
// src/tensor/half.cpp's; the online-softmax merge of split-K attention must
// equal one softmax over all keys; the expert grouping must order (token,
// expert) pairs as the CPU's moe_ffn does, in tiles that cover every pair once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "kernels/cuda/device_math.cuh"
#include "tensor/dequant.h"

namespace scout::cuda {
namespace {

using backend::DType;
using backend::Tensor;

template <class T>
Tensor host_tensor(std::vector<T>& v, DType t, int64_t rows, int64_t cols) {
  return Tensor{v.data(), t, rows, cols};
}

TEST(CudaDeviceMath, F16RoundingIsHalfCpp) {
  std::mt19937 rng(1);
  std::vector<uint32_t> bits = {0u, 0x80000000u, 0x7F800000u, 0x477FF000u, 0x477FEFFFu, 0x38800000u, 0x387FFFFFu,
                                0x33000000u, 0x33000001u, 0x32FFFFFFu, 0x3F800000u, 0x3F801000u, 0x3F803000u};
  for (int i = 0; i < 200000; ++i) bits.push_back(rng());
  for (int e = 90; e < 160; ++e)  // every exponent around the half range, near-tie mantissas
    for (uint32_t m : {0x0u, 0xFFFu, 0x1000u, 0x1001u, 0x3000u, 0x7FFFFFu}) bits.push_back(static_cast<uint32_t>(e) << 23 | m);
  for (uint32_t b : bits) {
    const float f = bits_to_float(b);
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16_bits(f), fp32_to_fp16(f)) << std::hex << b;
  }
}

// Logits with ties (equal values at several indices) and negative values.
std::vector<float> tied_logits(int64_t n, int64_t E, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(-6, 6);
  std::vector<float> v(static_cast<size_t>(n * E));
  for (float& x : v) x = 0.25f * static_cast<float>(level(rng));
  return v;
}

TEST(CudaDeviceMath, RouteRowIsTheCpuRoute) {
  auto cpu = backend::make_cpu_backend();
  for (const int64_t E : {1, 4, 16, 128})
    for (const int64_t k : {1, 2, 4, 8}) {
      if (k > E) continue;
      const int64_t n = 37;
      std::vector<float> logits = tied_logits(n, E, static_cast<uint32_t>(E * 10 + k));
      for (const backend::Gating g : {backend::Gating::Sigmoid, backend::Gating::SoftmaxTopK}) {
        std::vector<int32_t> ex(static_cast<size_t>(n * k)), ex2(ex.size());
        std::vector<float> wt(ex.size()), wt2(ex.size());
        cpu->route(host_tensor(logits, DType::F32, n, E), g, host_tensor(ex, DType::I32, n, k),
                   host_tensor(wt, DType::F32, n, k));
        for (int64_t t = 0; t < n; ++t)
          route_row(logits.data() + t * E, static_cast<int>(E), static_cast<int>(k), g == backend::Gating::Sigmoid,
                    ex2.data() + t * k, wt2.data() + t * k);
        EXPECT_EQ(ex2, ex) << "E " << E << " k " << k;
        for (size_t i = 0; i < wt.size(); ++i) EXPECT_EQ(float_to_bits(wt2[i]), float_to_bits(wt[i])) << i;
      }
    }
}

TEST(CudaDeviceMath, TopKOrderIsTheCpuTopK) {
  auto cpu = backend::make_cpu_backend();
  const int64_t n = 5, cols = 300;
  std::vector<float> x = tied_logits(n, cols, 3);
  x[7] = -std::numeric_limits<float>::infinity();
  for (const int64_t k : {1, 10, 64}) {
    std::vector<int32_t> ids(static_cast<size_t>(n * k));
    std::vector<float> vals(ids.size());
    cpu->top_k(host_tensor(x, DType::F32, n, cols), host_tensor(ids, DType::I32, n, k), host_tensor(vals, DType::F32, n, k));
    for (int64_t t = 0; t < n; ++t) {
      // The kernel's rule: the next pick is the best remaining by topk_better.
      std::vector<bool> taken(static_cast<size_t>(cols), false);
      for (int64_t j = 0; j < k; ++j) {
        int32_t best = -1;
        for (int32_t c = 0; c < cols; ++c)
          if (!taken[static_cast<size_t>(c)] &&
              (best < 0 || topk_better(x[static_cast<size_t>(t * cols + c)], c, x[static_cast<size_t>(t * cols + best)], best)))
            best = c;
        taken[static_cast<size_t>(best)] = true;
        EXPECT_EQ(best, ids[static_cast<size_t>(t * k + j)]) << t << " " << j;
      }
    }
  }
}

TEST(CudaDeviceMath, RopeTableAndTemperatureAreTheCpus) {
  auto cpu = backend::make_cpu_backend();
  std::vector<int32_t> pos = {0, 1, 7, 8191, 8192, 100000, 9999999, 2147483000};
  std::vector<double> theta(32);
  for (size_t i = 0; i < theta.size(); ++i) theta[i] = std::pow(500000.0, -2.0 * static_cast<double>(i) / 64.0) / 1.7;
  const int64_t n = static_cast<int64_t>(pos.size()), half = static_cast<int64_t>(theta.size());
  std::vector<float> table(static_cast<size_t>(n * 2 * half)), temp(static_cast<size_t>(n));
  cpu->rope_table(host_tensor(pos, DType::I32, n, 1), host_tensor(theta, DType::F64, 1, half),
                  host_tensor(table, DType::F32, n, 2 * half));
  cpu->attn_temperature(host_tensor(pos, DType::I32, n, 1), 8192.0, 0.1, host_tensor(temp, DType::F32, n, 1));
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      float c, s;
      rope_entry(pos[static_cast<size_t>(t)], theta[static_cast<size_t>(i)], c, s);
      EXPECT_EQ(float_to_bits(c), float_to_bits(table[static_cast<size_t>((t * half + i) * 2)])) << t << " " << i;
      EXPECT_EQ(float_to_bits(s), float_to_bits(table[static_cast<size_t>((t * half + i) * 2 + 1)])) << t << " " << i;
    }
    EXPECT_EQ(float_to_bits(attn_temperature_of(pos[static_cast<size_t>(t)], 8192.0, 0.1)),
              float_to_bits(temp[static_cast<size_t>(t)]));
  }
}

// Split-K attention's partial states merged in order equal one softmax over
// all keys (to rounding), with empty splits anywhere.
TEST(CudaDeviceMath, SoftmaxMergeOfSplitsIsOneSoftmax) {
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (const int n_keys : {1, 5, 64, 1000})
    for (const int n_splits : {1, 3, 8, 32}) {
      std::vector<float> s(static_cast<size_t>(n_keys)), v(static_cast<size_t>(n_keys));
      for (int j = 0; j < n_keys; ++j) s[static_cast<size_t>(j)] = normal(rng), v[static_cast<size_t>(j)] = normal(rng);
      double mx = -1e300, den = 0, num = 0;
      for (int j = 0; j < n_keys; ++j) mx = std::max(mx, static_cast<double>(s[static_cast<size_t>(j)]));
      for (int j = 0; j < n_keys; ++j) {
        const double e = std::exp(s[static_cast<size_t>(j)] - mx);
        den += e;
        num += e * v[static_cast<size_t>(j)];
      }
      // Each split's own online state, as the decode kernel leaves it.
      float m = -INFINITY, l = 0.0f, acc = 0.0f;
      int64_t covered = 0;
      for (int sp = 0; sp < n_splits; ++sp) {
        int64_t k0, k1;
        split_keys(0, n_keys - 1, n_splits, sp, 16, k0, k1);
        float sm = -INFINITY, sl = 0.0f, sacc = 0.0f;
        for (int64_t j = k0; j < k1; ++j) sm = std::max(sm, s[static_cast<size_t>(j)]);
        for (int64_t j = k0; j < k1; ++j) {
          const float e = std::exp(s[static_cast<size_t>(j)] - sm);
          sl += e;
          sacc += e * v[static_cast<size_t>(j)];
        }
        covered += k1 - k0;
        float nm, nl, c1, c2;
        softmax_merge(m, l, sm, sl, nm, nl, c1, c2);
        acc = acc * c1 + sacc * c2;
        m = nm, l = nl;
      }
      EXPECT_EQ(covered, n_keys);
      EXPECT_NEAR(acc / l, num / den, 1e-5 * (1 + std::abs(num / den))) << n_keys << " keys, " << n_splits << " splits";
    }
  // Nothing visible: both sides empty stay empty (no NaN).
  float m, l, c1, c2;
  softmax_merge(-INFINITY, 0.0f, -INFINITY, 0.0f, m, l, c1, c2);
  EXPECT_EQ(l, 0.0f);
  EXPECT_EQ(c1, 0.0f);
}

TEST(CudaDeviceMath, VisibleKeysAndSplitsCoverTheRange) {
  backend::AttentionParams p;
  for (const int64_t chunk : {0, 8, 24})
    for (const int64_t base : {0, 16})
      for (int64_t pos = base; pos < base + 70; ++pos) {
        p.chunk_size = chunk;
        int64_t lo, hi;
        visible_keys(pos, chunk, base, pos - base + 1, lo, hi);
        EXPECT_EQ(lo, std::max(p.first_visible(pos), base));
        EXPECT_EQ(hi, pos);
        for (const int n_splits : {1, 2, 7, 64}) {
          int64_t next = lo;
          for (int s = 0; s < n_splits; ++s) {
            int64_t k0, k1;
            split_keys(lo, hi, n_splits, s, 64, k0, k1);
            if (k1 > k0) {
              EXPECT_EQ(k0, next);
              EXPECT_EQ((k0 - lo) % 64, 0);
              next = k1;
            }
          }
          EXPECT_EQ(next, hi + 1);
        }
      }
}

TEST(CudaDeviceMath, ExpertGroupingIsTheCpuOrder) {
  std::mt19937 rng(6);
  for (const int E : {1, 3, 16, 128})
    for (const int64_t P : {1, 7, 64, 1000})
      for (const int tile_rows : {8, 64}) {
        std::vector<int32_t> experts(static_cast<size_t>(P));
        for (int32_t& e : experts) e = static_cast<int32_t>(rng() % static_cast<uint32_t>(E));
        std::vector<int32_t> counts(static_cast<size_t>(E), 0), offsets(static_cast<size_t>(E));
        for (int32_t e : experts) counts[static_cast<size_t>(e)]++;
        std::vector<RowTile> tiles(static_cast<size_t>(moe_max_tiles(P, E, tile_rows)));
        const int n = moe_tiles(counts.data(), E, tile_rows, offsets.data(), tiles.data());
        EXPECT_LE(n, static_cast<int>(tiles.size()));
        std::vector<int32_t> sorted(static_cast<size_t>(P), -1), pos(static_cast<size_t>(P), -1);
        for (int e = 0; e < E; ++e)
          moe_scatter_expert(e, experts.data(), P, offsets[static_cast<size_t>(e)], sorted.data(), pos.data());
        // The CPU's order: experts ascending, each one's pairs in order.
        std::vector<int32_t> want;
        for (int e = 0; e < E; ++e)
          for (int64_t i = 0; i < P; ++i)
            if (experts[static_cast<size_t>(i)] == e) want.push_back(static_cast<int32_t>(i));
        EXPECT_EQ(sorted, want);
        for (int64_t i = 0; i < P; ++i) EXPECT_EQ(sorted[static_cast<size_t>(pos[static_cast<size_t>(i)])], i);
        // Tiles: one expert each, at most tile_rows, covering [0, P) in order.
        int32_t next = 0;
        for (int t = 0; t < n; ++t) {
          const RowTile& rt = tiles[static_cast<size_t>(t)];
          EXPECT_EQ(rt.start, next);
          EXPECT_GE(rt.count, 1);
          EXPECT_LE(rt.count, tile_rows);
          for (int32_t r = rt.start; r < rt.start + rt.count; ++r)
            EXPECT_EQ(experts[static_cast<size_t>(sorted[static_cast<size_t>(r)])], rt.expert);
          next = rt.start + rt.count;
        }
        EXPECT_EQ(next, P);
      }
}

}  // namespace
}  // namespace scout::cuda
