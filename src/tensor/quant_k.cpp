// Quantizers for the K-quant super-blocks (Q2_K .. Q6_K, Q8_K).
//
// The formats have two levels of scale: each sub-block of 16 or 32 values gets
// its own scale (and, for the affine types, an offset), and those are in turn
// stored as small integers times one fp16 factor per 256 values. So:
//  1. fit each sub-block on its own: search for the scale (and offset) that
//     minimises the squared error, by trying a spread of step sizes around
//     "the extreme value hits the last level", solving least squares for the
//     levels each one picks, then alternating re-rounding and re-solving;
//  2. choose the fp16 super-block factor from the largest sub-block scale;
//  3. round every sub-block scale to the integer grid, trying the neighbours
//     of the rounded value and keeping the one with the smallest real error
//     (with the levels re-picked for that exact dequantized scale).
// The error is plain unweighted squared error, the quantity the tests measure.
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

// ---- symmetric groups: x ~ s * q, q in [-nmax, nmax - 1] -----------------

// The nearest level for every x at step s (all 0 when s is 0).
void sym_assign(const float* x, int n, float s, int nmax, int* q) {
  const float inv = s != 0 ? 1 / s : 0;
  for (int i = 0; i < n; ++i) q[i] = round_clamp(x[i] * inv, -nmax, nmax - 1);
}

// Squared error of x against s*q with q the nearest level; fills q.
float sym_error(const float* x, int n, float s, int nmax, int* q) {
  sym_assign(x, n, s, nmax, q);
  float err = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - s * q[i];
    err += diff * diff;
  }
  return err;
}

struct SymFit {
  float s = 0;
  double err = 0;  // sum of squared residuals
};

// Least squares for fixed levels q: s = <x,q>/<q,q>, and the residual
// sum x^2 - <x,q>^2/<q,q> from the sums alone (sxx = sum x^2).
SymFit sym_solve(const float* x, int n, const int* q, double sxx) {
  double sxq = 0, sqq = 0;
  for (int i = 0; i < n; ++i) {
    sxq += static_cast<double>(x[i]) * q[i];
    sqq += static_cast<double>(q[i]) * q[i];
  }
  if (sqq <= 0) return {0, sxx};
  return {static_cast<float>(sxq / sqq), sxx - sxq * sxq / sqq};
}

// The scale s minimising sum (x - s*q)^2 (0 for a negligible group).
float fit_symmetric(const float* x, int n, int nmax) {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < kTinyGroup) return 0;
  double sxx = 0;
  for (int i = 0; i < n; ++i) sxx += static_cast<double>(x[i]) * x[i];
  int q[QK_K];
  SymFit best{0, sxx};  // all levels zero
  // The levels are lopsided (one more negative), so try mapping the extreme to
  // either end, each with step sizes a little larger and smaller.
  for (int end = 0; end < 2; ++end) {
    const float target = end == 0 ? -static_cast<float>(nmax) : static_cast<float>(nmax - 1);
    for (int t = 0; t <= 20; ++t) {
      const float iscale = (target + (target < 0 ? -0.1f : 0.1f) * search_step(t)) / max;
      for (int i = 0; i < n; ++i) q[i] = round_clamp(iscale * x[i], -nmax, nmax - 1);
      const SymFit fit = sym_solve(x, n, q, sxx);
      if (fit.err < best.err - kNoise * sxx) best = fit;
    }
  }
  // Alternate: re-pick levels for the best scale, re-solve the scale.
  for (int iter = 0; iter < 8; ++iter) {
    sym_assign(x, n, best.s, nmax, q);
    const SymFit fit = sym_solve(x, n, q, sxx);
    if (!(fit.err < best.err - kNoise * sxx)) break;
    best = fit;
  }
  return best.s;
}

// Rounds a sub-block scale s to the integer grid c * d (c in [lo, hi]), trying
// the neighbours too; writes the levels for the winner and returns c.
int pick_sym_scale(const float* x, int n, float s, float d, int lo, int hi, int nmax, int* q) {
  const int c0 = d != 0 ? round_clamp(s / d, lo, hi) : 0;
  int best_c = c0;
  float best_err = INFINITY;  // the first candidate is always taken, even if its error overflows
  int tmp[QK_K];
  for (int c = c0 - 1; c <= c0 + 1; ++c) {
    if (c < lo || c > hi) continue;
    const float err = sym_error(x, n, d * c, nmax, tmp);  // d*c: the dequantizer's scale
    if (err < best_err || best_err == INFINITY) {
      best_err = err;
      best_c = c;
      std::memcpy(q, tmp, sizeof(int) * n);
    }
  }
  return best_c;
}

// ---- affine groups: x ~ s * q - m, q in [0, nmax], s >= 0, m >= 0 ---------

struct Affine {
  float s = 0;  // step
  float m = 0;  // subtracted minimum (the formats store it unsigned)
};

void affine_assign(const float* x, int n, Affine a, int nmax, int* q) {
  const float inv = a.s > 0 ? 1 / a.s : 0;
  for (int i = 0; i < n; ++i) q[i] = round_clamp((x[i] + a.m) * inv, 0, nmax);
}

// Squared error of x against s*q - m with q the nearest level; fills q.
float affine_error(const float* x, int n, Affine a, int nmax, int* q) {
  affine_assign(x, n, a, nmax, q);
  float err = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - (a.s * q[i] - a.m);
    err += diff * diff;
  }
  return err;
}

struct AffineFit {
  Affine a;
  double err = 0;
};

// Least squares for s and m with the levels q fixed, keeping m >= 0 and s >= 0,
// and the residual from the sums (sxx = sum x^2, sx = sum x).
AffineFit affine_solve(const float* x, int n, const int* q, double sxx, double sx) {
  double sq = 0, sqq = 0, sxq = 0;
  for (int i = 0; i < n; ++i) {
    sq += q[i];
    sqq += static_cast<double>(q[i]) * q[i];
    sxq += static_cast<double>(x[i]) * q[i];
  }
  const double det = n * sqq - sq * sq;
  double s = 0, m = 0;
  if (det > 0) {
    s = (n * sxq - sx * sq) / det;
    m = -(sqq * sx - sq * sxq) / det;
  }
  if (m < 0 || det <= 0) {  // a positive offset is not representable: pin it at 0
    m = 0;
    s = sqq > 0 ? sxq / sqq : 0;
  }
  if (s < 0) {  // no increasing fit: best constant
    s = 0;
    m = sx < 0 ? -sx / n : 0;
  }
  // sum (x - s*q + m)^2, expanded
  const double err = sxx + s * s * sqq + n * m * m - 2 * s * sxq + 2 * m * sx - 2 * s * m * sq;
  return {{static_cast<float>(s), static_cast<float>(m)}, err};
}

Affine fit_affine(const float* x, int n, int nmax) {
  float lo = x[0], hi = x[0];
  double sxx = 0, sx = 0;
  for (int i = 0; i < n; ++i) {
    lo = std::fmin(lo, x[i]);
    hi = std::fmax(hi, x[i]);
    sxx += static_cast<double>(x[i]) * x[i];
    sx += x[i];
  }
  if (lo > 0) lo = 0;             // the offset can only pull values down
  if (hi == lo) return {0, -lo};  // constant (non-positive) group: exact
  int q[QK_K];
  AffineFit best{{(hi - lo) / nmax, -lo}, INFINITY};
  for (int t = 0; t <= 20; ++t) {
    const float iscale = (nmax + 0.1f * search_step(t)) / (hi - lo);
    for (int i = 0; i < n; ++i) q[i] = round_clamp(iscale * (x[i] - lo), 0, nmax);
    const AffineFit fit = affine_solve(x, n, q, sxx, sx);
    if (fit.err < best.err - kNoise * sxx) best = fit;
  }
  for (int iter = 0; iter < 8; ++iter) {
    affine_assign(x, n, best.a, nmax, q);
    const AffineFit fit = affine_solve(x, n, q, sxx, sx);
    if (!(fit.err < best.err - kNoise * sxx)) break;
    best = fit;
  }
  return best.a;
}

// Rounds (s, m) to the grids (c * d, k * dmin) with c, k in [0, cmax], trying
// the neighbours of each; writes the winner's levels and returns it in c, k.
void pick_affine_scale(const float* x, int n, Affine a, float d, float dmin, int cmax, int nmax,
                       int& best_c, int& best_k, int* q) {
  const int c0 = d > 0 ? round_clamp(a.s / d, 0, cmax) : 0;
  const int k0 = dmin > 0 ? round_clamp(a.m / dmin, 0, cmax) : 0;
  best_c = c0;
  best_k = k0;
  float best_err = INFINITY;  // the first candidate is always taken, even if its error overflows
  int tmp[QK_K];
  for (int c = c0 - 1; c <= c0 + 1; ++c) {
    for (int k = k0 - 1; k <= k0 + 1; ++k) {
      if (c < 0 || c > cmax || k < 0 || k > cmax) continue;
      // d*c and dmin*k are exactly the dequantizer's step and minimum
      const float err = affine_error(x, n, {d * c, dmin * k}, nmax, tmp);
      if (err < best_err || best_err == INFINITY) {
        best_err = err;
        best_c = c;
        best_k = k;
        std::memcpy(q, tmp, sizeof(int) * n);
      }
    }
  }
}

// Shared by Q4_K and Q5_K: eight affine sub-blocks of 32, 6-bit scales and
// mins. Fills the fp16 factors, the packed scales and the 256 levels.
void quant_k4_scales(const float* x, int nmax, uint16_t& d_bits, uint16_t& dmin_bits,
                     uint8_t scales[12], int* q) {
  Affine fit[8];
  float max_s = 0, max_m = 0;
  for (int j = 0; j < 8; ++j) {
    fit[j] = fit_affine(x + 32 * j, 32, nmax);
    max_s = std::fmax(max_s, fit[j].s);
    max_m = std::fmax(max_m, fit[j].m);
  }
  d_bits = fp32_to_fp16(max_s / 63);
  dmin_bits = fp32_to_fp16(max_m / 63);
  const float d = fp16_to_fp32(d_bits), dmin = fp16_to_fp32(dmin_bits);
  int sc[8], mn[8];
  for (int j = 0; j < 8; ++j)
    pick_affine_scale(x + 32 * j, 32, fit[j], d, dmin, 63, nmax, sc[j], mn[j], q + 32 * j);
  pack_scale_min_k4(sc, mn, scales);
}

}  // namespace

void quant_q2_K(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK_K) {
    Affine fit[16];
    float max_s = 0, max_m = 0;
    for (int j = 0; j < 16; ++j) {
      fit[j] = fit_affine(src + 16 * j, 16, 3);
      max_s = std::fmax(max_s, fit[j].s);
      max_m = std::fmax(max_m, fit[j].m);
    }
    Q2_K b{};
    b.d = fp32_to_fp16(max_s / 15);
    b.dmin = fp32_to_fp16(max_m / 15);
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    int q[QK_K];
    for (int j = 0; j < 16; ++j) {
      int c = 0, k = 0;
      pick_affine_scale(src + 16 * j, 16, fit[j], d, dmin, 15, 3, c, k, q + 16 * j);
      b.scales[j] = static_cast<uint8_t>(c | (k << 4));
    }
    // Element 128h + 32p + l (p = 2-bit plane) sits in qs[32h + l], bits 2p.
    for (int e = 0; e < QK_K; ++e)
      b.qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>(q[e] << (2 * ((e % 128) / 32)));
    store(dst, i, b);
  }
}

void quant_q3_K(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK_K) {
    float s[16];
    for (int j = 0; j < 16; ++j) s[j] = fit_symmetric(src + 16 * j, 16, 4);
    const float max_s = signed_absmax(s, 16);
    Q3_K b{};
    b.d = fp32_to_fp16(max_s / -32);  // the largest scale gets the extra negative level
    const float d = fp16_to_fp32(b.d);
    int q[QK_K];
    for (int j = 0; j < 16; ++j) {
      const int c = pick_sym_scale(src + 16 * j, 16, s[j], d, -32, 31, 4, q + 16 * j);
      const int u = c + 32;  // stored unsigned, 6 bits
      if (j < 8) b.scales[j] |= static_cast<uint8_t>(u & 0xF);
      else b.scales[j - 8] |= static_cast<uint8_t>((u & 0xF) << 4);
      b.scales[8 + j % 4] |= static_cast<uint8_t>((u >> 4) << (2 * (j / 4)));
    }
    // Level q + 4 in [0, 7]: low 2 bits as in Q2_K, the third bit in hmask.
    for (int e = 0; e < QK_K; ++e) {
      const int u = q[e] + 4;
      const int plane = (e % 128) / 32, idx = e % 32;
      b.qs[32 * (e / 128) + idx] |= static_cast<uint8_t>((u & 3) << (2 * plane));
      if (u & 4) b.hmask[idx] |= static_cast<uint8_t>(1 << (4 * (e / 128) + plane));
    }
    store(dst, i, b);
  }
}

void quant_q4_K(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK_K) {
    Q4_K b{};
    int q[QK_K];
    quant_k4_scales(src, 15, b.d, b.dmin, b.scales, q);
    // Each 64 elements: the first 32 in low nibbles, the next 32 in high nibbles.
    for (int p = 0; p < 4; ++p)
      for (int l = 0; l < 32; ++l)
        b.qs[32 * p + l] = static_cast<uint8_t>(q[64 * p + l] | (q[64 * p + 32 + l] << 4));
    store(dst, i, b);
  }
}

void quant_q5_K(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK_K) {
    Q5_K b{};
    int q[QK_K];
    quant_k4_scales(src, 31, b.d, b.dmin, b.scales, q);
    for (int p = 0; p < 4; ++p)
      for (int l = 0; l < 32; ++l) {
        const int lo = q[64 * p + l], hi = q[64 * p + 32 + l];
        b.qs[32 * p + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        // 5th bit of sub-block s (= 2p or 2p+1) goes to bit s of qh[l]
        b.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1)));
      }
    store(dst, i, b);
  }
}

void quant_q6_K(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK_K) {
    float s[16];
    for (int j = 0; j < 16; ++j) s[j] = fit_symmetric(src + 16 * j, 16, 32);
    const float max_s = signed_absmax(s, 16);
    Q6_K b{};
    b.d = fp32_to_fp16(max_s / -128);  // int8 scales: the largest gets -128
    const float d = fp16_to_fp32(b.d);
    int q[QK_K];
    for (int j = 0; j < 16; ++j)
      b.scales[j] = static_cast<int8_t>(pick_sym_scale(src + 16 * j, 16, s[j], d, -128, 127, 32, q + 16 * j));
    // Element 128h + 32k + l: low nibble in ql[64h + l + 32(k&1)] (high half
    // of the byte when k >= 2), top 2 bits at bits 2k of qh[32h + l].
    for (int e = 0; e < QK_K; ++e) {
      const int u = q[e] + 32;
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      b.ql[64 * h + l + 32 * (k & 1)] |= static_cast<uint8_t>((u & 0xF) << (4 * (k >> 1)));
      b.qh[32 * h + l] |= static_cast<uint8_t>((u >> 4) << (2 * k));
    }
    store(dst, i, b);
  }
}

// Q8_K (the activation format of K-quant dot products): one f32 scale, the
// extreme value maps to -127 exactly.
void quant_q8_K(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK_K) {
    Q8_K b{};
    const float max = signed_absmax(src, QK_K);
    if (max != 0) {
      const float iscale = -127.0f / max;
      for (int j = 0; j < QK_K; ++j) b.qs[j] = static_cast<int8_t>(round_clamp(iscale * src[j], -127, 127));
      b.d = 1 / iscale;
    }
    for (int j = 0; j < QK_K; ++j) b.bsums[j / 16] = static_cast<int16_t>(b.bsums[j / 16] + b.qs[j]);
    store(dst, i, b);
  }
}

}  // namespace scout::blocks
