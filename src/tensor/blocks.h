// Private to src/tensor: the byte layouts of ggml's block formats, and the row
// kernels the dequant/quant dispatchers call. Half-precision fields hold raw
// fp16 bits (convert with fp16_to_fp32 / fp32_to_fp16).
//
// Blocks are copied in and out with memcpy, never accessed in place, so a row
// may start at any address (a tensor inside a mapped file need not be aligned).
#pragma once

#include <cstdint>

namespace scout::blocks {

constexpr int QK = 32;    // elements per legacy block (Q4_0 .. Q8_0, IQ4_NL)
constexpr int QK_K = 256; // elements per K-quant super-block

// y = d * (q - 8), q 4-bit
struct Q4_0 { uint16_t d; uint8_t qs[QK / 2]; };
// y = d * q + m, q 4-bit
struct Q4_1 { uint16_t d; uint16_t m; uint8_t qs[QK / 2]; };
// y = d * (q - 16), q 5-bit: low nibbles in qs, the 5th bits in qh (bit j = element j)
struct Q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; };
// y = d * q + m, q 5-bit
struct Q5_1 { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[QK / 2]; };
// y = d * q, q int8
struct Q8_0 { uint16_t d; int8_t qs[QK]; };

// 16 sub-blocks of 16: y = d*sc*q - dmin*m with 4-bit sc, m (scales: sc | m << 4), q 2-bit
struct Q2_K { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; uint16_t d; uint16_t dmin; };
// 16 sub-blocks of 16: y = d*(sc-32)*(q-4), 6-bit sc packed in 12 bytes, q = 2 low bits
// in qs plus a high bit in hmask (set means +4, i.e. the stored value is q-4 without it)
struct Q3_K { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; uint16_t d; };
// 8 sub-blocks of 32: y = d*sc*q - dmin*m, 6-bit sc and m packed in 12 bytes, q 4-bit
struct Q4_K { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; };
// as Q4_K with a 5th bit per element in qh
struct Q5_K { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; };
// 16 sub-blocks of 16: y = d*sc*(q-32), int8 sc, q 6-bit (4 low bits in ql, 2 high in qh)
struct Q6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; };
// y = d * q, f32 d; bsums are sums of 16 q's (for dot products)
struct Q8_K { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; };
// y = d * kIq4Values[q], q 4-bit
struct IQ4_NL { uint16_t d; uint8_t qs[QK / 2]; };
// 8 sub-blocks of 32: y = d*(ls-32)*kIq4Values[q], 6-bit ls = 4 bits in scales_l, 2 in scales_h
struct IQ4_XS { uint16_t d; uint16_t scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; };

// Sizes must match the type table in types.cpp (and ggml).
static_assert(sizeof(Q4_0) == 18 && sizeof(Q4_1) == 20 && sizeof(Q5_0) == 22);
static_assert(sizeof(Q5_1) == 24 && sizeof(Q8_0) == 34);
static_assert(sizeof(Q2_K) == 84 && sizeof(Q3_K) == 110 && sizeof(Q4_K) == 144);
static_assert(sizeof(Q5_K) == 176 && sizeof(Q6_K) == 210 && sizeof(Q8_K) == 292);
static_assert(sizeof(IQ4_NL) == 18 && sizeof(IQ4_XS) == 136);

// The 16 non-linear levels of IQ4_NL / IQ4_XS (denser near zero).
inline constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};

// Q4_K / Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes:
// bytes 0-3 hold sc 0-3 (low 6 bits), bytes 4-7 hold m 0-3; sub-blocks 4-7 keep
// their low nibbles in bytes 8-11 and their top 2 bits in the spare bits 6-7 of bytes 0-7.
inline void unpack_scale_min_k4(const uint8_t* s, int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}
// Inverse of unpack_scale_min_k4 for all eight sub-blocks; sc, m in [0, 63].
inline void pack_scale_min_k4(const int* sc, const int* m, uint8_t* s) {
  for (int j = 0; j < 12; ++j) s[j] = 0;
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = static_cast<uint8_t>(sc[j]);
      s[j + 4] = static_cast<uint8_t>(m[j]);
    } else {
      s[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
      s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
    }
  }
}

// Q3_K packs sixteen 6-bit scales into 12 bytes: low nibbles of sc 0-7 in the low
// halves of bytes 0-7, of sc 8-15 in their high halves; the top 2 bits of sc j go
// to byte 8 + j%4 at bit 2*(j/4).
inline int unpack_scale_q3_k(const uint8_t* s, int j) {
  const int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
  const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

// Helpers shared by the quantizers.
// A group whose largest |x| is below this quantizes to zeros (no scale to find).
constexpr float kTinyGroup = 1e-15f;

// round(v) clamped to [lo, hi]; clamps first so huge or infinite v cannot overflow.
inline int round_clamp(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;  // also catches NaN
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v < 0 ? v - 0.5f : v + 0.5f);
}

// The scale searches try candidates 0, 1, -1, 2, -2, ... (search_step(t) for
// t = 0, 1, 2, ...) and keep a later one only if it beats the best so far by
// more than rounding noise (kNoise * sum x^2), so on ties the plain "extreme
// value on the last level" choice wins; exact for constant or evenly spaced
// groups, which then stay exact after the fp16 scale rounding too.
inline int search_step(int t) { return (t % 2 ? 1 : -1) * ((t + 1) / 2); }
constexpr double kNoise = 1e-10;

// The signed value of largest magnitude (the first one on ties).
inline float signed_absmax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; ++j) {
    const float a = x[j] < 0 ? -x[j] : x[j];
    if (a > amax) {
      amax = a;
      max = x[j];
    }
  }
  return max;
}

// Row kernels: nb whole blocks from src (unaligned is fine) to/from f32.
void dequant_q2_K(const uint8_t* src, float* dst, int64_t nb);
void dequant_q3_K(const uint8_t* src, float* dst, int64_t nb);
void dequant_q4_K(const uint8_t* src, float* dst, int64_t nb);
void dequant_q5_K(const uint8_t* src, float* dst, int64_t nb);
void dequant_q6_K(const uint8_t* src, float* dst, int64_t nb);
void dequant_q8_K(const uint8_t* src, float* dst, int64_t nb);
void dequant_iq4_nl(const uint8_t* src, float* dst, int64_t nb);
void dequant_iq4_xs(const uint8_t* src, float* dst, int64_t nb);

void quant_q2_K(const float* src, uint8_t* dst, int64_t nb);
void quant_q3_K(const float* src, uint8_t* dst, int64_t nb);
void quant_q4_K(const float* src, uint8_t* dst, int64_t nb);
void quant_q5_K(const float* src, uint8_t* dst, int64_t nb);
void quant_q6_K(const float* src, uint8_t* dst, int64_t nb);
void quant_q8_K(const float* src, uint8_t* dst, int64_t nb);
void quant_iq4_nl(const float* src, uint8_t* dst, int64_t nb);
void quant_iq4_xs(const float* src, uint8_t* dst, int64_t nb);

}  // namespace scout::blocks
