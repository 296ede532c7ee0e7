// Quantizers for the K-quant super-blocks (Q2_K .. Q6_K, Q8_K).
//
// The formats have two levels of scale: each sub-block of 16 or 32 values gets
// its own scale (and, for the affine types, an offset), and those are in turn
// stored as small integers times one fp16 factor per 256 values. So:
//  1. fit each sub-block on its own: search for the scale (and offset) that
//     minimises the squared error, by trying a spread of step sizes around
//     "the extreme value hits the last level" and solving least squares for
//     the levels each one picks (all candidates in one vectorised pass);
//  2. choose the fp16 super-block factor from the largest sub-block scale;
//  3. round every sub-block scale to the integer grid, trying the neighbours
//     of the rounded value and keeping the one with the smallest real error
//     (with the levels re-picked for that exact dequantized scale).
// The error is plain unweighted squared error, the quantity the tests measure.
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/dequant.h"
#include "tensor/quant_common.h"

namespace scout::blocks {

namespace {

// Every group is fitted as x ~ s*q - m with integer levels q in [qlo, qhi]:
// the symmetric formats (Q3_K, Q6_K) have m = 0 and q in [-nmax, nmax - 1],
// the affine ones (Q2_K, Q4_K, Q5_K) q in [0, nmax] and m >= 0.
struct Affine {
  float s = 0;  // step
  float m = 0;  // subtracted minimum (the affine formats store it unsigned)
};

struct Levels {
  float lo, hi;
};
Levels symmetric_levels(int nmax) { return {static_cast<float>(-nmax), static_cast<float>(nmax - 1)}; }
Levels affine_levels(int nmax) { return {0, static_cast<float>(nmax)}; }

// Squared errors against s*q - m (q the nearest level) for K candidates in one
// pass over x.
template <int K>
void level_errors(const float* x, int n, const Affine (&cand)[K], Levels lv, float (&err)[K]) {
  float s[K], m[K], inv[K];
  for (int k = 0; k < K; ++k) {
    s[k] = cand[k].s;
    m[k] = cand[k].m;
    inv[k] = s[k] != 0 ? 1 / s[k] : 0;
  }
  float acc[K][kLanes] = {};
  for (int i = 0; i < n; i += kLanes)
    for (int k = 0; k < K; ++k)
      for (int l = 0; l < kLanes; ++l) {
        const float v = x[i + l];
        const float q = level_of((v + m[k]) * inv[k], lv.lo, lv.hi);
        const float diff = v - (s[k] * q - m[k]);
        acc[k][l] += diff * diff;
      }
  for (int k = 0; k < K; ++k) err[k] = lane_sum(acc[k]);
}

void assign_levels(const float* x, int n, Affine a, Levels lv, int* q) {
  const float inv = a.s != 0 ? 1 / a.s : 0;
  for (int i = 0; i < n; ++i) q[i] = static_cast<int>(level_of((x[i] + a.m) * inv, lv.lo, lv.hi));
}

// The searches try step sizes around "the extreme value on the last level":
// kSymTries per end of the level range for the symmetric fit, kAffineTries
// for the affine one, moved by 0, +1, -1, +2, ... times kSymStep/kAffineStep
// levels. 16 candidates fill one AVX-512 register. Measured on gaussian and
// heavy-tailed data: more candidates, or alternating re-rounding and
// re-solving afterwards, improve RMSE by under 0.3% at 10-20% more time.
constexpr int kSymTries = 8;
constexpr float kSymStep = 0.2f;
constexpr int kAffineTries = 16;
constexpr float kAffineStep = 0.15f;

// ---- symmetric groups -------------------------------------------------------

// The scale s minimising sum (x - s*q)^2 (0 for a negligible group).
float fit_symmetric(const float* x, int n, int nmax) {
  const GroupStats st = group_stats(x, n);
  const float max = st.extreme();
  if (std::fabs(max) < kTinyGroup) return 0;
  const double noise = kSearchNoise * st.sxx;
  const Levels lv = symmetric_levels(nmax);
  // The levels are lopsided (one more negative), so try mapping the extreme to
  // either end, each with step sizes a little larger and smaller. Every
  // candidate is a lane: all their levels and sums come from one pass over x.
  constexpr int L = 2 * kSymTries;
  float iscale[L];
  const float inv_max = 1 / max;
  for (int t = 0; t < kSymTries; ++t) {
    const float step = kSymStep * static_cast<float>(search_step(t));
    iscale[t] = (lv.lo - step) * inv_max;
    iscale[kSymTries + t] = (lv.hi + step) * inv_max;
  }
  float sxq[L] = {}, sqq[L] = {};
  for (int i = 0; i < n; ++i) {
    const float xi = x[i];
    for (int c = 0; c < L; ++c) {
      const float q = level_of(xi * iscale[c], lv.lo, lv.hi);
      sxq[c] += xi * q;
      sqq[c] += q * q;
    }
  }
  // Least squares for fixed levels: s = <x,q>/<q,q> leaves the residual
  // sum x^2 - <x,q>^2/<q,q>, so the best candidate has the largest "gain"
  // <x,q>^2/<q,q> = s*<x,q> (0 when all levels are 0, and then so is <x,q>).
  // All lanes first, vectorised: no division waits in the search below.
  float scale[L], gain[L];
  for (int c = 0; c < L; ++c) {
    scale[c] = sxq[c] / (sqq[c] > 0 ? sqq[c] : 1.0f);
    gain[c] = scale[c] * sxq[c];
  }
  double best_gain = 0;
  float best_s = 0;
  for (int c = 0; c < L; ++c)
    if (gain[c] > best_gain + noise) {
      best_gain = gain[c];
      best_s = scale[c];
    }
  return best_s;
}

// Rounds a sub-block scale s to the integer grid c * d (c in [lo, hi]), trying
// the neighbours too; writes the levels for the winner and returns c.
int pick_sym_scale(const float* x, int n, float s, float d, int lo, int hi, int nmax, int* q) {
  const int c0 = d != 0 ? round_clamp(s / d, lo, hi) : 0;
  // c0 first so that it wins ties; a neighbour off the grid repeats it
  const int c[3] = {c0, c0 > lo ? c0 - 1 : c0, c0 < hi ? c0 + 1 : c0};
  Affine cand[3];
  for (int k = 0; k < 3; ++k) cand[k] = {d * static_cast<float>(c[k]), 0};  // d*c: the dequantizer's scale
  float err[3];
  level_errors(x, n, cand, symmetric_levels(nmax), err);
  const int best = pick_smallest(err);
  assign_levels(x, n, cand[best], symmetric_levels(nmax), q);
  return c[best];
}

// ---- affine groups ----------------------------------------------------------

struct AffineFit {
  Affine a;
  double err = 0;
};

// Least squares for s and m with the levels fixed, from the sums of q, q^2,
// x*q (and sx = sum x, sxx = sum x^2), keeping m >= 0 and s >= 0; with the
// residual from the same sums. Branch-free, so a loop over candidates vectorises.
inline AffineFit affine_solve(int n, double sq, double sqq, double sxq, double sx, double sxx) {
  const double det = n * sqq - sq * sq;
  const bool free_fit = det > 0;
  const double inv_det = 1 / (free_fit ? det : 1.0);
  double s = (n * sxq - sx * sq) * inv_det;
  double m = (sq * sxq - sqq * sx) * inv_det;
  // a positive offset is not representable: pin it at 0
  const bool pinned = !free_fit || m < 0;
  s = pinned ? sxq / (sqq > 0 ? sqq : 1.0) : s;  // sqq = 0 means sxq = 0
  m = pinned ? 0 : m;
  // no increasing fit: the best constant
  const bool flat = s < 0;
  m = flat ? (sx < 0 ? -sx / n : 0) : m;
  s = flat ? 0 : s;
  // sum (x - s*q + m)^2, expanded
  const double err = sxx + s * s * sqq + n * m * m - 2 * s * sxq + 2 * m * sx - 2 * s * m * sq;
  return {{static_cast<float>(s), static_cast<float>(m)}, err};
}

Affine fit_affine(const float* x, int n, int nmax) {
  const GroupStats st = group_stats(x, n);
  const float lo = st.lo > 0 ? 0 : st.lo;  // the offset can only pull values down
  const float hi = st.hi;
  if (hi == lo) return {0, -lo};  // constant (non-positive) group: exact
  const double noise = kSearchNoise * st.sxx;
  const Levels lv = affine_levels(nmax);
  // Step sizes around "min on level 0, max on the top level"; one lane each.
  constexpr int L = kAffineTries;
  float iscale[L];
  const float inv_range = 1 / (hi - lo);
  for (int t = 0; t < L; ++t) iscale[t] = (lv.hi + kAffineStep * static_cast<float>(search_step(t))) * inv_range;
  float sq[L] = {}, sqq[L] = {}, sxq[L] = {};
  for (int i = 0; i < n; ++i) {
    const float xi = x[i], xs = x[i] - lo;
    for (int c = 0; c < L; ++c) {
      const float q = level_of(iscale[c] * xs, lv.lo, lv.hi);
      sq[c] += q;
      sqq[c] += q * q;
      sxq[c] += xi * q;
    }
  }
  double err[L];
  for (int c = 0; c < L; ++c) err[c] = affine_solve(n, sq[c], sqq[c], sxq[c], st.sx, st.sxx).err;
  int best_c = -1;
  double best_err = INFINITY;
  for (int c = 0; c < L; ++c)
    if (err[c] < best_err - noise) {
      best_err = err[c];
      best_c = c;
    }
  if (best_c < 0) return {(hi - lo) / lv.hi, -lo};  // only if the errors overflow
  return affine_solve(n, sq[best_c], sqq[best_c], sxq[best_c], st.sx, st.sxx).a;
}

// Rounds (s, m) to the grids (c * d, k * dmin) with c, k in [0, cmax], trying
// the neighbours of each; writes the winner's levels and returns it in c, k.
void pick_affine_scale(const float* x, int n, Affine a, float d, float dmin, int cmax, int nmax,
                       int& best_c, int& best_k, int* q) {
  const int c0 = d > 0 ? round_clamp(a.s / d, 0, cmax) : 0;
  const int k0 = dmin > 0 ? round_clamp(a.m / dmin, 0, cmax) : 0;
  // (c0, k0) first so that it wins ties; a neighbour off the grid repeats it
  const int cs[3] = {c0, c0 > 0 ? c0 - 1 : c0, c0 < cmax ? c0 + 1 : c0};
  const int ks[3] = {k0, k0 > 0 ? k0 - 1 : k0, k0 < cmax ? k0 + 1 : k0};
  Affine cand[9];
  for (int i = 0; i < 9; ++i)  // d*c and dmin*k are exactly the dequantizer's step and minimum
    cand[i] = {d * static_cast<float>(cs[i / 3]), dmin * static_cast<float>(ks[i % 3])};
  float err[9];
  level_errors(x, n, cand, affine_levels(nmax), err);
  const int best = pick_smallest(err);
  best_c = cs[best / 3];
  best_k = ks[best % 3];
  assign_levels(x, n, cand[best], affine_levels(nmax), q);
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
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const int* u = q + 128 * h + l;
        b.qs[32 * h + l] = static_cast<uint8_t>(u[0] | (u[32] << 2) | (u[64] << 4) | (u[96] << 6));
      }
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
    // Level q + 4 in [0, 7]: low 2 bits as in Q2_K, the third bit of element
    // 128h + 32p + l in bit 4h + p of hmask[l].
    for (int l = 0; l < 32; ++l) {
      int high = 0;
      for (int h = 0; h < 2; ++h) {
        int low = 0;
        for (int p = 0; p < 4; ++p) {
          const int u = q[128 * h + 32 * p + l] + 4;
          low |= (u & 3) << (2 * p);
          high |= (u >> 2) << (4 * h + p);
        }
        b.qs[32 * h + l] = static_cast<uint8_t>(low);
      }
      b.hmask[l] = static_cast<uint8_t>(high);
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
    for (int h = 0; h < 2; ++h) {
      const int* u = q + 128 * h;  // u[32k + l] + 32 is the stored level
      for (int l = 0; l < 32; ++l) {
        const int u0 = u[l] + 32, u1 = u[32 + l] + 32, u2 = u[64 + l] + 32, u3 = u[96 + l] + 32;
        b.ql[64 * h + l] = static_cast<uint8_t>((u0 & 0xF) | ((u2 & 0xF) << 4));
        b.ql[64 * h + 32 + l] = static_cast<uint8_t>((u1 & 0xF) | ((u3 & 0xF) << 4));
        b.qh[32 * h + l] = static_cast<uint8_t>((u0 >> 4) | ((u1 >> 4) << 2) | ((u2 >> 4) << 4) | ((u3 >> 4) << 6));
      }
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
