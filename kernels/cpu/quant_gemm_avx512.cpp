// The panel kernels of quant_gemm.h for AVX-512 VNNI on 512-bit vectors
// (built with -mavx512f/bw/vl/vnni). Lane t of every accumulator is token t
// of the panel; vpdpbusd multiplies 4 weights, broadcast to all 16 lanes, with
// each token's 4 activations and adds them up. Weight blocks are first
// unpacked to unsigned bytes in element order (a small stack buffer), from
// which the 4-byte groups are broadcast.
#include "kernels/cpu/quant_gemm.h"

#if defined(__x86_64__)
#include "kernels/cpu/simd_avx512.h"

namespace scout::kernels {
namespace {

using namespace scout::blocks;
constexpr int T = kPanelTokens;

inline __m512i bcast4_512(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline void store512(void* p, __m512i v) { _mm512_store_si512(p, v); }

// --- 32-element blocks: panel = d[16], sum[16], q[8 groups][16 tokens][4] ---
constexpr size_t kSum32 = 4 * T, kQ32 = 8 * T;

// Q8_0 and Q4_0 share the loop: weights as unsigned bytes u = q + offset
// (Q8_0: the top bit flipped, +128, as AVX-512 has no vpsignb; Q4_0: the
// stored nibble, q + 8), then offset * sum(a) subtracted per token.
template <bool kQ4, int R>
void gemm_32(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) {
  constexpr size_t kBytes = kQ4 ? sizeof(Q4_0) : sizeof(Q8_0);
  constexpr int kShift = kQ4 ? 3 : 7;  // log2 of the offset
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  alignas(64) uint8_t wq[R][32];
  for (int64_t i = 0; i < n / 32; ++i) {
    const uint8_t* p = panel + i * kPanelBytes32;
    const __m512 da = _mm512_loadu_ps(reinterpret_cast<const float*>(p));
    const __m512i offset_sum = _mm512_slli_epi32(loadu512(p + kSum32), kShift);
    const uint8_t* q = p + kQ32;
    float d[R];
    __m512i tmp[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * ws + i * kBytes;
      d[r] = f16(b);
      if constexpr (kQ4) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
        const __m128i low4 = _mm_set1_epi8(0x0F);
        _mm_store_si128(reinterpret_cast<__m128i*>(wq[r]), _mm_and_si128(bytes, low4));
        _mm_store_si128(reinterpret_cast<__m128i*>(wq[r] + 16), _mm_and_si128(_mm_srli_epi16(bytes, 4), low4));
      } else {
        storeu(wq[r], _mm256_xor_si256(loadu(b + 2), _mm256_set1_epi8(static_cast<char>(0x80))));
      }
      tmp[r] = _mm512_setzero_si512();
    }
    for (int g = 0; g < 8; ++g) {
      const __m512i a = in_register(loadu512(q + 64 * g));
      for (int r = 0; r < R; ++r) tmp[r] = _mm512_dpbusd_epi32(tmp[r], bcast4_512(wq[r] + 4 * g), a);
    }
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(tmp[r], offset_sum)),
                               _mm512_mul_ps(da, _mm512_set1_ps(d[r])), acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + T * r, acc[r]);
}

// --- 256-element blocks: panel = d[16], bsums[8][16][2], q[64 groups][16 tokens][4] ---
constexpr size_t kSums256 = 4 * T, kQ256 = kSums256 + 16 * 2 * T;

// Q4_K / Q5_K: eight sub-blocks of 32, d * sc * q - dmin * m.
template <bool kFive, int R>
void gemm_q45_k(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) {
  using Block = std::conditional_t<kFive, Q5_K, Q4_K>;
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  alignas(64) uint8_t wq[R][256];
  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* p = panel + i * kPanelBytes256;
    const __m512 da = _mm512_loadu_ps(reinterpret_cast<const float*>(p));
    const uint8_t* bs = p + kSums256;
    const uint8_t* q = p + kQ256;
    float d[R], dmin[R];
    alignas(16) uint8_t sm[R][16];  // per row: sc0..7, then m0..7
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * ws + i * sizeof(Block);
      d[r] = f16(b);
      dmin[r] = f16(b + 2);
      _mm_store_si128(reinterpret_cast<__m128i*>(sm[r]), unpack_scales_k4(b + 4));
      for (int k = 0; k < 4; ++k) store512(wq[r] + 64 * k, q45_k_elements64<kFive>(b, k));
    }
    __m512i isum[R], msum[R];
    for (int r = 0; r < R; ++r) isum[r] = msum[r] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      __m512i tmp[R];
      for (int r = 0; r < R; ++r) tmp[r] = _mm512_setzero_si512();
      for (int g = 0; g < 8; ++g) {
        const __m512i a = in_register(loadu512(q + 64 * (8 * j + g)));
        for (int r = 0; r < R; ++r) tmp[r] = _mm512_dpbusd_epi32(tmp[r], bcast4_512(wq[r] + 32 * j + 4 * g), a);
      }
      const __m512i bsum = loadu512(bs + 64 * j);  // both halves of sub-block j, per token
      for (int r = 0; r < R; ++r) {
        isum[r] = _mm512_add_epi32(isum[r], _mm512_mullo_epi32(tmp[r], _mm512_set1_epi32(sm[r][j])));
        msum[r] = _mm512_dpwssd_epi32(msum[r], bsum, _mm512_set1_epi32(pair16(sm[r][8 + j], sm[r][8 + j])));
      }
    }
    for (int r = 0; r < R; ++r) {
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_mul_ps(da, _mm512_set1_ps(d[r])), acc[r]);
      acc[r] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[r]), _mm512_mul_ps(da, _mm512_set1_ps(dmin[r])), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + T * r, acc[r]);
}

// Q6_K: sixteen sub-blocks of 16 with int8 scales, q stored as q + 32.
template <int R>
void gemm_q6_k(int64_t n, const uint8_t* w, size_t ws, const uint8_t* panel, float* out) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  alignas(64) uint8_t wq[R][256];
  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* p = panel + i * kPanelBytes256;
    const __m512 da = _mm512_loadu_ps(reinterpret_cast<const float*>(p));
    const uint8_t* bs = p + kSums256;
    const uint8_t* q = p + kQ256;
    float d[R];
    const int8_t* sc[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * ws + i * sizeof(Q6_K);
      d[r] = f16(b + offsetof(Q6_K, d));
      sc[r] = reinterpret_cast<const int8_t*>(b + offsetof(Q6_K, scales));
      for (int h = 0; h < 2; ++h) {
        __m512i e[2];
        q6_k_elements128(b, h, e);
        store512(wq[r] + 128 * h, e[0]);
        store512(wq[r] + 128 * h + 64, e[1]);
      }
    }
    __m512i isum[R];
    for (int r = 0; r < R; ++r) isum[r] = _mm512_setzero_si512();
    for (int s = 0; s < 16; ++s) {
      __m512i tmp[R];
      for (int r = 0; r < R; ++r) tmp[r] = _mm512_setzero_si512();
      for (int g = 0; g < 4; ++g) {
        const __m512i a = in_register(loadu512(q + 64 * (4 * s + g)));
        for (int r = 0; r < R; ++r) tmp[r] = _mm512_dpbusd_epi32(tmp[r], bcast4_512(wq[r] + 16 * s + 4 * g), a);
      }
      for (int r = 0; r < R; ++r)
        isum[r] = _mm512_add_epi32(isum[r], _mm512_mullo_epi32(tmp[r], _mm512_set1_epi32(sc[r][s])));
    }
    for (int j = 0; j < 8; ++j) {  // the stored +32: -32 * sc_s * bsum_s, two sub-blocks per step
      const __m512i bsum = loadu512(bs + 64 * j);
      for (int r = 0; r < R; ++r)
        isum[r] = _mm512_dpwssd_epi32(isum[r], bsum, _mm512_set1_epi32(pair16(-32 * sc[r][2 * j], -32 * sc[r][2 * j + 1])));
    }
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_mul_ps(da, _mm512_set1_ps(d[r])), acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + T * r, acc[r]);
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
SCOUT_GEMM_WRAPPER(Q8_0Gemm, (gemm_32<false, R>))
SCOUT_GEMM_WRAPPER(Q4_0Gemm, (gemm_32<true, R>))
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

const QuantGemm* quant_gemm_avx512(TensorType t) {
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
const QuantGemm* quant_gemm_avx512(TensorType) { return nullptr; }
}  // namespace scout::kernels
#endif
