// The x86 SIMD integer dot products (256-bit vectors), included by
// quant_dot_avx2.cpp and quant_dot_vnni.cpp, which compile it with different
// instruction sets: SCOUT_VNNI selects vpdpbusd for the u8 x s8 -> i32 sums,
// otherwise vpmaddubsw + vpmaddwd do the same in two steps.
//
// One weight row is multiplied with NA activation rows at once: the weight
// block is loaded and unpacked once and reused from registers for every row.
// Per type, the math is the one in quant_dot_scalar.cpp (read that first):
// integer sums per block (or sub-block, times its integer scale), scaled
// once per block in float; the order of float additions differs, so results
// match the reference to rounding, not bit for bit.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/quant_dot.h"
#include "kernels/cpu/simd_x86.h"
#include "tensor/blocks.h"

namespace scout::kernels {
namespace {

using namespace scout::blocks;

// Asks for the cache lines of the bytes [p, p + n) ahead of use: a decode
// step streams each weight row once, and the hardware prefetcher alone keeps
// too few lines in flight to reach the memory's bandwidth.
inline void prefetch_lines(const uint8_t* p, size_t n) {
  for (size_t o = 0; o < n; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p + o), _MM_HINT_T0);
}
constexpr size_t kPrefetchAhead = 4096;  // bytes: about 20 K-quant blocks (measured: 2 KiB gave 3% less)

// Sums of 4 adjacent u8 x s8 products, added to acc (8 x i32).
inline __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) {
#if SCOUT_VNNI
  return _mm256_dpbusd_epi32(acc, u, s);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

// Sums of 2 adjacent u8 x s8 products, each pair times its int16 scale:
// 8 x i32. The K-quants' sub-block scales ride on the second step.
inline __m256i dot_u8s8_scaled(__m256i u, __m256i s, __m256i scale16) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale16);
}

// 32 bits -> 32 bytes, 0xFF where the bit is set.
inline __m256i bits_to_bytes(uint32_t x) {
  const __m256i spread = _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201));
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(x)), spread);
  return _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
}

// A byte shuffle of eight int16 scales (repeated in both 128-bit lanes)
// giving scale 2k in the low lane and 2k+1 in the high one: the scales of
// 32 elements that span two consecutive 16-element sub-blocks.
inline __m256i pick_pair(int k) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * (2 * k + 1))),
                          _mm_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * (2 * k))));
}

// Q3_K scales: 12 bytes -> sc - 32 for all sixteen sub-blocks as int8
// (unpack_scale_q3_k at once). The top 2 bits of sc j sit at bit 2(j/4) of
// byte 8 + j%4, so the word of bytes 8-11 shifted by 0, 2, 4, 6 holds them in order.
inline __m128i unpack_scales_q3_k(const uint8_t* s) {
  uint32_t top;
  std::memcpy(&top, s + 8, 4);
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s));  // only 8 bytes: d follows the scales
  const __m128i nib = _mm_unpacklo_epi64(_mm_and_si128(lo, m4), _mm_and_si128(_mm_srli_epi16(lo, 4), m4));
  const __m128i hi2 =
      _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32(static_cast<int>(top)), _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
  return _mm_sub_epi8(_mm_or_si128(nib, _mm_slli_epi16(hi2, 4)), _mm_set1_epi8(32));
}

// IQ4_XS scales: ls - 32 for the eight sub-blocks as int16. AVX2 has no
// per-word shift, so bits 2s, 2s+1 of scales_h reach bits 14, 15 of word s
// through a multiply by 2^(14 - 2s) (dropping the bits above), then bits 4, 5.
inline __m128i unpack_scales_iq4_xs(const uint8_t* b) {
  uint16_t h;
  uint32_t l;
  std::memcpy(&h, b + offsetof(IQ4_XS, scales_h), 2);
  std::memcpy(&l, b + offsetof(IQ4_XS, scales_l), 4);
  const __m128i v = _mm_cvtsi32_si128(static_cast<int>(l));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m128i low = _mm_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_and_si128(v, m4), _mm_and_si128(_mm_srli_epi16(v, 4), m4)));
  const __m128i pow2 = _mm_setr_epi16(1 << 14, 1 << 12, 1 << 10, 1 << 8, 1 << 6, 1 << 4, 1 << 2, 1);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(_mm_mullo_epi16(_mm_set1_epi16(static_cast<int16_t>(h)), pow2), 10),
                                     _mm_set1_epi16(0x30));
  return _mm_sub_epi16(_mm_or_si128(low, high), _mm_set1_epi16(32));
}

// --- 32-element formats ---
// Each decoder gives the block's 32 weights as bytes and how to use them:
// kSigned: q are int8 (multiplied through the abs/sign trick); otherwise
// unsigned, with q_true = q - offset, or y = d q + m when kHasMin.
struct LegacyBlock {
  __m256i q;
  float d;
  float m;  // kHasMin only
};

struct DecQ4_0 {
  static constexpr size_t kBytes = sizeof(Q4_0);
  static constexpr bool kSigned = false, kHasMin = false;
  static constexpr int kOffset = 8;
  static LegacyBlock decode(const uint8_t* b) { return {nibbles_32(b + 2), f16(b), 0.0f}; }
};
struct DecQ4_1 {
  static constexpr size_t kBytes = sizeof(Q4_1);
  static constexpr bool kSigned = false, kHasMin = true;
  static constexpr int kOffset = 0;
  static LegacyBlock decode(const uint8_t* b) { return {nibbles_32(b + 4), f16(b), f16(b + 2)}; }
};
struct DecQ5_0 {
  static constexpr size_t kBytes = sizeof(Q5_0);
  static constexpr bool kSigned = false, kHasMin = false;
  static constexpr int kOffset = 16;
  static LegacyBlock decode(const uint8_t* b) {
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    const __m256i high = _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10));
    return {_mm256_or_si256(nibbles_32(b + 6), high), f16(b), 0.0f};
  }
};
struct DecQ5_1 {
  static constexpr size_t kBytes = sizeof(Q5_1);
  static constexpr bool kSigned = false, kHasMin = true;
  static constexpr int kOffset = 0;
  static LegacyBlock decode(const uint8_t* b) {
    uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    const __m256i high = _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10));
    return {_mm256_or_si256(nibbles_32(b + 8), high), f16(b), f16(b + 2)};
  }
};
struct DecQ8_0 {
  static constexpr size_t kBytes = sizeof(Q8_0);
  static constexpr bool kSigned = true, kHasMin = false;
  static constexpr int kOffset = 0;
  static LegacyBlock decode(const uint8_t* b) { return {loadu(b + 2), f16(b), 0.0f}; }
};
struct DecIQ4_NL {
  static constexpr size_t kBytes = sizeof(IQ4_NL);
  static constexpr bool kSigned = true, kHasMin = false;
  static constexpr int kOffset = 0;
  static LegacyBlock decode(const uint8_t* b) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Values));
    return {_mm256_shuffle_epi8(_mm256_set_m128i(t, t), nibbles_32(b + 2)), f16(b), 0.0f};
  }
};

template <typename Dec, int NA>
void legacy_rows(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const ActBlock32* a[NA];
  for (int r = 0; r < NA; ++r) a[r] = reinterpret_cast<const ActBlock32*>(act + r * stride);
  __m256 acc[NA];
  float extra[NA];  // offset and minimum terms, per block in scalar float
  for (int r = 0; r < NA; ++r) acc[r] = _mm256_setzero_ps(), extra[r] = 0.0f;

  for (int64_t i = 0; i < n / 32; ++i) {
    prefetch_lines(w + i * Dec::kBytes + kPrefetchAhead, Dec::kBytes);
    const LegacyBlock b = Dec::decode(w + i * Dec::kBytes);
    const __m256i u = Dec::kSigned ? _mm256_sign_epi8(b.q, b.q) : b.q;  // |q| when signed
    for (int r = 0; r < NA; ++r) {
      const ActBlock32& ab = a[r][i];
      __m256i s = loadu(ab.q);
      if constexpr (Dec::kSigned) s = _mm256_sign_epi8(s, b.q);
      const __m256i p = dot_u8s8(_mm256_setzero_si256(), u, s);
      const float dd = b.d * ab.d;
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dd), acc[r]);
      if constexpr (Dec::kOffset != 0) extra[r] -= dd * static_cast<float>(Dec::kOffset * ab.sum);
      if constexpr (Dec::kHasMin) extra[r] += b.m * ab.d * static_cast<float>(ab.sum);
    }
  }
  for (int r = 0; r < NA; ++r) out[r] = hsum(acc[r]) + extra[r];
}

// --- 256-element formats ---

// Q4_K and Q5_K: 4 pairs of 32-element sub-blocks, d*sc*q - dmin*m.
template <bool kFive, int NA>
void q45_k_rows(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  using Block = std::conditional_t<kFive, Q5_K, Q4_K>;
  const ActBlock256* a[NA];
  for (int r = 0; r < NA; ++r) a[r] = reinterpret_cast<const ActBlock256*>(act + r * stride);
  __m256 acc[NA];
  for (int r = 0; r < NA; ++r) acc[r] = _mm256_setzero_ps();

  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* b = w + i * sizeof(Block);
    prefetch_lines(b + kPrefetchAhead, sizeof(Block));
    const float d = f16(b), dmin = f16(b + 2);
    const __m128i sm = unpack_scales_k4(b + 4);
    // sc0..sc7 as int16 in both 128-bit lanes; a byte shuffle then broadcasts one.
    const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));  // m0 m0 m1 m1 ... per 16
    __m256i qh = _mm256_setzero_si256();
    if constexpr (kFive) qh = loadu(b + offsetof(Q5_K, qh));

    __m256i isum[NA];
    for (int r = 0; r < NA; ++r) isum[r] = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      __m256i lo, hi;
      q45_k_pair<kFive>(b, qh, p, lo, hi);
      const __m256i s_lo = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * (2 * p))));
      const __m256i s_hi =
          _mm256_shuffle_epi8(sc16, _mm256_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * (2 * p + 1))));
      for (int r = 0; r < NA; ++r) {
        const int8_t* aq = a[r][i].q + 64 * p;
        isum[r] = summed(_mm256_add_epi32(isum[r], dot_u8s8_scaled(lo, loadu(aq), s_lo)));
        isum[r] = summed(_mm256_add_epi32(isum[r], dot_u8s8_scaled(hi, loadu(aq + 32), s_hi)));
      }
    }
    for (int r = 0; r < NA; ++r) {
      const ActBlock256& ab = a[r][i];
      const __m256i msum = _mm256_madd_epi16(loadu(ab.bsums), mins);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_set1_ps(d * ab.d), acc[r]);
      acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * ab.d), acc[r]);
    }
  }
  for (int r = 0; r < NA; ++r) out[r] = hsum(acc[r]);
}

// Q6_K: 16 sub-blocks of 16 with int8 scales, q stored as q + 32.
template <int NA>
void q6_k_rows(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const ActBlock256* a[NA];
  for (int r = 0; r < NA; ++r) a[r] = reinterpret_cast<const ActBlock256*>(act + r * stride);
  __m256 acc[NA];
  for (int r = 0; r < NA; ++r) acc[r] = _mm256_setzero_ps();

  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* b = w + i * sizeof(Q6_K);
    prefetch_lines(b + kPrefetchAhead, sizeof(Q6_K));
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + offsetof(Q6_K, scales));
    const float d = f16(b + offsetof(Q6_K, d));
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)));

    __m256i isum[NA];
    for (int r = 0; r < NA; ++r) isum[r] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      // This half's eight scales as int16 in both 128-bit lanes.
      const __m256i sch = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_loadl_epi64(
          reinterpret_cast<const __m128i*>(sc + 8 * h))));
      __m256i q[4];
      q6_k_half(b, h, q);
      for (int k = 0; k < 4; ++k) {
        // The 32 elements of q[k] span sub-blocks 8h+2k (low 128 bits) and 8h+2k+1.
        const __m256i pick = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * (2 * k + 1))),
                                              _mm_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * (2 * k))));
        const __m256i s = _mm256_shuffle_epi8(sch, pick);
        for (int r = 0; r < NA; ++r)
          isum[r] = summed(_mm256_add_epi32(isum[r], dot_u8s8_scaled(q[k], loadu(a[r][i].q + 128 * h + 32 * k), s)));
      }
    }
    for (int r = 0; r < NA; ++r) {
      const ActBlock256& ab = a[r][i];
      // Remove the +32 of every stored q: 32 * sum_s sc_s * bsum_s.
      const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(loadu(ab.bsums), sc16), 5);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(isum[r], offset)), _mm256_set1_ps(d * ab.d),
                               acc[r]);
    }
  }
  for (int r = 0; r < NA; ++r) out[r] = hsum(acc[r]);
}

// Q2_K: 16 sub-blocks of 16 with 4-bit scales and minimums, q 2-bit;
// element 128h + 32k + l is bits 2k of qs[32h + l] (as Q6_K's qh).
template <int NA>
void q2_k_rows(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const ActBlock256* a[NA];
  for (int r = 0; r < NA; ++r) a[r] = reinterpret_cast<const ActBlock256*>(act + r * stride);
  __m256 acc[NA];
  for (int r = 0; r < NA; ++r) acc[r] = _mm256_setzero_ps();
  const __m256i three = _mm256_set1_epi8(3);
  const __m128i low4 = _mm_set1_epi8(0x0F);

  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* b = w + i * sizeof(Q2_K);
    prefetch_lines(b + kPrefetchAhead, sizeof(Q2_K));
    const float d = f16(b + offsetof(Q2_K, d)), dmin = f16(b + offsetof(Q2_K, dmin));
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + offsetof(Q2_K, scales)));
    const __m128i sc = _mm_and_si128(raw, low4);
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), low4));

    __m256i isum[NA];
    for (int r = 0; r < NA; ++r) isum[r] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i sch = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(h ? _mm_unpackhi_epi64(sc, sc) : sc));
      const __m256i bytes = loadu(b + offsetof(Q2_K, qs) + 32 * h);
      for (int k = 0; k < 4; ++k) {
        // q in 0..3: the u8 x s8 pair sums stay far below the int16 limit.
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bytes, 2 * k), three);
        const __m256i s = _mm256_shuffle_epi8(sch, pick_pair(k));
        for (int r = 0; r < NA; ++r)
          isum[r] = summed(_mm256_add_epi32(isum[r], dot_u8s8_scaled(q, loadu(a[r][i].q + 128 * h + 32 * k), s)));
      }
    }
    for (int r = 0; r < NA; ++r) {
      const ActBlock256& ab = a[r][i];
      const __m256i msum = _mm256_madd_epi16(loadu(ab.bsums), mins);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_set1_ps(d * ab.d), acc[r]);
      acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * ab.d), acc[r]);
    }
  }
  for (int r = 0; r < NA; ++r) out[r] = hsum(acc[r]);
}

// Q3_K: as Q2_K's layout plus a high bit per element (bit 4h + k of
// hmask[l]), 6-bit signed scales, no minimums.
template <int NA>
void q3_k_rows(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const ActBlock256* a[NA];
  for (int r = 0; r < NA; ++r) a[r] = reinterpret_cast<const ActBlock256*>(act + r * stride);
  __m256 acc[NA];
  for (int r = 0; r < NA; ++r) acc[r] = _mm256_setzero_ps();
  const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);

  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* b = w + i * sizeof(Q3_K);
    prefetch_lines(b + kPrefetchAhead, sizeof(Q3_K));
    const float d = f16(b + offsetof(Q3_K, d));
    const __m128i sc8 = unpack_scales_q3_k(b + offsetof(Q3_K, scales));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    const __m256i hm = loadu(b + offsetof(Q3_K, hmask));

    __m256i isum[NA];
    for (int r = 0; r < NA; ++r) isum[r] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i sch = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(h ? _mm_unpackhi_epi64(sc8, sc8) : sc8));
      const __m256i bytes = loadu(b + offsetof(Q3_K, qs) + 32 * h);
      for (int k = 0; k < 4; ++k) {
        // q + 4 = low bits | high bit << 2, in 0..7 so unsigned for vpmaddubsw
        // (pair sums <= 1778); the +4 comes off below through the bsums.
        const int j = 4 * h + k;
        const __m256i hb = j >= 2 ? _mm256_srli_epi16(hm, j - 2) : _mm256_slli_epi16(hm, 2 - j);
        const __m256i q = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 2 * k), three),
                                          _mm256_and_si256(hb, four));
        const __m256i s = _mm256_shuffle_epi8(sch, pick_pair(k));
        for (int r = 0; r < NA; ++r)
          isum[r] = summed(_mm256_add_epi32(isum[r], dot_u8s8_scaled(q, loadu(a[r][i].q + 128 * h + 32 * k), s)));
      }
    }
    for (int r = 0; r < NA; ++r) {
      const ActBlock256& ab = a[r][i];
      // Remove the +4: 4 * sum_s sc_s * bsum_s.
      const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(loadu(ab.bsums), sc16), 2);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(isum[r], offset)), _mm256_set1_ps(d * ab.d),
                               acc[r]);
    }
  }
  for (int r = 0; r < NA; ++r) out[r] = hsum(acc[r]);
}

// IQ4_XS: 8 sub-blocks of 32 stored as IQ4_NL blocks (16 bytes, low nibbles
// first), each with a 6-bit signed scale.
template <int NA>
void iq4_xs_rows(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const ActBlock256* a[NA];
  for (int r = 0; r < NA; ++r) a[r] = reinterpret_cast<const ActBlock256*>(act + r * stride);
  __m256 acc[NA];
  for (int r = 0; r < NA; ++r) acc[r] = _mm256_setzero_ps();
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Values));
  const __m256i values = _mm256_set_m128i(t, t);

  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* b = w + i * sizeof(IQ4_XS);
    prefetch_lines(b + kPrefetchAhead, sizeof(IQ4_XS));
    const float d = f16(b + offsetof(IQ4_XS, d));
    const __m256i sc16 = _mm256_broadcastsi128_si256(unpack_scales_iq4_xs(b));

    __m256i isum[NA];
    for (int r = 0; r < NA; ++r) isum[r] = _mm256_setzero_si256();
    for (int s = 0; s < 8; ++s) {
      // Signed values, so the abs/sign trick (as IQ4_NL): |q| <= 127 keeps pair
      // sums <= 32258, where a +128 offset would saturate vpmaddubsw.
      const __m256i q = _mm256_shuffle_epi8(values, nibbles_32(b + offsetof(IQ4_XS, qs) + 16 * s));
      const __m256i u = _mm256_sign_epi8(q, q);
      const __m256i sc = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * s)));
      for (int r = 0; r < NA; ++r) {
        const __m256i sa = _mm256_sign_epi8(loadu(a[r][i].q + 32 * s), q);
        isum[r] = summed(_mm256_add_epi32(isum[r], dot_u8s8_scaled(u, sa, sc)));
      }
    }
    for (int r = 0; r < NA; ++r)
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_set1_ps(d * a[r][i].d), acc[r]);
  }
  for (int r = 0; r < NA; ++r) out[r] = hsum(acc[r]);
}

template <typename Dec>
struct Legacy {
  template <int NA>
  struct K {
    static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t s, float* out) {
      legacy_rows<Dec, NA>(n, w, act, s, out);
    }
  };
};
template <bool kFive>
struct Q45K {
  template <int NA>
  struct K {
    static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t s, float* out) {
      q45_k_rows<kFive, NA>(n, w, act, s, out);
    }
  };
};
template <int NA>
struct Q6K {
  static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t s, float* out) {
    q6_k_rows<NA>(n, w, act, s, out);
  }
};

template <int NA>
struct Q2K {
  static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t s, float* out) {
    q2_k_rows<NA>(n, w, act, s, out);
  }
};
template <int NA>
struct Q3K {
  static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t s, float* out) {
    q3_k_rows<NA>(n, w, act, s, out);
  }
};
template <int NA>
struct IQ4XS {
  static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t s, float* out) {
    iq4_xs_rows<NA>(n, w, act, s, out);
  }
};

constexpr QuantDot kX86Q4_0{ActFormat::Q8_32, by_rows<Legacy<DecQ4_0>::K>};
constexpr QuantDot kX86Q4_1{ActFormat::Q8_32, by_rows<Legacy<DecQ4_1>::K>};
constexpr QuantDot kX86Q5_0{ActFormat::Q8_32, by_rows<Legacy<DecQ5_0>::K>};
constexpr QuantDot kX86Q5_1{ActFormat::Q8_32, by_rows<Legacy<DecQ5_1>::K>};
constexpr QuantDot kX86Q8_0{ActFormat::Q8_32, by_rows<Legacy<DecQ8_0>::K>};
constexpr QuantDot kX86IQ4_NL{ActFormat::Q8_32, by_rows<Legacy<DecIQ4_NL>::K>};
constexpr QuantDot kX86Q2_K{ActFormat::Q8_256, by_rows<Q2K>};
constexpr QuantDot kX86Q3_K{ActFormat::Q8_256, by_rows<Q3K>};
constexpr QuantDot kX86Q4_K{ActFormat::Q8_256, by_rows<Q45K<false>::K>};
constexpr QuantDot kX86Q5_K{ActFormat::Q8_256, by_rows<Q45K<true>::K>};
constexpr QuantDot kX86Q6_K{ActFormat::Q8_256, by_rows<Q6K>};
constexpr QuantDot kX86IQ4_XS{ActFormat::Q8_256, by_rows<IQ4XS>};

// The types this file has kernels for; others fall back a level.
const QuantDot* x86_table(TensorType t) {
  switch (t) {
    case TensorType::Q4_0: return &kX86Q4_0;
    case TensorType::Q4_1: return &kX86Q4_1;
    case TensorType::Q5_0: return &kX86Q5_0;
    case TensorType::Q5_1: return &kX86Q5_1;
    case TensorType::Q8_0: return &kX86Q8_0;
    case TensorType::IQ4_NL: return &kX86IQ4_NL;
    case TensorType::Q2_K: return &kX86Q2_K;
    case TensorType::Q3_K: return &kX86Q3_K;
    case TensorType::Q4_K: return &kX86Q4_K;
    case TensorType::Q5_K: return &kX86Q5_K;
    case TensorType::Q6_K: return &kX86Q6_K;
    case TensorType::IQ4_XS: return &kX86IQ4_XS;
    default: return nullptr;
  }
}

}  // namespace
}  // namespace scout::kernels
