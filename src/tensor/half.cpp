// fp16 (IEEE binary16) and bf16 (the top half of an f32) conversions, done on
// the bits so the result never depends on the FPU mode or the compiler's
// choice of instructions. Rounding is to nearest, ties to even, as ggml (and
// the F16C instructions ggml uses on x86) do.
#include <bit>
#include <cstdint>

#include "tensor/dequant.h"

namespace scout {

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  if (exp == 0x1F)  // inf or NaN: keep the payload
    return std::bit_cast<float>(sign | 0x7F800000u | (mant << 13));
  if (exp != 0)  // normal: rebias the exponent from 15 to 127
    return std::bit_cast<float>(sign | ((exp + 127 - 15) << 23) | (mant << 13));
  if (mant == 0) return std::bit_cast<float>(sign);  // +-0
  // Subnormal half: mant * 2^-24, normal as an f32. Shift until the implicit
  // bit (0x400) is set, lowering the exponent each step.
  int e = 127 - 15 + 1;
  while (!(mant & 0x400)) {
    mant <<= 1;
    --e;
  }
  return std::bit_cast<float>(sign | (static_cast<uint32_t>(e) << 23) | ((mant & 0x3FF) << 13));
}

uint16_t fp32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7FFFFFFF;
  if (ax > 0x7F800000)  // NaN: quiet it, keep the top of the payload
    return sign | 0x7E00 | static_cast<uint16_t>((ax >> 13) & 0x3FF);
  if (ax >= 0x477FF000)  // >= 65520 (halfway past the largest half, 65504) -> inf
    return sign | 0x7C00;
  if (ax >= 0x38800000) {  // >= 2^-14: a normal half
    uint32_t r = ax - ((127u - 15u) << 23);  // rebias, mantissa still 23 bits
    r += 0xFFF + ((r >> 13) & 1);            // round the 13 dropped bits, ties to even
    return sign | static_cast<uint16_t>(r >> 13);  // a carry correctly bumps the exponent
  }
  // Subnormal half (or zero): the result is round(|f| / 2^-24).
  const uint32_t e = ax >> 23;
  if (e < 102) return sign;  // |f| < 2^-25: rounds to zero (2^-25 itself is handled below)
  const uint32_t m = (ax & 0x7FFFFF) | 0x800000;  // 24-bit significand, |f| = m * 2^(e-150)
  const uint32_t shift = 126 - e;                 // m * 2^(e-150) / 2^-24 = m >> (126 - e)
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;  // may reach 0x400, the smallest normal: fine
  return sign | static_cast<uint16_t>(q);
}

float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

uint16_t fp32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFF) > 0x7F800000)  // NaN: truncate and force the quiet bit
    return static_cast<uint16_t>((x >> 16) | 0x40);
  // Round the low 16 bits to nearest even; overflow to inf happens naturally.
  return static_cast<uint16_t>((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
}

}  // namespace scout
