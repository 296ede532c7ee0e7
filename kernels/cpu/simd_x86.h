// Small AVX2 helpers shared by the x86 kernel files (quant_dot_x86.h,
// quant_gemm_avx2.cpp, simd_avx512.h): loads, scales, and the weight unpacking
// the row and panel kernels share. Everything is in an anonymous namespace: each file
// compiles its own copy with its own instruction-set flags, so no out-of-line
// copy built for one level can be picked by the linker for another.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tensor/blocks.h"

namespace scout::kernels {
namespace {

// A half-precision scale stored at any address.
inline float f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline __m256i loadu(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void storeu(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

// 4 bytes broadcast to all eight 32-bit lanes.
inline __m256i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// An accumulator the compiler must update in place, step by step. Left alone,
// GCC reassociates the integer sums of an unrolled loop over rows and groups:
// it computes all the products first, spills half of them to the stack and
// adds them up afterwards (a third of the AVX2 panel kernel's time went to
// those spills). acc = summed(_mm256_add_epi32(acc, product)).
inline __m256i summed(__m256i v) {
  asm("" : "+v"(v));
  return v;
}

// Two int16 side by side in one int32: a pair of scales broadcast against the
// panels' bsums pairs (vpmaddwd, vpdpwssd).
inline int32_t pair16(int lo, int hi) {
  return static_cast<int32_t>(static_cast<uint16_t>(lo) | static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The 32 nibbles of a legacy block in element order (low nibbles, then high).
inline __m256i nibbles_32(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m), _mm_and_si128(b, m));
}

// Q4_K / Q5_K block b's qs pair p, elements 64p .. 64p+63, as bytes: sub-block
// 2p from the low nibbles (lo), 2p+1 from the high ones (hi). Q5_K's 5th bits
// (bit 2p of qh[l] for lo, 2p+1 for hi; qh = the block's 32 qh bytes) become bit 4.
template <bool kFive>
inline void q45_k_pair(const uint8_t* b, __m256i qh, int p, __m256i& lo, __m256i& hi) {
  using Block = std::conditional_t<kFive, blocks::Q5_K, blocks::Q4_K>;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bytes = loadu(b + offsetof(Block, qs) + 32 * p);
  lo = _mm256_and_si256(bytes, low4);
  hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
  if constexpr (kFive) {
    const __m256i one = _mm256_set1_epi8(1);
    lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), one), 4));
    hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), one), 4));
  }
}

// Q6_K block b's half h as four vectors q[k] = elements 128h + 32k .. +31, the
// stored q + 32 (0..63): low 4 bits from ql, bits 2k and 2k+1 of the half's qh
// bytes moved to bits 4 and 5 (shifts within bytes, masked first).
inline void q6_k_half(const uint8_t* b, int h, __m256i q[4]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i ql0 = loadu(b + 64 * h), ql1 = loadu(b + 64 * h + 32);
  const __m256i qh = loadu(b + offsetof(blocks::Q6_K, qh) + 32 * h);
  q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4));
  q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0C)), 2));
  q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, _mm256_set1_epi8(0x30)));
  q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                         _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(static_cast<char>(0xC0))), 2));
}

// Q4_K / Q5_K scales: 12 bytes -> sc[0..7] in bytes 0-7 and m[0..7] in bytes
// 8-15 (unpack_scale_min_k4 for all eight at once). With u0, u1, u2 the three
// 32-bit words: sc0-3 = u0 & 0x3f.., sc4-7 = (u2 & 0x0f..) | ((u0 >> 6) & 3..) << 4,
// m0-3 = u1 & 0x3f.., m4-7 = ((u2 >> 4) & 0x0f..) | ((u1 >> 6) & 3..) << 4;
// computed in one vector, lanes [sc0-3, sc4-7, m0-3, m4-7].
// Loads 16 bytes: the 4 after the scales are the block's own qs (word 3 unused).
inline __m128i unpack_scales_k4(const uint8_t* s) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  const __m128i x = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0));  // u0 u2 u1 u2
  const __m128i y = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));  // u0 u0 u1 u1
  const __m128i low6 = _mm_and_si128(x, _mm_set1_epi32(0x3f3f3f3f));
  const __m128i low4 = _mm_and_si128(_mm_srlv_epi32(x, _mm_setr_epi32(0, 0, 0, 4)), _mm_set1_epi32(0x0f0f0f0f));
  const __m128i top2 = _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(y, 6), _mm_set1_epi32(0x03030303)), 4);
  return _mm_blend_epi32(low6, _mm_or_si128(low4, top2), 0b1010);
}

}  // namespace
}  // namespace scout::kernels
