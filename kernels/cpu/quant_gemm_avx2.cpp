// The panel kernels of quant_gemm.h for AVX2 (built with -mavx2 -mfma -mf16c),
// for CPUs without AVX-512 VNNI. A 16-token panel is two 256-bit halves of 8
// tokens; lane t of an accumulator is token t of its half. vpmaddubsw
// multiplies 4 weights, broadcast to every lane, with each token's 4
// activations, leaving two int16 sums per token.
//
// Why panels pay on AVX2: the row kernels (quant_dot_x86.h) need vpmaddubsw
// *and* vpmaddwd for every 32 multiply-adds, and this core runs only about
// one of each per cycle (scout_kernel_bench int8_peak). Here the int16 sums
// of several 4-byte groups that share a scale are added in int16 first, as
// far as the weights' range allows without overflow, and one vpmaddwd then
// applies the scale: for 4-bit weights that is one multiply instruction per
// 32 multiply-adds instead of two.
//
// The bounds, with activations in [-128, 127] (Q8_256) or [-127, 127] (Q8_32):
// an int16 pair sum is at most 2 * wmax * 128, so 4-bit weights (wmax 15) sum
// 8 groups (30720), 5-bit (31) 4 groups, 6-bit (63) 2 groups, and Q8_0's
// |w| <= 127 one group (32512).
//
// Weight blocks are first unpacked to unsigned bytes in element order (a
// small stack buffer), from which the 4-byte groups are broadcast. The
// kernels work on one or two weight rows at a time (the registers hold two
// rows' sums for 16 tokens); the wrapper at the end runs up to kGemmRows.
#include "kernels/cpu/quant_gemm.h"

#if defined(__x86_64__)
#include <type_traits>

#include "kernels/cpu/simd_x86.h"
#include "tensor/blocks.h"

namespace scout::kernels {
namespace {

using namespace scout::blocks;
constexpr int T = kPanelTokens;
constexpr int kHalf = 8;  // tokens per 256-bit vector

// Adds the int16 pair sums of groups [g0, g0 + n) of one scale's span for R
// rows: t16[r][h] += 4 weights of row r (broadcast) x 4 activations per token.
// wq[r] points at the span's first weight byte, q at its first panel group.
template <int R>
inline void sum_groups16(const uint8_t* const* wq, const uint8_t* q, int g0, int n, __m256i (&t16)[R][2]) {
  for (int g = g0; g < g0 + n; ++g) {
    const __m256i a0 = loadu(q + 64 * g), a1 = loadu(q + 64 * g + 32);
    for (int r = 0; r < R; ++r) {
      const __m256i wb = bcast4(wq[r] + 4 * g);
      t16[r][0] = summed(_mm256_add_epi16(t16[r][0], _mm256_maddubs_epi16(wb, a0)));
      t16[r][1] = summed(_mm256_add_epi16(t16[r][1], _mm256_maddubs_epi16(wb, a1)));
    }
  }
}

inline void store_rows(const __m256 (&acc)[2], float* out) {
  _mm256_storeu_ps(out, acc[0]);
  _mm256_storeu_ps(out + kHalf, acc[1]);
}

// --- 32-element blocks: panel = d[16], sum[16], q[8 groups][16 tokens][4] ---
constexpr size_t kSum32 = 4 * T, kQ32 = 8 * T;

// Q4_0: the stored nibble u = q + 8, summed over the whole block in int16,
// then 8 * sum(a) subtracted per token.
template <int R>
void gemm_q4_0(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) {
  __m256 acc[R][2];
  for (auto& a : acc) a[0] = a[1] = _mm256_setzero_ps();
  alignas(32) uint8_t wq[R][32];
  const uint8_t* wp[R];
  for (int r = 0; r < R; ++r) wp[r] = wq[r];
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t i = 0; i < n / 32; ++i) {
    const uint8_t* p = panel + i * kPanelBytes32;
    float d[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * ws + i * sizeof(Q4_0);
      d[r] = f16(b);
      storeu(wq[r], nibbles_32(b + offsetof(Q4_0, qs)));
    }
    __m256i t16[R][2];
    for (auto& t : t16) t[0] = t[1] = _mm256_setzero_si256();
    sum_groups16<R>(wp, p + kQ32, 0, 8, t16);
    for (int h = 0; h < 2; ++h) {
      const __m256 da = _mm256_loadu_ps(reinterpret_cast<const float*>(p) + kHalf * h);
      const __m256i offset = _mm256_slli_epi32(loadu(p + kSum32 + 32 * h), 3);
      for (int r = 0; r < R; ++r) {
        const __m256i s = _mm256_sub_epi32(_mm256_madd_epi16(t16[r][h], ones), offset);
        acc[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(da, _mm256_set1_ps(d[r])), acc[r][h]);
      }
    }
  }
  for (int r = 0; r < R; ++r) store_rows(acc[r], out + T * r);
}

// Q8_0: |w| broadcast as the unsigned operand, each token's activations
// given w's sign (vpsignb), one vpmaddwd per group.
template <int R>
void gemm_q8_0(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) {
  __m256 acc[R][2];
  for (auto& a : acc) a[0] = a[1] = _mm256_setzero_ps();
  alignas(32) uint8_t wabs[R][32];
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t i = 0; i < n / 32; ++i) {
    const uint8_t* p = panel + i * kPanelBytes32;
    const uint8_t* q = p + kQ32;
    float d[R];
    const uint8_t* ws8[R];  // the signed weights, in place
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * ws + i * sizeof(Q8_0);
      d[r] = f16(b);
      ws8[r] = b + 2;
      const __m256i v = loadu(ws8[r]);
      storeu(wabs[r], _mm256_sign_epi8(v, v));
    }
    __m256i isum[R][2];
    for (auto& s : isum) s[0] = s[1] = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      const __m256i a0 = loadu(q + 64 * g), a1 = loadu(q + 64 * g + 32);
      for (int r = 0; r < R; ++r) {
        const __m256i u = bcast4(wabs[r] + 4 * g), sgn = bcast4(ws8[r] + 4 * g);
        isum[r][0] = summed(_mm256_add_epi32(
            isum[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_sign_epi8(a0, sgn)), ones)));
        isum[r][1] = summed(_mm256_add_epi32(
            isum[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_sign_epi8(a1, sgn)), ones)));
      }
    }
    for (int h = 0; h < 2; ++h) {
      const __m256 da = _mm256_loadu_ps(reinterpret_cast<const float*>(p) + kHalf * h);
      for (int r = 0; r < R; ++r)
        acc[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r][h]), _mm256_mul_ps(da, _mm256_set1_ps(d[r])), acc[r][h]);
    }
  }
  for (int r = 0; r < R; ++r) store_rows(acc[r], out + T * r);
}

// --- 256-element blocks: panel = d[16], bsums[8][16][2], q[64 groups][16 tokens][4] ---
constexpr size_t kSums256 = 4 * T, kQ256 = kSums256 + 16 * 2 * T;

// Q4_K / Q5_K: eight sub-blocks of 32, d * sc * q - dmin * m.
template <bool kFive, int R>
void gemm_q45_k(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) {
  using Block = std::conditional_t<kFive, Q5_K, Q4_K>;
  constexpr int kGroups16 = kFive ? 4 : 8;  // groups summed in int16 (see the top)
  __m256 acc[R][2];
  for (auto& a : acc) a[0] = a[1] = _mm256_setzero_ps();
  alignas(32) uint8_t wq[R][256];
  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* p = panel + i * kPanelBytes256;
    const uint8_t* bs = p + kSums256;
    const uint8_t* q = p + kQ256;
    float d[R], dmin[R];
    alignas(16) uint8_t sm[R][16];  // per row: sc0..7, then m0..7
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * ws + i * sizeof(Block);
      d[r] = f16(b);
      dmin[r] = f16(b + 2);
      _mm_store_si128(reinterpret_cast<__m128i*>(sm[r]), unpack_scales_k4(b + 4));
      __m256i qh = _mm256_setzero_si256();
      if constexpr (kFive) qh = loadu(b + offsetof(Q5_K, qh));
      for (int k = 0; k < 4; ++k) {
        __m256i lo, hi;
        q45_k_pair<kFive>(b, qh, k, lo, hi);
        storeu(wq[r] + 64 * k, lo);
        storeu(wq[r] + 64 * k + 32, hi);
      }
    }
    __m256i isum[R][2];
    for (auto& s : isum) s[0] = s[1] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const uint8_t* wp[R];
      for (int r = 0; r < R; ++r) wp[r] = wq[r] + 32 * j;
      for (int g0 = 0; g0 < 8; g0 += kGroups16) {
        __m256i t16[R][2];
        for (auto& t : t16) t[0] = t[1] = _mm256_setzero_si256();
        sum_groups16<R>(wp, q + 64 * 8 * j, g0, kGroups16, t16);
        for (int r = 0; r < R; ++r) {
          const __m256i sc = _mm256_set1_epi16(sm[r][j]);
          isum[r][0] = _mm256_add_epi32(isum[r][0], _mm256_madd_epi16(t16[r][0], sc));
          isum[r][1] = _mm256_add_epi32(isum[r][1], _mm256_madd_epi16(t16[r][1], sc));
        }
      }
    }
    for (int h = 0; h < 2; ++h) {
      const __m256 da = _mm256_loadu_ps(reinterpret_cast<const float*>(p) + kHalf * h);
      for (int r = 0; r < R; ++r) {
        __m256i msum = _mm256_setzero_si256();  // sum_j m_j * (both bsums of sub-block j)
        for (int j = 0; j < 8; ++j)
          msum = _mm256_add_epi32(msum, _mm256_madd_epi16(loadu(bs + 64 * j + 32 * h),
                                                          _mm256_set1_epi32(pair16(sm[r][8 + j], sm[r][8 + j]))));
        acc[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r][h]), _mm256_mul_ps(da, _mm256_set1_ps(d[r])), acc[r][h]);
        acc[r][h] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(da, _mm256_set1_ps(dmin[r])), acc[r][h]);
      }
    }
  }
  for (int r = 0; r < R; ++r) store_rows(acc[r], out + T * r);
}

// Q6_K: sixteen sub-blocks of 16 with int8 scales, q stored as q + 32 (6 bits:
// two groups per int16 sum, two sums per sub-block).
template <int R>
void gemm_q6_k(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) {
  __m256 acc[R][2];
  for (auto& a : acc) a[0] = a[1] = _mm256_setzero_ps();
  alignas(32) uint8_t wq[R][256];
  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* p = panel + i * kPanelBytes256;
    const uint8_t* bs = p + kSums256;
    const uint8_t* q = p + kQ256;
    float d[R];
    const int8_t* sc[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * ws + i * sizeof(Q6_K);
      d[r] = f16(b + offsetof(Q6_K, d));
      sc[r] = reinterpret_cast<const int8_t*>(b + offsetof(Q6_K, scales));
      for (int h = 0; h < 2; ++h) {
        __m256i q[4];
        q6_k_half(b, h, q);
        for (int k = 0; k < 4; ++k) storeu(wq[r] + 128 * h + 32 * k, q[k]);
      }
    }
    __m256i isum[R][2];
    for (auto& s : isum) s[0] = s[1] = _mm256_setzero_si256();
    for (int s = 0; s < 16; ++s) {
      const uint8_t* wp[R];
      for (int r = 0; r < R; ++r) wp[r] = wq[r] + 16 * s;
      for (int g0 = 0; g0 < 4; g0 += 2) {
        __m256i t16[R][2];
        for (auto& t : t16) t[0] = t[1] = _mm256_setzero_si256();
        sum_groups16<R>(wp, q + 64 * 4 * s, g0, 2, t16);
        for (int r = 0; r < R; ++r) {
          const __m256i scale = _mm256_set1_epi16(sc[r][s]);
          isum[r][0] = _mm256_add_epi32(isum[r][0], _mm256_madd_epi16(t16[r][0], scale));
          isum[r][1] = _mm256_add_epi32(isum[r][1], _mm256_madd_epi16(t16[r][1], scale));
        }
      }
    }
    for (int h = 0; h < 2; ++h) {
      const __m256 da = _mm256_loadu_ps(reinterpret_cast<const float*>(p) + kHalf * h);
      for (int r = 0; r < R; ++r) {
        __m256i s = isum[r][h];
        for (int j = 0; j < 8; ++j)  // the stored +32: -32 * sc_s * bsum_s, two sub-blocks per step
          s = _mm256_add_epi32(s, _mm256_madd_epi16(loadu(bs + 64 * j + 32 * h),
                                                    _mm256_set1_epi32(pair16(-32 * sc[r][2 * j], -32 * sc[r][2 * j + 1]))));
        acc[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(da, _mm256_set1_ps(d[r])), acc[r][h]);
      }
    }
  }
  for (int r = 0; r < R; ++r) store_rows(acc[r], out + T * r);
}

// Runtime row count (1..kGemmRows) -> kernels of one or two rows.
template <template <int> class K>
void by_pairs(int64_t n, const uint8_t* w, size_t ws, int n_w_rows, const uint8_t* panel, float* out) {
  for (int r = 0; r < n_w_rows; r += 2) {
    if (n_w_rows - r >= 2) K<2>::run(n, w + r * ws, ws, panel, out + T * r);
    else K<1>::run(n, w + r * ws, ws, panel, out + T * r);
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

constexpr QuantGemm kQ8_0{ActFormat::Q8_32, by_pairs<Q8_0Gemm>};
constexpr QuantGemm kQ4_0{ActFormat::Q8_32, by_pairs<Q4_0Gemm>};
constexpr QuantGemm kQ4_K{ActFormat::Q8_256, by_pairs<Q4_KGemm>};
constexpr QuantGemm kQ5_K{ActFormat::Q8_256, by_pairs<Q5_KGemm>};
constexpr QuantGemm kQ6_K{ActFormat::Q8_256, by_pairs<Q6_KGemm>};

}  // namespace

const QuantGemm* quant_gemm_avx2(TensorType t) {
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
const QuantGemm* quant_gemm_avx2(TensorType) { return nullptr; }
}  // namespace scout::kernels
#endif
