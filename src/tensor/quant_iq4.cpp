// Quantizers for IQ4_NL (blocks of 32, one fp16 scale) and IQ4_XS (256 values:
// eight IQ4_NL-like sub-blocks with 6-bit scales under one fp16 factor).
// Both map x ~ d * V[i] with V the 16 fixed non-linear levels kIq4Values.
//
// The scale search mirrors quant_k.cpp: try a spread of scales that put the
// extreme value at either end of V, solve least squares for the levels each
// picks, alternate re-picking and re-solving, and finally round the scale to
// what the format can store, trying neighbours, by the real squared error.
#include <array>
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/dequant.h"

namespace scout::blocks {

namespace {

template <typename Block>
void store(uint8_t* dst, int64_t i, const Block& b) {
  std::memcpy(dst + i * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}

// Index of the level nearest to t: count the midpoints between neighbouring
// levels that lie below t (a 4-step binary search over the 15 midpoints).
int nearest_level(float t) {
  static constexpr auto kMid = [] {
    std::array<float, 15> m{};
    for (int i = 0; i < 15; ++i) m[i] = 0.5f * (kIq4Values[i] + kIq4Values[i + 1]);
    return m;
  }();
  int i = 0;
  for (int step = 8; step >= 1; step /= 2)
    if (t > kMid[i + step - 1]) i += step;
  return i;
}

void level_assign(const float* x, int n, float d, int* idx) {
  const float inv = d != 0 ? 1 / d : 0;
  for (int j = 0; j < n; ++j) idx[j] = nearest_level(x[j] * inv);
}

// Squared error of x against d*V[idx] with the nearest levels; fills idx.
float level_error(const float* x, int n, float d, int* idx) {
  level_assign(x, n, d, idx);
  float err = 0;
  for (int j = 0; j < n; ++j) {
    const float diff = x[j] - d * kIq4Values[idx[j]];
    err += diff * diff;
  }
  return err;
}

struct LevelFit {
  float d = 0;
  double err = 0;
};

// Least-squares d for fixed levels, with the residual from the sums (sxx = sum x^2).
LevelFit level_solve(const float* x, int n, const int* idx, double sxx) {
  double sxv = 0, svv = 0;
  for (int j = 0; j < n; ++j) {
    const double v = kIq4Values[idx[j]];
    sxv += x[j] * v;
    svv += v * v;
  }
  if (svv <= 0) return {0, sxx};
  return {static_cast<float>(sxv / svv), sxx - sxv * sxv / svv};
}

// The d minimising sum (x - d*V[idx])^2 for a group of n <= 32 (0 if negligible).
float fit_levels(const float* x, int n) {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < kTinyGroup) return 0;
  double sxx = 0;
  for (int j = 0; j < n; ++j) sxx += static_cast<double>(x[j]) * x[j];
  int idx[32];
  LevelFit best{0, INFINITY};
  // V runs from -127 to 113: put the extreme near either end, stepping a few
  // level-units either way.
  for (const float end : {static_cast<float>(kIq4Values[0]), static_cast<float>(kIq4Values[15])}) {
    for (int t = 0; t <= 16; ++t) {
      level_assign(x, n, max / (end + (end < 0 ? -1.0f : 1.0f) * search_step(t)), idx);
      const LevelFit fit = level_solve(x, n, idx, sxx);
      if (fit.err < best.err - kNoise * sxx) best = fit;
    }
  }
  for (int iter = 0; iter < 8; ++iter) {
    level_assign(x, n, best.d, idx);
    const LevelFit fit = level_solve(x, n, idx, sxx);
    if (!(fit.err < best.err - kNoise * sxx)) break;
    best = fit;
  }
  return best.d;
}

// Packs 32 indexes: element j in the low nibble of q[j], j+16 in the high one.
void pack_nibbles(const int* idx, uint8_t* q) {
  for (int j = 0; j < 16; ++j) q[j] = static_cast<uint8_t>(idx[j] | (idx[j + 16] << 4));
}

}  // namespace

void quant_iq4_nl(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK) {
    const float d = fit_levels(src, QK);
    // fp16 rounding moves d a little; the neighbouring fp16 values may fit better.
    const uint16_t h0 = fp32_to_fp16(d);
    uint16_t best_h = h0;
    float best_err = INFINITY;  // the first candidate is always taken, even if its error overflows
    int idx[QK], best_idx[QK] = {};
    for (int delta = -2; delta <= 2; ++delta) {
      // Stepping the magnitude bits keeps the sign; stay within the finite values.
      const int mag = (h0 & 0x7FFF) + delta;
      if (mag < 0 || mag >= 0x7C00) continue;
      const uint16_t h = static_cast<uint16_t>((h0 & 0x8000) | mag);
      const float err = level_error(src, QK, fp16_to_fp32(h), idx);
      if (err < best_err || best_err == INFINITY) {
        best_err = err;
        best_h = h;
        std::memcpy(best_idx, idx, sizeof idx);
      }
    }
    IQ4_NL b{};
    b.d = best_h;
    pack_nibbles(best_idx, b.qs);
    store(dst, i, b);
  }
}

void quant_iq4_xs(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK_K) {
    float s[8];
    for (int j = 0; j < 8; ++j) s[j] = fit_levels(src + 32 * j, 32);
    IQ4_XS b{};
    b.d = fp32_to_fp16(signed_absmax(s, 8) / -32);  // the largest scale gets the extra level -32
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < 8; ++j) {
      const float* x = src + 32 * j;
      const int c0 = d != 0 ? round_clamp(s[j] / d, -32, 31) : 0;
      int best_c = c0, idx[32], best_idx[32] = {};
      float best_err = INFINITY;  // the first candidate is always taken, even if its error overflows
      for (int c = c0 - 1; c <= c0 + 1; ++c) {
        if (c < -32 || c > 31) continue;
        const float err = level_error(x, 32, d * c, idx);  // d*(ls-32), the dequantizer's scale
        if (err < best_err || best_err == INFINITY) {
          best_err = err;
          best_c = c;
          std::memcpy(best_idx, idx, sizeof idx);
        }
      }
      const int u = best_c + 32;
      b.scales_l[j / 2] |= static_cast<uint8_t>((u & 0xF) << (4 * (j % 2)));
      b.scales_h = static_cast<uint16_t>(b.scales_h | ((u >> 4) << (2 * j)));
      pack_nibbles(best_idx, b.qs + 16 * j);
    }
    store(dst, i, b);
  }
}

}  // namespace scout::blocks
