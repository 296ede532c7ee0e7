// 512-bit helpers shared by the AVX-512 kernel files (quant_dot_avx512.cpp,
// quant_gemm_avx512.cpp): loads, and the K-quant weight unpacking both use,
// one zmm = 64 weights in element order. Anonymous namespace for the same
// reason as simd_x86.h (included here): each file has its own flags.
#pragma once

// GCC 12's AVX-512 headers build some vectors from _mm512_undefined_*() and
// then warn that they are uninitialized (a known false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstddef>
#include <type_traits>

#include "kernels/cpu/simd_x86.h"
#include "tensor/blocks.h"

namespace scout::kernels {
namespace {

inline __m512i loadu512(const void* p) { return _mm512_loadu_si512(p); }
// A loaded vector the compiler must keep in a register: left alone, GCC folds
// a load reused by several vpdpbusd into each of them as a memory operand,
// which doubles the loads of the panel kernels' inner loops.
inline __m512i in_register(__m512i v) {
  asm("" : "+v"(v));
  return v;
}

// 32 bytes in both 256-bit halves.
inline __m512i bcast256(const void* p) {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}
// 16 int16 in the low half, zeros above.
inline __m512i zext256(const void* p) {
  return _mm512_zextsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}

// Q4_K / Q5_K block b: elements 64p .. 64p+63 (sub-blocks 2p and 2p+1) as
// bytes 0..31. Pair p's 32 bytes of qs hold sub-block 2p in the low nibbles
// and 2p+1 in the high ones: broadcast to both halves and shifted by 0 or 4.
template <bool kFive>
inline __m512i q45_k_elements64(const uint8_t* b, int p) {
  using Block = std::conditional_t<kFive, blocks::Q5_K, blocks::Q4_K>;
  const __m512i nibble = _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4);
  __m512i q = _mm512_and_si512(_mm512_srlv_epi64(bcast256(b + offsetof(Block, qs) + 32 * p), nibble),
                               _mm512_set1_epi8(0x0F));
  if constexpr (kFive) {
    // 5th bits: bit 2p of qh[l] for the low sub-block, 2p+1 for the high one;
    // right shifts by 2p-4 and 2p-3 bring them to bit 4.
    const __m512i qh = bcast256(b + offsetof(blocks::Q5_K, qh));
    const int lo = 2 * p - 4, hi = lo + 1;
    const __m512i top = p < 2 ? _mm512_sllv_epi64(qh, _mm512_setr_epi64(-lo, -lo, -lo, -lo, -hi, -hi, -hi, -hi))
                              : _mm512_srlv_epi64(qh, _mm512_setr_epi64(lo, lo, lo, lo, hi, hi, hi, hi));
    q = _mm512_or_si512(q, _mm512_and_si512(top, _mm512_set1_epi8(0x10)));
  }
  return q;
}

// Q6_K block b: elements 128h + 64k .. +63 (k = 0, 1) as bytes 0..63, 0..63
// (the stored q + 32). qh byte l holds the top bits of elements l, l+32, l+64
// and l+96 of the half (bits 0-1, 2-3, 4-5, 6-7); with qh in both 256-bit
// halves, per-lane shifts bring each element's pair to bits 4-5.
inline void q6_k_elements128(const uint8_t* b, int h, __m512i q[2]) {
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  const __m512i ql = loadu512(b + 64 * h);
  const __m512i qh = bcast256(b + offsetof(blocks::Q6_K, qh) + 32 * h);
  q[0] = _mm512_or_si512(_mm512_and_si512(ql, low4),
                         _mm512_and_si512(_mm512_sllv_epi64(qh, _mm512_setr_epi64(4, 4, 4, 4, 2, 2, 2, 2)), bits45));
  q[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                         _mm512_and_si512(_mm512_srlv_epi64(qh, _mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2)), bits45));
}

}  // namespace
}  // namespace scout::kernels
