// Quantizers for IQ4_NL (blocks of 32, one fp16 scale) and IQ4_XS (256 values:
// eight IQ4_NL-like sub-blocks with 6-bit scales under one fp16 factor).
// Both map x ~ d * V[i] with V the 16 fixed non-linear levels kIq4Values.
//
// The scale search mirrors quant_k.cpp: try a spread of scales that put the
// extreme value at either end of V, solve least squares for the levels each
// picks, and finally round the scale to what the format can store, trying
// neighbours, by the real squared error.
// The loops over candidates and elements vectorise (see quant_common.h).
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/dequant.h"
#include "tensor/quant_common.h"

namespace scout::blocks {

namespace {

// The nearest level to t = x/d is the number of midpoints between
// neighbouring levels that lie below t. Counting them with comparisons (no
// search, no table lookup) lets the loops over many t vectorise.
struct Midpoints {
  float mid[15];   // between V[j] and V[j + 1]
  float step[15];  // V[j + 1] - V[j]
};
constexpr Midpoints kMid = [] {
  Midpoints m{};
  for (int j = 0; j < 15; ++j) {
    m.mid[j] = 0.5f * (kIq4Values[j] + kIq4Values[j + 1]);
    m.step[j] = static_cast<float>(kIq4Values[j + 1] - kIq4Values[j]);
  }
  return m;
}();

// Index of the nearest level (NaN: 0).
inline int level_index(float t) {
  int i = 0;
  for (int j = 0; j < 15; ++j) i += t > kMid.mid[j] ? 1 : 0;
  return i;
}

// Value of the nearest level, kIq4Values[level_index(t)] (exact: small integers).
inline float level_value(float t) {
  float v = kIq4Values[0];
  for (int j = 0; j < 15; ++j) v += t > kMid.mid[j] ? kMid.step[j] : 0.0f;
  return v;
}

// Squared errors against d*V[i] (i the nearest level) for K candidate d in one pass.
template <int K>
void level_errors(const float* x, int n, const float (&d)[K], float (&err)[K]) {
  float inv[K];
  for (int k = 0; k < K; ++k) inv[k] = d[k] != 0 ? 1 / d[k] : 0;
  float acc[K][kLanes] = {};
  for (int i = 0; i < n; i += kLanes)
    for (int k = 0; k < K; ++k)
      for (int l = 0; l < kLanes; ++l) {
        const float diff = x[i + l] - d[k] * level_value(x[i + l] * inv[k]);
        acc[k][l] += diff * diff;
      }
  for (int k = 0; k < K; ++k) err[k] = lane_sum(acc[k]);
}

// Packs the nearest levels of 32 values at scale d: element j in the low
// nibble of q[j], j+16 in the high one.
void pack_levels(const float* x, float d, uint8_t* q) {
  const float inv = d != 0 ? 1 / d : 0;
  for (int j = 0; j < 16; ++j)
    q[j] = static_cast<uint8_t>(level_index(x[j] * inv) | (level_index(x[j + 16] * inv) << 4));
}

// Scales tried with the extreme value at each end of V, moved by 0, +1, -1,
// +2, ... times kStep level units. 16 candidates fill one AVX-512 register;
// more of them, or alternating re-picking and re-solving afterwards, improve
// RMSE by under 0.3% (measured on gaussian and heavy-tailed data).
constexpr int kTries = 8;
constexpr float kStep = 2.0f;

// The d minimising sum (x - d*V[idx])^2 for a group of n (a multiple of
// kLanes; 0 if negligible).
float fit_levels(const float* x, int n) {
  const GroupStats st = group_stats(x, n);
  const float max = st.extreme();
  if (std::fabs(max) < kTinyGroup) return 0;
  const double noise = kSearchNoise * st.sxx;
  // V runs from -127 to 113: put the extreme near either end, stepping a few
  // level units either way. Every candidate is a lane.
  constexpr int L = 2 * kTries;
  float iscale[L];
  const float inv_max = 1 / max;
  for (int t = 0; t < kTries; ++t) {
    const float step = kStep * static_cast<float>(search_step(t));
    iscale[t] = (kIq4Values[0] - step) * inv_max;
    iscale[kTries + t] = (kIq4Values[15] + step) * inv_max;
  }
  float sxv[L] = {}, svv[L] = {};
  for (int i = 0; i < n; ++i) {
    const float xi = x[i];
    for (int c = 0; c < L; ++c) {
      const float v = level_value(xi * iscale[c]);
      sxv[c] += xi * v;
      svv[c] += v * v;
    }
  }
  // Least squares for fixed levels: d = <x,v>/<v,v>, leaving the residual
  // sum x^2 - <x,v>^2/<v,v>; the largest "gain" <x,v>^2/<v,v> = d*<x,v> wins
  // (<v,v> > 0: no level is 0). All lanes first, vectorised: no division
  // waits in the search below.
  float scale[L], gain[L];
  for (int c = 0; c < L; ++c) {
    scale[c] = sxv[c] / svv[c];
    gain[c] = scale[c] * sxv[c];
  }
  double best_gain = 0;
  float best_d = 0;
  for (int c = 0; c < L; ++c)
    if (gain[c] > best_gain + noise) {
      best_gain = gain[c];
      best_d = scale[c];
    }
  return best_d;
}

}  // namespace

void quant_iq4_nl(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK) {
    // fp16 rounding moves d a little; the neighbouring fp16 values may fit
    // better. The rounded value goes first (it wins ties); stepping the
    // magnitude bits keeps the sign; a step out of the finite values repeats it.
    const uint16_t h0 = fp32_to_fp16(fit_levels(src, QK));
    uint16_t h[5];
    float d[5];
    for (int k = 0; k < 5; ++k) {
      const int mag = (h0 & 0x7FFF) + search_step(k);  // 0, +1, -1, +2, -2
      h[k] = mag < 0 || mag >= 0x7C00 ? h0 : static_cast<uint16_t>((h0 & 0x8000) | mag);
      d[k] = fp16_to_fp32(h[k]);
    }
    float err[5];
    level_errors(src, QK, d, err);
    const int best = pick_smallest(err);
    IQ4_NL b{};
    b.d = h[best];
    pack_levels(src, d[best], b.qs);
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
      // c0 first so that it wins ties; a neighbour off the grid repeats it
      const int c[3] = {c0, c0 > -32 ? c0 - 1 : c0, c0 < 31 ? c0 + 1 : c0};
      float dc[3], err[3];
      for (int k = 0; k < 3; ++k) dc[k] = d * static_cast<float>(c[k]);  // d*(ls-32), the dequantizer's scale
      level_errors(x, 32, dc, err);
      const int best = pick_smallest(err);
      const int u = c[best] + 32;
      b.scales_l[j / 2] |= static_cast<uint8_t>((u & 0xF) << (4 * (j % 2)));
      b.scales_h = static_cast<uint16_t>(b.scales_h | ((u >> 4) << (2 * j)));
      pack_levels(x, dc[best], b.qs + 16 * j);
    }
    store(dst, i, b);
  }
}

}  // namespace scout::blocks
