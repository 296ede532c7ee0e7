// The panel kernels of quant_gemm.h for AVX-512 VNNI on 256-bit vectors
// (built with -mavx512vnni -mavx512vl on top of AVX2). Lane t of every
// accumulator is token t of the panel; vpdpbusd multiplies 4 weights,
// broadcast to all lanes, with each token's 4 activations and adds them up.
// Weight blocks are first unpacked to bytes in element order (a small stack
// buffer), from which the 4-byte groups are broadcast.
#include "kernels/cpu/quant_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <type_traits>

#include "kernels/cpu/simd_x86.h"
#include "tensor/blocks.h"

namespace scout::kernels {
namespace {

using namespace scout::blocks;

// --- 32-element blocks: panel = d[8], sum[8], q[8 groups][8 tokens][4] ---

// Q8_0: signed weights; |w| goes to the unsigned operand and w's signs onto
// the activations.
template <int R>
void gemm_q8_0(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  alignas(32) int8_t wabs[R][32];
  for (int64_t i = 0; i < n / 32; ++i) {
    const uint8_t* p = panel + i * kPanelBytes32;
    const __m256 da = _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    const uint8_t* q = p + 64;
    const uint8_t* b[R];
    __m256i tmp[R];
    for (int r = 0; r < R; ++r) {
      b[r] = w + r * ws + i * sizeof(Q8_0);
      const __m256i wv = loadu(b[r] + 2);
      storeu(wabs[r], _mm256_abs_epi8(wv));
      tmp[r] = _mm256_setzero_si256();
    }
    for (int g = 0; g < 8; ++g) {
      const __m256i a = loadu(q + 32 * g);
      for (int r = 0; r < R; ++r)
        tmp[r] = _mm256_dpbusd_epi32(tmp[r], bcast4(wabs[r] + 4 * g), _mm256_sign_epi8(a, bcast4(b[r] + 2 + 4 * g)));
    }
    for (int r = 0; r < R; ++r)
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tmp[r]),
                               _mm256_mul_ps(da, _mm256_set1_ps(f16(b[r]))), acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm256_storeu_ps(out + 8 * r, acc[r]);
}

// Q4_0: unsigned nibbles, value q - 8: the dot minus 8 * sum(a).
template <int R>
void gemm_q4_0(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  alignas(32) uint8_t wq[R][32];
  const __m128i low4 = _mm_set1_epi8(0x0F);
  for (int64_t i = 0; i < n / 32; ++i) {
    const uint8_t* p = panel + i * kPanelBytes32;
    const __m256 da = _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    const __m256i asum8 = _mm256_slli_epi32(loadu(p + 32), 3);
    const uint8_t* q = p + 64;
    float d[R];
    __m256i tmp[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * ws + i * sizeof(Q4_0);
      d[r] = f16(b);
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
      _mm_store_si128(reinterpret_cast<__m128i*>(wq[r]), _mm_and_si128(bytes, low4));
      _mm_store_si128(reinterpret_cast<__m128i*>(wq[r] + 16), _mm_and_si128(_mm_srli_epi16(bytes, 4), low4));
      tmp[r] = _mm256_setzero_si256();
    }
    for (int g = 0; g < 8; ++g) {
      const __m256i a = loadu(q + 32 * g);
      for (int r = 0; r < R; ++r) tmp[r] = _mm256_dpbusd_epi32(tmp[r], bcast4(wq[r] + 4 * g), a);
    }
    for (int r = 0; r < R; ++r)
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(tmp[r], asum8)),
                               _mm256_mul_ps(da, _mm256_set1_ps(d[r])), acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm256_storeu_ps(out + 8 * r, acc[r]);
}

// --- 256-element blocks: panel = d[8], bsums[16][8], q[64 groups][8 tokens][4] ---

// Q4_K / Q5_K: eight sub-blocks of 32, d * sc * q - dmin * m.
template <bool kFive, int R>
void gemm_q45_k(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) {
  using Block = std::conditional_t<kFive, Q5_K, Q4_K>;
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  alignas(32) uint8_t wq[R][256];
  const __m256i low4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* p = panel + i * kPanelBytes256;
    const __m256 da = _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    const uint8_t* bs = p + 32;
    const uint8_t* q = p + 32 + 16 * 32;
    float d[R], dmin[R];
    alignas(16) uint8_t sm[R][16];  // per row: sc0..7, then m0..7
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * ws + i * sizeof(Block);
      d[r] = f16(b);
      dmin[r] = f16(b + 2);
      _mm_store_si128(reinterpret_cast<__m128i*>(sm[r]), unpack_scales_k4(b + 4));
      const uint8_t* qs = b + offsetof(Block, qs);
      __m256i qh;
      if constexpr (kFive) qh = loadu(b + offsetof(Q5_K, qh));
      for (int k = 0; k < 4; ++k) {  // sub-blocks 2k (low nibbles) and 2k+1 (high)
        const __m256i bytes = loadu(qs + 32 * k);
        __m256i lo = _mm256_and_si256(bytes, low4), hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
        if constexpr (kFive) {
          lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), one), 4));
          hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k + 1), one), 4));
        }
        storeu(wq[r] + 64 * k, lo);
        storeu(wq[r] + 64 * k + 32, hi);
      }
    }
    __m256i isum[R], msum[R];
    for (int r = 0; r < R; ++r) isum[r] = msum[r] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      __m256i tmp[R];
      for (int r = 0; r < R; ++r) tmp[r] = _mm256_setzero_si256();
      for (int g = 0; g < 8; ++g) {
        const __m256i a = loadu(q + 32 * (8 * j + g));
        for (int r = 0; r < R; ++r) tmp[r] = _mm256_dpbusd_epi32(tmp[r], bcast4(wq[r] + 32 * j + 4 * g), a);
      }
      const __m256i bsum = _mm256_add_epi32(loadu(bs + 64 * j), loadu(bs + 64 * j + 32));  // 32 values per token
      for (int r = 0; r < R; ++r) {
        const __m256i& t = tmp[r];
        isum[r] = _mm256_add_epi32(isum[r], _mm256_mullo_epi32(t, _mm256_set1_epi32(sm[r][j])));
        msum[r] = _mm256_add_epi32(msum[r], _mm256_mullo_epi32(bsum, _mm256_set1_epi32(sm[r][8 + j])));
      }
    }
    for (int r = 0; r < R; ++r) {
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_mul_ps(da, _mm256_set1_ps(d[r])), acc[r]);
      acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum[r]), _mm256_mul_ps(da, _mm256_set1_ps(dmin[r])), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) _mm256_storeu_ps(out + 8 * r, acc[r]);
}

// Q6_K: sixteen sub-blocks of 16 with int8 scales, q stored as q + 32.
template <int R>
void gemm_q6_k(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  alignas(32) uint8_t wq[R][256];
  const __m256i low4 = _mm256_set1_epi8(0x0F), two = _mm256_set1_epi8(3);
  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* p = panel + i * kPanelBytes256;
    const __m256 da = _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    const uint8_t* bs = p + 32;
    const uint8_t* q = p + 32 + 16 * 32;
    float d[R];
    const int8_t* sc[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * ws + i * sizeof(Q6_K);
      d[r] = f16(b + offsetof(Q6_K, d));
      sc[r] = reinterpret_cast<const int8_t*>(b + offsetof(Q6_K, scales));
      for (int h = 0; h < 2; ++h) {
        const __m256i ql0 = loadu(b + 64 * h), ql1 = loadu(b + 64 * h + 32);
        const __m256i qh = loadu(b + offsetof(Q6_K, qh) + 32 * h);
        const __m256i lows[4] = {_mm256_and_si256(ql0, low4), _mm256_and_si256(ql1, low4),
                                 _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                 _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4)};
        for (int k = 0; k < 4; ++k) {
          const __m256i top = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), two);
          storeu(wq[r] + 128 * h + 32 * k, _mm256_or_si256(lows[k], _mm256_slli_epi16(top, 4)));
        }
      }
    }
    __m256i isum[R];
    for (int r = 0; r < R; ++r) isum[r] = _mm256_setzero_si256();
    for (int s = 0; s < 16; ++s) {
      __m256i tmp[R];
      for (int r = 0; r < R; ++r) tmp[r] = _mm256_setzero_si256();
      for (int g = 0; g < 4; ++g) {
        const __m256i a = loadu(q + 32 * (4 * s + g));
        for (int r = 0; r < R; ++r) tmp[r] = _mm256_dpbusd_epi32(tmp[r], bcast4(wq[r] + 16 * s + 4 * g), a);
      }
      const __m256i offset = _mm256_slli_epi32(loadu(bs + 32 * s), 5);  // the stored +32, times sum(a)
      for (int r = 0; r < R; ++r) {
        const __m256i t = _mm256_sub_epi32(tmp[r], offset);
        isum[r] = _mm256_add_epi32(isum[r], _mm256_mullo_epi32(t, _mm256_set1_epi32(sc[r][s])));
      }
    }
    for (int r = 0; r < R; ++r)
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_mul_ps(da, _mm256_set1_ps(d[r])), acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm256_storeu_ps(out + 8 * r, acc[r]);
}

// Runtime row count -> compile-time R.
template <template <int> class K>
void by_rows(int64_t n, const uint8_t* w, size_t ws, int n_w_rows, const uint8_t* panel, float* out) {
  switch (n_w_rows) {
    case 1: K<1>::run(n, w, ws, panel, out); break;
    case 2: K<2>::run(n, w, ws, panel, out); break;
    case 3: K<3>::run(n, w, ws, panel, out); break;
    default: K<4>::run(n, w, ws, panel, out); break;
  }
}

#define SCOUT_GEMM_WRAPPER(Name, Call)                                                        \
  template <int R>                                                                            \
  struct Name {                                                                               \
    static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) { \
      Call(n, w, ws, panel, out);                                                             \
    }                                                                                         \
  };
SCOUT_GEMM_WRAPPER(Q8_0Gemm, gemm_q8_0<R>)
SCOUT_GEMM_WRAPPER(Q4_0Gemm, gemm_q4_0<R>)
SCOUT_GEMM_WRAPPER(Q4_KGemm, (gemm_q45_k<false, R>))
SCOUT_GEMM_WRAPPER(Q5_KGemm, (gemm_q45_k<true, R>))
SCOUT_GEMM_WRAPPER(Q6_KGemm, gemm_q6_k<R>)
#undef SCOUT_GEMM_WRAPPER

constexpr QuantGemm kQ8_0{ActFormat::Q8_32, by_rows<Q8_0Gemm>};
constexpr QuantGemm kQ4_0{ActFormat::Q8_32, by_rows<Q4_0Gemm>};
constexpr QuantGemm kQ4_K{ActFormat::Q8_256, by_rows<Q4_KGemm>};
constexpr QuantGemm kQ5_K{ActFormat::Q8_256, by_rows<Q5_KGemm>};
constexpr QuantGemm kQ6_K{ActFormat::Q8_256, by_rows<Q6_KGemm>};

}  // namespace

const QuantGemm* quant_gemm_vnni(TensorType t) {
  switch (t) {
    case TensorType::Q8_0: return &kQ8_0;
    case TensorType::Q4_0: return &kQ4_0;
    case TensorType::Q4_K: return &kQ4_K;
    case TensorType::Q5_K: return &kQ5_K;
    case TensorType::Q6_K: return &kQ6_K;
    default: return nullptr;
  }
}

}  // namespace scout::kernels
#else
namespace scout::kernels {
const QuantGemm* quant_gemm_vnni(TensorType) { return nullptr; }
}  // namespace scout::kernels
#endif
