// Decoding of ggml blocks to f32 in registers: the one copy of the
// dequantization math the CUDA kernels use. Compiles as device code under nvcc
// and as plain host C++, so tests/kernels/cuda_block_decode_test.cpp checks it
// bit for bit against the scalar reference (src/tensor/dequant*.cpp) without a GPU.
//
// Each BlockDecoder<T> reads one block from raw bytes (any alignment: blocks in
// a file are packed, e.g. Q8_0 is 34 bytes) and yields 32 elements at a time.
// The float operations follow the reference in the same order, with products
// rounded before any add (mul_rn), so no fused multiply-add changes a result.
#pragma once

#include <cstdint>
#include <cstring>

#include "tensor/types.h"

#if defined(__CUDACC__)
#define SCOUT_HD __host__ __device__ __forceinline__
#else
#define SCOUT_HD inline
#endif

namespace scout::cuda {

SCOUT_HD float bits_to_float(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);  // host only
  return f;
#endif
}

SCOUT_HD uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

SCOUT_HD uint32_t load_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// a*b rounded to float on its own: never fused with a following add or
// subtract (nvcc contracts by default, and so does g++ with -march=native).
SCOUT_HD float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  volatile float p = a * b;  // host path (tests): forces the rounding
  return p;
#endif
}

// Leading zero bits of a nonzero 32-bit value.
SCOUT_HD int clz32(uint32_t x) {
#ifdef __CUDA_ARCH__
  return __clz(static_cast<int>(x));
#else
  return __builtin_clz(x);
#endif
}

// IEEE binary16 -> f32 on the bits, exact for every input (as scout::fp16_to_fp32).
SCOUT_HD float fp16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  if (exp == 0x1F) return bits_to_float(sign | 0x7F800000u | (mant << 13));  // inf, NaN (payload kept)
  if (exp != 0) return bits_to_float(sign | ((exp + 127 - 15) << 23) | (mant << 13));
  if (mant == 0) return bits_to_float(sign);  // +-0
  // Subnormal: mant * 2^-24. Shift the leading 1 up to bit 10 (the implicit bit),
  // lowering the exponent by the shift.
  const int shift = clz32(mant) - 21;  // mant's top bit is at 31 - clz; want it at 10
  const uint32_t e = static_cast<uint32_t>(127 - 15 + 1 - shift);
  return bits_to_float(sign | (e << 23) | (((mant << shift) & 0x3FF) << 13));
}

SCOUT_HD float bf16_to_f32(uint16_t h) { return bits_to_float(static_cast<uint32_t>(h) << 16); }

// The 16 IQ4_NL / IQ4_XS levels (blocks.h kIq4Values), packed eight to a word so
// device code looks them up with a shift rather than a memory table.
constexpr uint64_t iq4_pack(int a, int b, int c, int d, int e, int f, int g, int h) {
  const int v[8] = {a, b, c, d, e, f, g, h};
  uint64_t w = 0;
  for (int i = 0; i < 8; ++i) w |= static_cast<uint64_t>(static_cast<uint8_t>(v[i])) << (8 * i);
  return w;
}
constexpr uint64_t kIq4Lo = iq4_pack(-127, -104, -83, -65, -49, -35, -22, -10);
constexpr uint64_t kIq4Hi = iq4_pack(1, 13, 25, 38, 53, 69, 89, 113);

// Level q (0..15) as a float.
SCOUT_HD float iq4_value(uint32_t q) {
  const uint64_t w = (q & 8) ? kIq4Hi : kIq4Lo;
  return static_cast<float>(static_cast<int8_t>(static_cast<uint8_t>(w >> (8 * (q & 7)))));
}

// Q4_K / Q5_K: scale and min of sub-block j from the 12 packed bytes (blocks.h
// unpack_scale_min_k4).
SCOUT_HD void unpack_scale_min_k4(const uint8_t* s, int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q3_K: 6-bit scale j of 16 from the 12 packed bytes (blocks.h unpack_scale_q3_k).
SCOUT_HD int unpack_scale_q3_k(const uint8_t* s, int j) {
  const int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
  const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

template <TensorType T>
struct BlockDecoder;

// The plain types, read as 32-element "blocks".
template <>
struct BlockDecoder<TensorType::F32> {
  static constexpr int kElems = 32, kBytes = 128, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int, float out[32]) {
    for (int j = 0; j < 32; ++j) out[j] = bits_to_float(load_u32(b + 4 * j));
  }
};

template <>
struct BlockDecoder<TensorType::F16> {
  static constexpr int kElems = 32, kBytes = 64, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int, float out[32]) {
    for (int j = 0; j < 32; ++j) out[j] = fp16_to_f32(load_u16(b + 2 * j));
  }
};

template <>
struct BlockDecoder<TensorType::BF16> {
  static constexpr int kElems = 32, kBytes = 64, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int, float out[32]) {
    for (int j = 0; j < 32; ++j) out[j] = bf16_to_f32(load_u16(b + 2 * j));
  }
};

// Legacy blocks: element j in the low nibble of qs[j], element j+16 in the high one.

// Q4_0 {d, qs[16]}: y = (q - 8) * d
template <>
struct BlockDecoder<TensorType::Q4_0> {
  static constexpr int kElems = 32, kBytes = 18, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int, float out[32]) {
    const float d = fp16_to_f32(load_u16(b));
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
      out[j] = static_cast<float>((qs[j] & 0xF) - 8) * d;
      out[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
};

// Q4_1 {d, m, qs[16]}: y = q * d + m
template <>
struct BlockDecoder<TensorType::Q4_1> {
  static constexpr int kElems = 32, kBytes = 20, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int, float out[32]) {
    const float d = fp16_to_f32(load_u16(b)), m = fp16_to_f32(load_u16(b + 2));
    const uint8_t* qs = b + 4;
    for (int j = 0; j < 16; ++j) {
      out[j] = mul_rn(static_cast<float>(qs[j] & 0xF), d) + m;
      out[j + 16] = mul_rn(static_cast<float>(qs[j] >> 4), d) + m;
    }
  }
};

// Q5_0 {d, qh[4], qs[16]}: y = (q - 16) * d, q's 5th bit is bit j of qh (little-endian u32)
template <>
struct BlockDecoder<TensorType::Q5_0> {
  static constexpr int kElems = 32, kBytes = 22, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int, float out[32]) {
    const float d = fp16_to_f32(load_u16(b));
    const uint32_t qh = load_u32(b + 2);
    const uint8_t* qs = b + 6;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      out[j] = static_cast<float>(lo - 16) * d;
      out[j + 16] = static_cast<float>(hi - 16) * d;
    }
  }
};

// Q5_1 {d, m, qh[4], qs[16]}: y = q * d + m, q 5-bit as in Q5_0
template <>
struct BlockDecoder<TensorType::Q5_1> {
  static constexpr int kElems = 32, kBytes = 24, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int, float out[32]) {
    const float d = fp16_to_f32(load_u16(b)), m = fp16_to_f32(load_u16(b + 2));
    const uint32_t qh = load_u32(b + 4);
    const uint8_t* qs = b + 8;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      out[j] = mul_rn(static_cast<float>(lo), d) + m;
      out[j + 16] = mul_rn(static_cast<float>(hi), d) + m;
    }
  }
};

// Q8_0 {d, qs[32] int8}: y = q * d
template <>
struct BlockDecoder<TensorType::Q8_0> {
  static constexpr int kElems = 32, kBytes = 34, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int, float out[32]) {
    const float d = fp16_to_f32(load_u16(b));
    for (int j = 0; j < 32; ++j) out[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
  }
};

// Q2_K {scales[16], qs[64], d, dmin}: y = (d*(sc&15)) * q - dmin*(sc>>4), q 2-bit.
// Group g (half g/4, plane k = g%4) is bits 2k of qs[32*(g/4) + j]; its two
// 16-element sub-blocks use scale bytes 2g and 2g+1.
template <>
struct BlockDecoder<TensorType::Q2_K> {
  static constexpr int kElems = 256, kBytes = 84, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int g, float out[32]) {
    const float d = fp16_to_f32(load_u16(b + 80)), dmin = fp16_to_f32(load_u16(b + 82));
    const uint8_t* q = b + 16 + 32 * (g / 4);
    const int shift = 2 * (g % 4);
    for (int part = 0; part < 2; ++part) {
      const int sc = b[2 * g + part];
      const float dl = mul_rn(d, static_cast<float>(sc & 0xF)), ml = mul_rn(dmin, static_cast<float>(sc >> 4));
      for (int l = 0; l < 16; ++l) {
        const int j = 16 * part + l;
        out[j] = mul_rn(dl, static_cast<float>((q[j] >> shift) & 3)) - ml;
      }
    }
  }
};

// Q3_K {hmask[32], qs[64], scales[12], d}: y = (d*(sc-32)) * (q - 4*!h), q 2-bit
// laid out as in Q2_K, h = bit g of hmask[j], 6-bit sc 2g and 2g+1 per 16 elements.
template <>
struct BlockDecoder<TensorType::Q3_K> {
  static constexpr int kElems = 256, kBytes = 110, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int g, float out[32]) {
    const float d = fp16_to_f32(load_u16(b + 108));
    const uint8_t* hmask = b;
    const uint8_t* q = b + 32 + 32 * (g / 4);
    const uint8_t* scales = b + 96;
    const int shift = 2 * (g % 4);
    for (int part = 0; part < 2; ++part) {
      const float dl = mul_rn(d, static_cast<float>(unpack_scale_q3_k(scales, 2 * g + part) - 32));
      for (int l = 0; l < 16; ++l) {
        const int j = 16 * part + l;
        const int lo = (q[j] >> shift) & 3;
        const int high_set = (hmask[j] >> g) & 1;
        out[j] = mul_rn(dl, static_cast<float>(lo - (high_set ? 0 : 4)));
      }
    }
  }
};

// Q4_K {d, dmin, scales[12], qs[128]}: y = (d*sc) * q - dmin*m, q 4-bit.
// Group g = sub-block g: nibble g%2 of qs[32*(g/2) + j].
template <>
struct BlockDecoder<TensorType::Q4_K> {
  static constexpr int kElems = 256, kBytes = 144, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int g, float out[32]) {
    const float d = fp16_to_f32(load_u16(b)), dmin = fp16_to_f32(load_u16(b + 2));
    int sc, m;
    unpack_scale_min_k4(b + 4, g, sc, m);
    const float d1 = mul_rn(d, static_cast<float>(sc)), m1 = mul_rn(dmin, static_cast<float>(m));
    const uint8_t* q = b + 16 + 32 * (g / 2);
    const int shift = 4 * (g % 2);
    for (int j = 0; j < 32; ++j) out[j] = mul_rn(d1, static_cast<float>((q[j] >> shift) & 0xF)) - m1;
  }
};

// Q5_K {d, dmin, scales[12], qh[32], qs[128]}: as Q4_K, q's 5th bit is bit g of qh[j].
template <>
struct BlockDecoder<TensorType::Q5_K> {
  static constexpr int kElems = 256, kBytes = 176, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int g, float out[32]) {
    const float d = fp16_to_f32(load_u16(b)), dmin = fp16_to_f32(load_u16(b + 2));
    int sc, m;
    unpack_scale_min_k4(b + 4, g, sc, m);
    const float d1 = mul_rn(d, static_cast<float>(sc)), m1 = mul_rn(dmin, static_cast<float>(m));
    const uint8_t* qh = b + 16;
    const uint8_t* q = b + 48 + 32 * (g / 2);
    const int shift = 4 * (g % 2);
    for (int j = 0; j < 32; ++j) {
      const int v = ((q[j] >> shift) & 0xF) + (((qh[j] >> g) & 1) << 4);
      out[j] = mul_rn(d1, static_cast<float>(v)) - m1;
    }
  }
};

// Q6_K {ql[128], qh[64], scales[16] int8, d}: y = (d*sc) * (q - 32), q 6-bit.
// Group g (half g/4, k = g%4): low nibble k/2 of ql[64*(g/4) + 32*(k%2) + j],
// top 2 bits at bit 2k of qh[32*(g/4) + j]; scale 2g for j < 16, 2g+1 after.
template <>
struct BlockDecoder<TensorType::Q6_K> {
  static constexpr int kElems = 256, kBytes = 210, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int g, float out[32]) {
    const float d = fp16_to_f32(load_u16(b + 208));
    const int k = g % 4;
    const uint8_t* ql = b + 64 * (g / 4) + 32 * (k & 1);
    const uint8_t* qh = b + 128 + 32 * (g / 4);
    const int lo_shift = 4 * (k >> 1), hi_shift = 2 * k;
    for (int part = 0; part < 2; ++part) {
      const float ds = mul_rn(d, static_cast<float>(static_cast<int8_t>(b[192 + 2 * g + part])));
      for (int l = 0; l < 16; ++l) {
        const int j = 16 * part + l;
        const int q = (((ql[j] >> lo_shift) & 0xF) | (((qh[j] >> hi_shift) & 3) << 4)) - 32;
        out[j] = mul_rn(ds, static_cast<float>(q));
      }
    }
  }
};

// IQ4_NL {d, qs[16]}: y = d * kIq4Values[q], q 4-bit, nibbles as the legacy blocks.
template <>
struct BlockDecoder<TensorType::IQ4_NL> {
  static constexpr int kElems = 32, kBytes = 18, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int, float out[32]) {
    const float d = fp16_to_f32(load_u16(b));
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
      out[j] = mul_rn(d, iq4_value(qs[j] & 0xF));
      out[j + 16] = mul_rn(d, iq4_value(qs[j] >> 4));
    }
  }
};

// IQ4_XS {d, scales_h, scales_l[4], qs[128]}: y = (d*(ls-32)) * kIq4Values[q];
// group g = sub-block g: ls = nibble g%2 of scales_l[g/2] | (bits 2g of scales_h) << 4,
// q as IQ4_NL in qs[16*g .. 16*g+16).
template <>
struct BlockDecoder<TensorType::IQ4_XS> {
  static constexpr int kElems = 256, kBytes = 136, kGroups = kElems / 32;
  static SCOUT_HD void group(const uint8_t* b, int g, float out[32]) {
    const float d = fp16_to_f32(load_u16(b));
    const uint32_t scales_h = load_u16(b + 2);
    const int ls = ((b[4 + g / 2] >> (4 * (g % 2))) & 0xF) | static_cast<int>(((scales_h >> (2 * g)) & 3) << 4);
    const float dl = mul_rn(d, static_cast<float>(ls - 32));
    const uint8_t* qs = b + 8 + 16 * g;
    for (int j = 0; j < 16; ++j) {
      out[j] = mul_rn(dl, iq4_value(qs[j] & 0xF));
      out[j + 16] = mul_rn(dl, iq4_value(qs[j] >> 4));
    }
  }
};

}  // namespace scout::cuda
