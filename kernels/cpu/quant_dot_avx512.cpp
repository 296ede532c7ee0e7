// The AVX-512 level of quant_dot.h: the hot weight types on 512-bit vectors
// (built with -mavx512f/bw/vl/vnni). Types without a kernel here fall back to
// the 256-bit VNNI kernels (quant_dot_x86.h).
//
// Why a separate file rather than a wider quant_dot_x86.h: on cores with full
// 512-bit units (Zen 5, Sapphire Rapids) a zmm instruction does twice the work
// of a ymm one, and generation is compute-bound in these kernels (about 100
// vector ops per 256 weights at 256 bits). The 512-bit forms also need other
// tricks: AVX-512 has no vpsignb, and its 128-bit-lane shuffles differ.
//
// Per type, the math is quant_dot_scalar.cpp's (read that first); the integer
// sums are formed in a different order, so results match it to rounding.
#include "kernels/cpu/quant_dot.h"

#if defined(__x86_64__)
#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/simd_avx512.h"

namespace scout::kernels {
namespace {

using namespace scout::blocks;

// Word-index vectors for vpermw: word w of result z takes scale
// z * step + w / width (width = words sharing one scale).
struct ScalePick {
  __m512i idx[4];
  ScalePick(int width, int step) {
    alignas(64) int16_t v[32];
    for (int z = 0; z < 4; ++z) {
      for (int w = 0; w < 32; ++w) v[w] = static_cast<int16_t>(z * step + w / width);
      idx[z] = _mm512_load_si512(v);
    }
  }
};

// sum over products of u8 x s8 pairs, times the pair's int16 scale, added to acc.
// vpmaddubsw cannot saturate here: |q| <= 63 and |a| <= 127 give <= 16002 per pair.
inline __m512i dot_scaled(__m512i acc, __m512i u, __m512i s, __m512i scale16) {
  return _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(u, s), scale16);
}

// Q6_K: 16 sub-blocks of 16 with int8 scales, q stored as q + 32. One zmm
// holds 64 elements = four sub-blocks, one per 128-bit lane.
template <int NA>
void q6_k_rows(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const ActBlock256* a[NA];
  for (int r = 0; r < NA; ++r) a[r] = reinterpret_cast<const ActBlock256*>(act + r * stride);
  __m512 acc[NA];
  for (int r = 0; r < NA; ++r) acc[r] = _mm512_setzero_ps();
  static const ScalePick pick(8, 4);

  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* b = w + i * sizeof(Q6_K);
    const float d = f16(b + offsetof(Q6_K, d));
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + offsetof(Q6_K, scales)));
    const __m512i sc16 = _mm512_zextsi256_si512(_mm256_cvtepi8_epi16(sc8));
    // The stored +32 removed in one step: -32 * sum_s sc_s * bsum_s.
    const __m512i sc_m32 = _mm512_sub_epi16(_mm512_setzero_si512(), _mm512_slli_epi16(sc16, 5));

    __m512i isum[NA];
    for (int r = 0; r < NA; ++r) isum[r] = _mm512_dpwssd_epi32(_mm512_setzero_si512(), zext256(a[r][i].bsums), sc_m32);
    for (int h = 0; h < 2; ++h) {
      __m512i q[2];
      q6_k_elements128(b, h, q);
      for (int k = 0; k < 2; ++k) {
        const __m512i s = _mm512_permutexvar_epi16(pick.idx[2 * h + k], sc16);
        for (int r = 0; r < NA; ++r) isum[r] = dot_scaled(isum[r], q[k], loadu512(a[r][i].q + 128 * h + 64 * k), s);
      }
    }
    for (int r = 0; r < NA; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_set1_ps(d * a[r][i].d), acc[r]);
  }
  for (int r = 0; r < NA; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

// Q4_K and Q5_K: 4 pairs of 32-element sub-blocks, d*sc*q - dmin*m; one zmm
// is a pair, sub-block 2p in the low half.
template <bool kFive, int NA>
void q45_k_rows(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  using Block = std::conditional_t<kFive, Q5_K, Q4_K>;
  const ActBlock256* a[NA];
  for (int r = 0; r < NA; ++r) a[r] = reinterpret_cast<const ActBlock256*>(act + r * stride);
  __m512 acc[NA];
  __m256 macc[NA];
  for (int r = 0; r < NA; ++r) acc[r] = _mm512_setzero_ps(), macc[r] = _mm256_setzero_ps();
  static const ScalePick pick(16, 2);

  for (int64_t i = 0; i < n / 256; ++i) {
    const uint8_t* b = w + i * sizeof(Block);
    const float d = f16(b), dmin = f16(b + 2);
    const __m128i sm = unpack_scales_k4(b + 4);                     // sc0..7, m0..7
    const __m512i sc16 = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(sm));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));  // m0 m0 m1 m1 ... per 16

    __m512i isum[NA];
    for (int r = 0; r < NA; ++r) isum[r] = _mm512_setzero_si512();
    for (int p = 0; p < 4; ++p) {
      const __m512i q = q45_k_elements64<kFive>(b, p);
      const __m512i s = _mm512_permutexvar_epi16(pick.idx[p], sc16);
      for (int r = 0; r < NA; ++r) isum[r] = dot_scaled(isum[r], q, loadu512(a[r][i].q + 64 * p), s);
    }
    for (int r = 0; r < NA; ++r) {
      const ActBlock256& ab = a[r][i];
      const __m256i msum = _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.bsums)), mins);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_set1_ps(d * ab.d), acc[r]);
      macc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * ab.d), macc[r]);
    }
  }
  for (int r = 0; r < NA; ++r) out[r] = _mm512_reduce_add_ps(acc[r]) - hsum(macc[r]);
}

// Q8_0: two blocks per zmm. AVX-512 has no vpsignb, so the signed weights are
// made unsigned by flipping the top bit (q + 128) and 128 * sum(a) subtracted:
// 16 * sum from each of the block's 8 lanes.
template <int NA>
void q8_0_rows(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const ActBlock32* a[NA];
  for (int r = 0; r < NA; ++r) a[r] = reinterpret_cast<const ActBlock32*>(act + r * stride);
  __m512 acc[NA];
  for (int r = 0; r < NA; ++r) acc[r] = _mm512_setzero_ps();
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const __mmask16 upper = 0xFF00;
  const int64_t nb = n / 32;
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const uint8_t* b = w + i * sizeof(Q8_0);
    const __m512i q = _mm512_xor_si512(
        _mm512_inserti64x4(_mm512_castsi256_si512(loadu(b + 2)), loadu(b + sizeof(Q8_0) + 2), 1), flip);
    const __m512 dw = _mm512_mask_broadcastss_ps(_mm512_set1_ps(f16(b)), upper, _mm_set_ss(f16(b + sizeof(Q8_0))));
    for (int r = 0; r < NA; ++r) {
      const ActBlock32* ab = a[r] + i;
      const __m512i s = _mm512_inserti64x4(_mm512_castsi256_si512(loadu(ab[0].q)), loadu(ab[1].q), 1);
      const __m512i off = _mm512_mask_set1_epi32(_mm512_set1_epi32(16 * ab[0].sum), upper, 16 * ab[1].sum);
      const __m512i p = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), q, s), off);
      const __m512 da = _mm512_mask_broadcastss_ps(_mm512_set1_ps(ab[0].d), upper, _mm_set_ss(ab[1].d));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw, da), acc[r]);
    }
  }
  float tail[NA] = {};
  if (i < nb) {  // an odd last block, in 256 bits
    const uint8_t* b = w + i * sizeof(Q8_0);
    const __m256i q = _mm256_xor_si256(loadu(b + 2), _mm256_set1_epi8(static_cast<char>(0x80)));
    for (int r = 0; r < NA; ++r) {
      const ActBlock32& ab = a[r][i];
      const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, loadu(ab.q));
      tail[r] = f16(b) * ab.d * static_cast<float>(_mm512_reduce_add_epi32(_mm512_zextsi256_si512(p)) - 128 * ab.sum);
    }
  }
  for (int r = 0; r < NA; ++r) out[r] = _mm512_reduce_add_ps(acc[r]) + tail[r];
}

#define SCOUT_DOT_WRAPPER(Name, Call)                                                          \
  template <int NA>                                                                            \
  struct Name {                                                                                \
    static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t s, float* out) {  \
      Call(n, w, act, s, out);                                                                 \
    }                                                                                          \
  };
SCOUT_DOT_WRAPPER(Q8_0Dot, q8_0_rows<NA>)
SCOUT_DOT_WRAPPER(Q4_KDot, (q45_k_rows<false, NA>))
SCOUT_DOT_WRAPPER(Q5_KDot, (q45_k_rows<true, NA>))
SCOUT_DOT_WRAPPER(Q6_KDot, q6_k_rows<NA>)
#undef SCOUT_DOT_WRAPPER

constexpr QuantDot kQ8_0{ActFormat::Q8_32, by_rows<Q8_0Dot>};
constexpr QuantDot kQ4_K{ActFormat::Q8_256, by_rows<Q4_KDot>};
constexpr QuantDot kQ5_K{ActFormat::Q8_256, by_rows<Q5_KDot>};
constexpr QuantDot kQ6_K{ActFormat::Q8_256, by_rows<Q6_KDot>};

}  // namespace

const QuantDot* quant_dot_avx512(TensorType t) {
  switch (t) {
    case TensorType::Q8_0: return &kQ8_0;
    case TensorType::Q4_K: return &kQ4_K;
    case TensorType::Q5_K: return &kQ5_K;
    case TensorType::Q6_K: return &kQ6_K;
    default: return nullptr;
  }
}

}  // namespace scout::kernels
#else
namespace scout::kernels {
const QuantDot* quant_dot_avx512(TensorType) { return nullptr; }
}  // namespace scout::kernels
#endif
