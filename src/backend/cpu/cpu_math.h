// Small numeric helpers the CPU backend's files share (cpu_backend.cpp,
// cpu_attention.cpp): exact f16 -> f32 conversion and a vectorisable exp, both
// written so that GCC vectorises the loops that call them.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace scout::backend::cpu {

// Multiply-adds per extra thread below which starting it costs more than it
// saves (a fork/join is microseconds, far more when cores are oversubscribed).
constexpr int64_t kMinWork = int64_t{1} << 18;

// IEEE half -> float, exact for every input, in integer and float arithmetic
// that vectorises (GCC does not vectorise _Float16 conversions without
// AVX512-FP16): the 15 magnitude bits shifted into an f32 are the value scaled
// by 2^-112 (subnormals included), so one multiply rescales; inf/NaN are patched.
inline float half_to_float(uint16_t h) {
  const uint32_t mag = static_cast<uint32_t>(h & 0x7fff) << 13;
  float f = std::bit_cast<float>(mag) * 0x1p112f;
  if ((h & 0x7c00) == 0x7c00) f = std::bit_cast<float>(mag | 0x7f800000u);
  return std::bit_cast<float>(std::bit_cast<uint32_t>(f) | (static_cast<uint32_t>(h & 0x8000) << 16));
}

// GCC left the loop over half_to_float scalar (perf: 60% of an f16 vision
// encoder's time), so F16C converts 8 at a time where the build targets it;
// both are exact, so the results are the same.
inline void halves_to_floats(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
  for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}

// 2^n for a whole-valued n, from the exponent bits: of a float, or of each
// lane of a GCC vector of floats.
inline float pow2_whole(float n) { return std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23); }
template <class V>
inline V pow2_whole(V n) {
  using I = decltype(n < n);  // the integer vector of the same shape
  return std::bit_cast<V>((__builtin_convertvector(n, I) + 127) << 23);
}

// e^x for x <= 0 (softmax arguments) within about 2 ulp (Cephes expf), for a
// float or every lane of a GCC vector of floats (the attention's rows, which
// GCC does not vectorise from the scalar form), in plain arithmetic so that
// loops over it vectorise: no std::floor or std::max, which GCC will not
// vectorise here; n = round(x / ln 2) by adding and removing 1.5 * 2^23.
template <class T>
inline T exp_nonpositive(T x) {
  x = x < -87.0f ? T{} - 87.0f : x;
  const T n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const T r = x - n * 0.693359375f + n * 2.12194440e-4f;
  T y = T{} + 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  return y * pow2_whole(n);
}

// erf(x) for x >= 0, within 2e-7 (Abramowitz and Stegun 7.1.26: |error| <
// 1.5e-7, plus float rounding), for a float or every lane of a GCC vector;
// std::erf is a scalar libm call, which made GELU a tenth of the vision
// encoder's time.
template <class T>
inline T erf_nonnegative(T x) {
  const T t = 1.0f / (1.0f + 0.3275911f * x);
  const T poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  return 1.0f - poly * exp_nonpositive(-(x * x));
}

// 16 floats; GCC and Clang map it to one AVX-512 register, or to 2 or 4
// narrower ones. Each lane's arithmetic is the same whatever the ISA, so sums
// accumulated lane-wise round the same way on every x86 CPU.
typedef float F32x16 __attribute__((vector_size(64)));
inline F32x16 load16(const float* p) {
  F32x16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(float* p, F32x16 v) { std::memcpy(p, &v, sizeof v); }
// The lanes added in a fixed order.
inline float sum_lanes(F32x16 v) {
  float s = 0.0f;
  for (int i = 0; i < 16; ++i) s += v[i];
  return s;
}

// A per-thread scratch buffer that only grows.
inline float* thread_buffer(std::vector<float>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

}  // namespace scout::backend::cpu
