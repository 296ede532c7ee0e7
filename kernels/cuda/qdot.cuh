// Integer dot products of quantized weight blocks with 8-bit activations, the
// GPU's GEMV inner loop (gemv_q8.cu), written as __host__ __device__ code so
// tests/kernels/cuda_qdot_test.cpp checks every type on the host against the
// CPU's scalar reference (kernels/cpu/quant_dot_scalar.cpp).
//
// The activations are those of kernels/cpu/act_quant.h (the same rounding,
// device_math.cuh), laid out for 16-byte loads: a row's int8 values back to
// back, and per block its scale d and its integer sums (one per 32-element
// block; sixteen, one per 16 values, per 256-element block).
//
// A weight block is split into kParts parts, one per GPU lane: each lane
// loads its part with the widest loads the block's alignment allows
// (weight rows are stored as in the file, so a Q4_K block is 16-byte
// aligned, a Q8_0 block only 2-byte aligned), decodes it to small integers
// and multiplies them with dp4a. The lanes' integer sums are added (exactly,
// in any order) and one lane scales the block's total in float as the CPU
// reference does: d*da*sum(q*a) (+ m*da*sum(a)), or for the K-quants
// d*da*sum(sc*q*a) - dmin*da*sum(m*a).
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/cuda/block_decode.cuh"

namespace scout::cuda {

// --- loads (device: aligned vector loads; host: memcpy) ---
SCOUT_HD uint32_t ld_a2(const uint8_t* p) {  // 4 bytes at a 2-byte aligned address
#ifdef __CUDA_ARCH__
  const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
  return static_cast<uint32_t>(__ldg(h)) | static_cast<uint32_t>(__ldg(h + 1)) << 16;
#else
  return load_u32(p);
#endif
}
SCOUT_HD uint32_t ld_a4(const uint8_t* p) {
#ifdef __CUDA_ARCH__
  return __ldg(reinterpret_cast<const uint32_t*>(p));
#else
  return load_u32(p);
#endif
}
SCOUT_HD void ld_a8(const uint8_t* p, uint32_t* v) {  // 8 bytes at an 8-byte aligned address
#ifdef __CUDA_ARCH__
  const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
  v[0] = u.x, v[1] = u.y;
#else
  std::memcpy(v, p, 8);
#endif
}
SCOUT_HD void ld_a16(const uint8_t* p, uint32_t* v) {  // 16 bytes at a 16-byte aligned address
#ifdef __CUDA_ARCH__
  const uint4 u = __ldg(reinterpret_cast<const uint4*>(p));
  v[0] = u.x, v[1] = u.y, v[2] = u.z, v[3] = u.w;
#else
  std::memcpy(v, p, 16);
#endif
}
// Activation values 4i .. 4i+3 of a block (16-byte aligned) as one int.
SCOUT_HD int act4(const int8_t* a, int i) {
#ifdef __CUDA_ARCH__
  return reinterpret_cast<const int*>(a)[i];
#else
  int v;
  std::memcpy(&v, a + 4 * i, 4);
  return v;
#endif
}

// c + the sum of the four signed byte products of a and b.
SCOUT_HD int dp4a(int a, int b, int c) {
#ifdef __CUDA_ARCH__
  return __dp4a(a, b, c);
#else
  for (int i = 0; i < 4; ++i) c += static_cast<int8_t>(a >> (8 * i)) * static_cast<int8_t>(b >> (8 * i));
  return c;
#endif
}

// __byte_perm(x, y, s) with selectors below 8: byte n of the result is byte
// (s >> 4n) & 7 of the 8 bytes y:x.
SCOUT_HD uint32_t byte_perm(uint32_t x, uint32_t y, uint32_t s) {
#ifdef __CUDA_ARCH__
  return __byte_perm(x, y, s);
#else
  const uint64_t xy = static_cast<uint64_t>(y) << 32 | x;
  uint32_t r = 0;
  for (int n = 0; n < 4; ++n) r |= static_cast<uint32_t>((xy >> (8 * ((s >> (4 * n)) & 7))) & 0xFF) << (8 * n);
  return r;
#endif
}

// Four IQ4 levels (blocks.h kIq4Values) for four bytes of 4-bit indices.
SCOUT_HD int iq4_lookup4(uint32_t v) {
  constexpr uint32_t t0 = static_cast<uint32_t>(kIq4Lo), t1 = static_cast<uint32_t>(kIq4Lo >> 32);
  constexpr uint32_t t2 = static_cast<uint32_t>(kIq4Hi), t3 = static_cast<uint32_t>(kIq4Hi >> 32);
  const uint32_t sel = (v & 0x7) | ((v >> 4) & 0x70) | ((v >> 8) & 0x700) | ((v >> 12) & 0x7000);
  const uint32_t lo = byte_perm(t0, t1, sel), hi = byte_perm(t2, t3, sel);
  const uint32_t mask = ((v & 0x08080808u) >> 3) * 0xFFu;  // 0xFF in the bytes whose index is >= 8
  return static_cast<int>((lo & ~mask) | (hi & mask));
}

// Bits 0..3 of b spread to bit 4 of bytes 0..3 (the 5th bit of Q5_0 / Q5_1).
SCOUT_HD uint32_t spread_bits4(uint32_t b) {
  return ((b & 1) << 4) | ((b & 2) << 11) | ((b & 4) << 18) | ((b & 8) << 25);
}

#if defined(__CUDA_ARCH__)  // device code only: the host compiler would warn
#define SCOUT_UNROLL _Pragma("unroll")
#else
#define SCOUT_UNROLL
#endif

// Word i of w[0..N) by selects, so a lane-dependent index keeps w in registers.
template <int N>
SCOUT_HD uint32_t word_at(const uint32_t* w, int i) {
  uint32_t r = w[0];
  SCOUT_UNROLL
  for (int k = 1; k < N; ++k) r = i == k ? w[k] : r;
  return r;
}
// Byte j of the 12 packed scale bytes held in three words.
SCOUT_HD int scale_byte(const uint32_t* w, int j) { return static_cast<int>((word_at<3>(w, j >> 2) >> (8 * (j & 3))) & 0xFF); }
// unpack_scale_min_k4 and unpack_scale_q3_k (block_decode.cuh) on the words.
SCOUT_HD void scale_min_k4(const uint32_t* w, int j, int& sc, int& m) {
  if (j < 4) {
    sc = scale_byte(w, j) & 63;
    m = scale_byte(w, j + 4) & 63;
  } else {
    sc = (scale_byte(w, j + 4) & 0xF) | ((scale_byte(w, j - 4) >> 6) << 4);
    m = (scale_byte(w, j + 4) >> 4) | ((scale_byte(w, j) >> 6) << 4);
  }
}
SCOUT_HD int scale_q3_k(const uint32_t* w, int j) {
  const int low = j < 8 ? (scale_byte(w, j) & 0xF) : (scale_byte(w, j - 8) >> 4);
  const int high = (scale_byte(w, 8 + j % 4) >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

// The integer sums of one part: a = sum of (scaled) q*a, b = the minimums' term.
struct QPart {
  int32_t a = 0, b = 0;
};

// The block's float value (the CPU reference's formulas; the compiler may fuse).
SCOUT_HD float finish32(float d, float m, int32_t qa, float ad, int32_t asum) {
  return d * ad * static_cast<float>(qa) + m * ad * static_cast<float>(asum);
}
SCOUT_HD float finish256(float d, float dmin, int32_t qs, int32_t ms, float ad) {
  return d * ad * static_cast<float>(qs) - dmin * ad * static_cast<float>(ms);
}

template <TensorType T>
struct QDot;

// ---------------- 32-element blocks, one lane each ----------------
// Regs hold the block's 16 or 32 quant bytes as words, and its scales.

template <>
struct QDot<TensorType::Q4_0> {  // {d, qs[16]}, 18 bytes, 2-aligned
  static constexpr int kElems = 32, kBytes = 18, kParts = 1;
  static constexpr bool kAct256 = false;
  struct Regs { uint32_t q[4]; float d; };
  static SCOUT_HD void load(const uint8_t* b, int, Regs& r) {
    r.d = fp16_to_f32(load_u16(b));
    SCOUT_UNROLL
    for (int i = 0; i < 4; ++i) r.q[i] = ld_a2(b + 2 + 4 * i);
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t* s, int) {
    int acc = 0;
    SCOUT_UNROLL
    for (int i = 0; i < 4; ++i) {
      acc = dp4a(static_cast<int>(r.q[i] & 0x0F0F0F0Fu), act4(a, i), acc);
      acc = dp4a(static_cast<int>((r.q[i] >> 4) & 0x0F0F0F0Fu), act4(a, 4 + i), acc);
    }
    return {acc - 8 * s[0], 0};
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t* s) { return finish32(r.d, 0.0f, p.a, ad, s[0]); }
};

template <>
struct QDot<TensorType::Q4_1> {  // {d, m, qs[16]}, 20 bytes, 4-aligned
  static constexpr int kElems = 32, kBytes = 20, kParts = 1;
  static constexpr bool kAct256 = false;
  struct Regs { uint32_t q[4]; float d, m; };
  static SCOUT_HD void load(const uint8_t* b, int, Regs& r) {
    const uint32_t h = ld_a4(b);
    r.d = fp16_to_f32(static_cast<uint16_t>(h));
    r.m = fp16_to_f32(static_cast<uint16_t>(h >> 16));
    SCOUT_UNROLL
    for (int i = 0; i < 4; ++i) r.q[i] = ld_a4(b + 4 + 4 * i);
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t*, int) {
    int acc = 0;
    SCOUT_UNROLL
    for (int i = 0; i < 4; ++i) {
      acc = dp4a(static_cast<int>(r.q[i] & 0x0F0F0F0Fu), act4(a, i), acc);
      acc = dp4a(static_cast<int>((r.q[i] >> 4) & 0x0F0F0F0Fu), act4(a, 4 + i), acc);
    }
    return {acc, 0};
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t* s) { return finish32(r.d, r.m, p.a, ad, s[0]); }
};

template <>
struct QDot<TensorType::Q5_0> {  // {d, qh[4], qs[16]}, 22 bytes, 2-aligned
  static constexpr int kElems = 32, kBytes = 22, kParts = 1;
  static constexpr bool kAct256 = false;
  struct Regs { uint32_t q[4]; uint32_t qh; float d; };
  static SCOUT_HD void load(const uint8_t* b, int, Regs& r) {
    r.d = fp16_to_f32(load_u16(b));
    r.qh = ld_a2(b + 2);
    SCOUT_UNROLL
    for (int i = 0; i < 4; ++i) r.q[i] = ld_a2(b + 6 + 4 * i);
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t* s, int) {
    int acc = 0;
    SCOUT_UNROLL
    for (int i = 0; i < 4; ++i) {
      const uint32_t lo = (r.q[i] & 0x0F0F0F0Fu) | spread_bits4((r.qh >> (4 * i)) & 0xF);
      const uint32_t hi = ((r.q[i] >> 4) & 0x0F0F0F0Fu) | spread_bits4((r.qh >> (16 + 4 * i)) & 0xF);
      acc = dp4a(static_cast<int>(lo), act4(a, i), acc);
      acc = dp4a(static_cast<int>(hi), act4(a, 4 + i), acc);
    }
    return {acc - 16 * s[0], 0};
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t* s) { return finish32(r.d, 0.0f, p.a, ad, s[0]); }
};

template <>
struct QDot<TensorType::Q5_1> {  // {d, m, qh[4], qs[16]}, 24 bytes, 8-aligned
  static constexpr int kElems = 32, kBytes = 24, kParts = 1;
  static constexpr bool kAct256 = false;
  struct Regs { uint32_t q[4]; uint32_t qh; float d, m; };
  static SCOUT_HD void load(const uint8_t* b, int, Regs& r) {
    uint32_t h[2];
    ld_a8(b, h);
    r.d = fp16_to_f32(static_cast<uint16_t>(h[0]));
    r.m = fp16_to_f32(static_cast<uint16_t>(h[0] >> 16));
    r.qh = h[1];
    ld_a8(b + 8, r.q);  // b + 8 is 8-aligned only
    ld_a8(b + 16, r.q + 2);
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t*, int) {
    int acc = 0;
    SCOUT_UNROLL
    for (int i = 0; i < 4; ++i) {
      const uint32_t lo = (r.q[i] & 0x0F0F0F0Fu) | spread_bits4((r.qh >> (4 * i)) & 0xF);
      const uint32_t hi = ((r.q[i] >> 4) & 0x0F0F0F0Fu) | spread_bits4((r.qh >> (16 + 4 * i)) & 0xF);
      acc = dp4a(static_cast<int>(lo), act4(a, i), acc);
      acc = dp4a(static_cast<int>(hi), act4(a, 4 + i), acc);
    }
    return {acc, 0};
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t* s) { return finish32(r.d, r.m, p.a, ad, s[0]); }
};

template <>
struct QDot<TensorType::Q8_0> {  // {d, qs[32] int8}, 34 bytes, 2-aligned
  static constexpr int kElems = 32, kBytes = 34, kParts = 1;
  static constexpr bool kAct256 = false;
  struct Regs { uint32_t q[8]; float d; };
  static SCOUT_HD void load(const uint8_t* b, int, Regs& r) {
    r.d = fp16_to_f32(load_u16(b));
    SCOUT_UNROLL
    for (int i = 0; i < 8; ++i) r.q[i] = ld_a2(b + 2 + 4 * i);
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t*, int) {
    int acc = 0;
    SCOUT_UNROLL
    for (int i = 0; i < 8; ++i) acc = dp4a(static_cast<int>(r.q[i]), act4(a, i), acc);
    return {acc, 0};
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t* s) { return finish32(r.d, 0.0f, p.a, ad, s[0]); }
};

template <>
struct QDot<TensorType::IQ4_NL> {  // {d, qs[16]}, 18 bytes, 2-aligned
  static constexpr int kElems = 32, kBytes = 18, kParts = 1;
  static constexpr bool kAct256 = false;
  struct Regs { uint32_t q[4]; float d; };
  static SCOUT_HD void load(const uint8_t* b, int, Regs& r) {
    r.d = fp16_to_f32(load_u16(b));
    SCOUT_UNROLL
    for (int i = 0; i < 4; ++i) r.q[i] = ld_a2(b + 2 + 4 * i);
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t*, int) {
    int acc = 0;
    SCOUT_UNROLL
    for (int i = 0; i < 4; ++i) {
      acc = dp4a(iq4_lookup4(r.q[i] & 0x0F0F0F0Fu), act4(a, i), acc);
      acc = dp4a(iq4_lookup4((r.q[i] >> 4) & 0x0F0F0F0Fu), act4(a, 4 + i), acc);
    }
    return {acc, 0};
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t* s) { return finish32(r.d, 0.0f, p.a, ad, s[0]); }
};

// ---------------- 256-element super-blocks, four lanes each ----------------
// s[] are the activation block's sixteen 16-value sums.

// Q4_K {d, dmin, scales[12], qs[128]}, 144 bytes, 16-aligned. Part p: qs[32p,
// 32p+32): low nibbles are elements 64p + l (sub-block 2p), high 64p+32+l (2p+1).
template <>
struct QDot<TensorType::Q4_K> {
  static constexpr int kElems = 256, kBytes = 144, kParts = 4;
  static constexpr bool kAct256 = true;
  struct Regs { uint32_t h[4]; uint32_t q[8]; };
  static SCOUT_HD void load(const uint8_t* b, int p, Regs& r) {
    ld_a16(b, r.h);
    ld_a16(b + 16 + 32 * p, r.q);
    ld_a16(b + 32 + 32 * p, r.q + 4);
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t* s, int p) {
    int sc0, m0, sc1, m1;
    scale_min_k4(r.h + 1, 2 * p, sc0, m0);
    scale_min_k4(r.h + 1, 2 * p + 1, sc1, m1);
    int lo = 0, hi = 0;
    SCOUT_UNROLL
    for (int i = 0; i < 8; ++i) {
      lo = dp4a(static_cast<int>(r.q[i] & 0x0F0F0F0Fu), act4(a, 16 * p + i), lo);
      hi = dp4a(static_cast<int>((r.q[i] >> 4) & 0x0F0F0F0Fu), act4(a, 16 * p + 8 + i), hi);
    }
    return {sc0 * lo + sc1 * hi, m0 * (s[4 * p] + s[4 * p + 1]) + m1 * (s[4 * p + 2] + s[4 * p + 3])};
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t*) {
    return finish256(fp16_to_f32(static_cast<uint16_t>(r.h[0])), fp16_to_f32(static_cast<uint16_t>(r.h[0] >> 16)), p.a,
                     p.b, ad);
  }
};

// Q5_K {d, dmin, scales[12], qh[32], qs[128]}, 176 bytes, 16-aligned: Q4_K's
// parts, the 5th bit of element 64p+l at bit 2p of qh[l], of 64p+32+l at 2p+1.
template <>
struct QDot<TensorType::Q5_K> {
  static constexpr int kElems = 256, kBytes = 176, kParts = 4;
  static constexpr bool kAct256 = true;
  struct Regs { uint32_t h[4]; uint32_t qh[8]; uint32_t q[8]; };
  static SCOUT_HD void load(const uint8_t* b, int p, Regs& r) {
    ld_a16(b, r.h);
    ld_a16(b + 16, r.qh);
    ld_a16(b + 32, r.qh + 4);
    ld_a16(b + 48 + 32 * p, r.q);
    ld_a16(b + 64 + 32 * p, r.q + 4);
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t* s, int p) {
    int sc0, m0, sc1, m1;
    scale_min_k4(r.h + 1, 2 * p, sc0, m0);
    scale_min_k4(r.h + 1, 2 * p + 1, sc1, m1);
    int lo = 0, hi = 0;
    SCOUT_UNROLL
    for (int i = 0; i < 8; ++i) {
      const uint32_t l5 = (r.q[i] & 0x0F0F0F0Fu) | (((r.qh[i] >> (2 * p)) & 0x01010101u) << 4);
      const uint32_t h5 = ((r.q[i] >> 4) & 0x0F0F0F0Fu) | (((r.qh[i] >> (2 * p + 1)) & 0x01010101u) << 4);
      lo = dp4a(static_cast<int>(l5), act4(a, 16 * p + i), lo);
      hi = dp4a(static_cast<int>(h5), act4(a, 16 * p + 8 + i), hi);
    }
    return {sc0 * lo + sc1 * hi, m0 * (s[4 * p] + s[4 * p + 1]) + m1 * (s[4 * p + 2] + s[4 * p + 3])};
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t*) {
    return finish256(fp16_to_f32(static_cast<uint16_t>(r.h[0])), fp16_to_f32(static_cast<uint16_t>(r.h[0] >> 16)), p.a,
                     p.b, ad);
  }
};

// Q6_K {ql[128], qh[64], scales[16] int8, d}, 210 bytes, 2-aligned. Part p =
// (h, c) = (p / 2, p % 2): ql[64h + 32c + l] and qh[32h + l] give elements
// 128h + 32c + l (low nibble, bits 2c) and 128h + 32(c+2) + l (high nibble,
// bits 2c+4), stored +32.
template <>
struct QDot<TensorType::Q6_K> {
  static constexpr int kElems = 256, kBytes = 210, kParts = 4;
  static constexpr bool kAct256 = true;
  struct Regs { uint32_t ql[8]; uint32_t qh[8]; uint32_t sc[2]; float d; };
  static SCOUT_HD void load(const uint8_t* b, int p, Regs& r) {
    const int h = p >> 1, c = p & 1;
    SCOUT_UNROLL
    for (int i = 0; i < 8; ++i) r.ql[i] = ld_a2(b + 64 * h + 32 * c + 4 * i);
    SCOUT_UNROLL
    for (int i = 0; i < 8; ++i) r.qh[i] = ld_a2(b + 128 + 32 * h + 4 * i);
    r.sc[0] = load_u16(b + 192 + 8 * h + 2 * c);      // scales of sub-blocks 8h+2c, +1
    r.sc[1] = load_u16(b + 192 + 8 * h + 2 * c + 4);  // 8h+2c+4, +5
    r.d = fp16_to_f32(load_u16(b + 208));
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t* s, int p) {
    const int h = p >> 1, c = p & 1;
    const int e1 = 128 * h + 32 * c, e2 = e1 + 64;  // first elements of the two runs
    int d1[2] = {0, 0}, d2[2] = {0, 0};
    SCOUT_UNROLL
    for (int i = 0; i < 8; ++i) {
      const uint32_t q1 = (r.ql[i] & 0x0F0F0F0Fu) | (((r.qh[i] >> (2 * c)) & 0x03030303u) << 4);
      const uint32_t q2 = ((r.ql[i] >> 4) & 0x0F0F0F0Fu) | (((r.qh[i] >> (2 * c + 4)) & 0x03030303u) << 4);
      d1[i >> 2] = dp4a(static_cast<int>(q1), act4(a, e1 / 4 + i), d1[i >> 2]);
      d2[i >> 2] = dp4a(static_cast<int>(q2), act4(a, e2 / 4 + i), d2[i >> 2]);
    }
    const int s1 = e1 / 16, s2 = e2 / 16;  // sub-blocks s1, s1+1, s2, s2+1
    const int sc1a = static_cast<int8_t>(r.sc[0]), sc1b = static_cast<int8_t>(r.sc[0] >> 8);
    const int sc2a = static_cast<int8_t>(r.sc[1]), sc2b = static_cast<int8_t>(r.sc[1] >> 8);
    return {sc1a * (d1[0] - 32 * s[s1]) + sc1b * (d1[1] - 32 * s[s1 + 1]) + sc2a * (d2[0] - 32 * s[s2]) +
                sc2b * (d2[1] - 32 * s[s2 + 1]),
            0};
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t*) { return finish256(r.d, 0.0f, p.a, 0, ad); }
};

// IQ4_XS {d, scales_h, scales_l[4], qs[128]}, 136 bytes, 8-aligned. Part p:
// sub-blocks 2p, 2p+1; sub-block s is qs[16s, 16s+16), low nibbles elements
// 32s + j, high 32s + 16 + j, scaled by its 6-bit ls - 32.
template <>
struct QDot<TensorType::IQ4_XS> {
  static constexpr int kElems = 256, kBytes = 136, kParts = 4;
  static constexpr bool kAct256 = true;
  struct Regs { uint32_t h[2]; uint32_t q[8]; };
  static SCOUT_HD void load(const uint8_t* b, int p, Regs& r) {
    ld_a8(b, r.h);
    SCOUT_UNROLL
    for (int i = 0; i < 4; ++i) ld_a8(b + 8 + 32 * p + 8 * i, r.q + 2 * i);
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t*, int p) {
    const uint32_t scales_h = r.h[0] >> 16;
    int total = 0;
    SCOUT_UNROLL
    for (int u = 0; u < 2; ++u) {
      const int sb = 2 * p + u;
      const int ls = static_cast<int>((r.h[1] >> (8 * (sb / 2) + 4 * (sb % 2))) & 0xF) |
                     static_cast<int>(((scales_h >> (2 * sb)) & 3) << 4);
      int acc = 0;
      SCOUT_UNROLL
      for (int i = 0; i < 4; ++i) {
        const uint32_t q = r.q[4 * u + i];
        acc = dp4a(iq4_lookup4(q & 0x0F0F0F0Fu), act4(a, 8 * sb + i), acc);
        acc = dp4a(iq4_lookup4((q >> 4) & 0x0F0F0F0Fu), act4(a, 8 * sb + 4 + i), acc);
      }
      total += (ls - 32) * acc;
    }
    return {total, 0};
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t*) {
    return finish256(fp16_to_f32(static_cast<uint16_t>(r.h[0])), 0.0f, p.a, 0, ad);
  }
};

// Q2_K {scales[16], qs[64], d, dmin}, 84 bytes, 4-aligned. Part p = (h, k0) =
// (p / 2, 2 (p % 2)): qs[32h + l] bits 2k are element 128h + 32k + l for k = k0, k0+1.
template <>
struct QDot<TensorType::Q2_K> {
  static constexpr int kElems = 256, kBytes = 84, kParts = 4;
  static constexpr bool kAct256 = true;
  struct Regs { uint32_t q[8]; uint32_t sc; uint32_t dd; };
  static SCOUT_HD void load(const uint8_t* b, int p, Regs& r) {
    const int h = p >> 1, k0 = 2 * (p & 1);
    SCOUT_UNROLL
    for (int i = 0; i < 8; ++i) r.q[i] = ld_a4(b + 16 + 32 * h + 4 * i);
    r.sc = ld_a4(b + 8 * h + 2 * k0);  // scale bytes of sub-blocks 8h+2k0 .. +3
    r.dd = ld_a4(b + 80);
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t* s, int p) {
    const int h = p >> 1, k0 = 2 * (p & 1);
    QPart out;
    SCOUT_UNROLL
    for (int kk = 0; kk < 2; ++kk) {
      const int k = k0 + kk, e = 128 * h + 32 * k;
      int d[2] = {0, 0};
      SCOUT_UNROLL
      for (int i = 0; i < 8; ++i) d[i >> 2] = dp4a(static_cast<int>((r.q[i] >> (2 * k)) & 0x03030303u), act4(a, e / 4 + i), d[i >> 2]);
      SCOUT_UNROLL
      for (int half = 0; half < 2; ++half) {
        const int sb = e / 16 + half;
        const int byte = static_cast<int>((r.sc >> (8 * (2 * kk + half))) & 0xFF);
        out.a += (byte & 0xF) * d[half];
        out.b += (byte >> 4) * s[sb];
      }
    }
    return out;
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t*) {
    return finish256(fp16_to_f32(static_cast<uint16_t>(r.dd)), fp16_to_f32(static_cast<uint16_t>(r.dd >> 16)), p.a, p.b,
                     ad);
  }
};

// Q3_K {hmask[32], qs[64], scales[12], d}, 110 bytes, 2-aligned: Q2_K's parts;
// q = (2 bits) - 4 unless bit 4h+k of hmask[l] is set, scale 6-bit - 32.
template <>
struct QDot<TensorType::Q3_K> {
  static constexpr int kElems = 256, kBytes = 110, kParts = 4;
  static constexpr bool kAct256 = true;
  struct Regs { uint32_t q[8]; uint32_t hm[8]; uint32_t sc[3]; float d; };
  static SCOUT_HD void load(const uint8_t* b, int p, Regs& r) {
    const int h = p >> 1;
    SCOUT_UNROLL
    for (int i = 0; i < 8; ++i) r.q[i] = ld_a2(b + 32 + 32 * h + 4 * i);
    SCOUT_UNROLL
    for (int i = 0; i < 8; ++i) r.hm[i] = ld_a2(b + 4 * i);
    SCOUT_UNROLL
    for (int i = 0; i < 3; ++i) r.sc[i] = ld_a2(b + 96 + 4 * i);
    r.d = fp16_to_f32(load_u16(b + 108));
  }
  static SCOUT_HD QPart part(const Regs& r, const int8_t* a, const int32_t* s, int p) {
    const int h = p >> 1, k0 = 2 * (p & 1);
    QPart out;
    SCOUT_UNROLL
    for (int kk = 0; kk < 2; ++kk) {
      const int k = k0 + kk, e = 128 * h + 32 * k;
      int d[2] = {0, 0};
      SCOUT_UNROLL
      for (int i = 0; i < 8; ++i) {
        const uint32_t u = ((r.q[i] >> (2 * k)) & 0x03030303u) | (((r.hm[i] >> (4 * h + k)) & 0x01010101u) << 2);
        d[i >> 2] = dp4a(static_cast<int>(u), act4(a, e / 4 + i), d[i >> 2]);
      }
      SCOUT_UNROLL
      for (int half = 0; half < 2; ++half) {
        const int sb = e / 16 + half;
        out.a += (scale_q3_k(r.sc, sb) - 32) * (d[half] - 4 * s[sb]);
      }
    }
    return out;
  }
  static SCOUT_HD float finish(const Regs& r, QPart p, float ad, const int32_t*) { return finish256(r.d, 0.0f, p.a, 0, ad); }
};

}  // namespace scout::cuda
