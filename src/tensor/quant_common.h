// Private to src/tensor: small helpers shared by the searching quantizers
// (quant_k.cpp, quant_iq4.cpp).
//
// Speed comes from loops the compiler can vectorise: levels are rounded and
// clamped as floats without branches, and sums are kept in a fixed set of
// lanes (one per candidate scale, or one per element position) and added up
// in a fixed order at the end, so the results are identical from run to run
// and for any thread count.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "tensor/blocks.h"

namespace scout::blocks {

template <typename Block>
void store(uint8_t* dst, int64_t i, const Block& b) {
  std::memcpy(dst + i * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}

// v rounded to the nearest integer (ties to even) and clamped to [lo, hi], as
// a float; NaN goes to lo. Branch-free.
inline float level_of(float v, float lo, float hi) {
  v = std::nearbyint(v);
  v = v > lo ? v : lo;
  return v < hi ? v : hi;
}

// Element-position lanes: group sizes (16, 32) are multiples of this.
constexpr int kLanes = 16;

// The lanes added up pairwise, always in the same order.
inline float lane_sum(const float* a) {
  static_assert(kLanes == 16);
  float b[8], c[4];
  for (int l = 0; l < 8; ++l) b[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; ++l) c[l] = b[l] + b[l + 4];
  return (c[0] + c[2]) + (c[1] + c[3]);
}

// Smallest and largest value, sum and sum of squares of a group (n a multiple
// of kLanes; the sums are float lanes, kept as double for the callers' algebra).
struct GroupStats {
  float lo = 0, hi = 0;
  double sx = 0, sxx = 0;
  // The value of largest magnitude (the positive one on a tie).
  float extreme() const { return -lo > hi ? lo : hi; }
};

inline GroupStats group_stats(const float* x, int n) {
  float lo[kLanes], hi[kLanes], s[kLanes] = {}, ss[kLanes] = {};
  for (int l = 0; l < kLanes; ++l) lo[l] = hi[l] = x[l];
  for (int i = 0; i < n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float v = x[i + l];
      lo[l] = v < lo[l] ? v : lo[l];
      hi[l] = v > hi[l] ? v : hi[l];
      s[l] += v;
      ss[l] += v * v;
    }
  GroupStats g;
  g.lo = lo[0];
  g.hi = hi[0];
  for (int l = 1; l < kLanes; ++l) {
    g.lo = lo[l] < g.lo ? lo[l] : g.lo;
    g.hi = hi[l] > g.hi ? hi[l] : g.hi;
  }
  g.sx = lane_sum(s);
  g.sxx = lane_sum(ss);
  return g;
}

// The candidate with the smallest error, the first on ties (and if all are NaN).
template <int K>
int pick_smallest(const float (&err)[K]) {
  int best = 0;
  for (int k = 1; k < K; ++k)
    if (err[k] < err[best]) best = k;
  return best;
}

// A candidate must beat the best so far by more than this fraction of sum x^2:
// the candidates' sums are float, so smaller differences are rounding noise,
// and on a tie the earlier (plainer) candidate stays.
constexpr double kSearchNoise = 1e-6;

}  // namespace scout::blocks
