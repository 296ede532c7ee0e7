// The reference integer dot products: one weight row against one activation
// row, block by block, written for clarity. Each block's weights are decoded
// to small integers (plus integer sub-block scales and minimums), multiplied
// with the activation's int8 values in exact integer arithmetic, and the
// block's sum is scaled once in float. The SIMD kernels must match these.
#include <cstring>

#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/quant_dot.h"
#include "tensor/blocks.h"
#include "tensor/dequant.h"

namespace scout::kernels {

namespace {

using namespace scout::blocks;

template <typename Block>
Block load_block(const uint8_t* w, int64_t i) {
  Block b;
  std::memcpy(&b, w + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

// Element j of a legacy 32-block: low nibble of byte j for j < 16, high nibble of byte j - 16 after.
int nibble(const uint8_t* qs, int j) { return j < 16 ? qs[j] & 0xF : qs[j - 16] >> 4; }

// The 5th bits of Q5_0 / Q5_1, bit j for element j.
uint32_t high_bits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  return h;
}

// --- 32-element formats, activations in ActBlock32 ---
// Each decodes block i into q[32] and its scales so that weight_j = d * q_j + m.

struct Decoded32 {
  int q[32];
  float d;
  float m = 0.0f;  // the minimum of Q4_1 / Q5_1; 0 for the others
};

void decode_q4_0(const uint8_t* w, int64_t i, Decoded32& o) {
  const auto b = load_block<Q4_0>(w, i);
  o.d = fp16_to_fp32(b.d);
  for (int j = 0; j < 32; ++j) o.q[j] = nibble(b.qs, j) - 8;
}

void decode_q4_1(const uint8_t* w, int64_t i, Decoded32& o) {
  const auto b = load_block<Q4_1>(w, i);
  o.d = fp16_to_fp32(b.d);
  o.m = fp16_to_fp32(b.m);
  for (int j = 0; j < 32; ++j) o.q[j] = nibble(b.qs, j);
}

void decode_q5_0(const uint8_t* w, int64_t i, Decoded32& o) {
  const auto b = load_block<Q5_0>(w, i);
  const uint32_t qh = high_bits(b.qh);
  o.d = fp16_to_fp32(b.d);
  for (int j = 0; j < 32; ++j) o.q[j] = (nibble(b.qs, j) | static_cast<int>(((qh >> j) & 1) << 4)) - 16;
}

void decode_q5_1(const uint8_t* w, int64_t i, Decoded32& o) {
  const auto b = load_block<Q5_1>(w, i);
  const uint32_t qh = high_bits(b.qh);
  o.d = fp16_to_fp32(b.d);
  o.m = fp16_to_fp32(b.m);
  for (int j = 0; j < 32; ++j) o.q[j] = nibble(b.qs, j) | static_cast<int>(((qh >> j) & 1) << 4);
}

void decode_q8_0(const uint8_t* w, int64_t i, Decoded32& o) {
  const auto b = load_block<Q8_0>(w, i);
  o.d = fp16_to_fp32(b.d);
  for (int j = 0; j < 32; ++j) o.q[j] = b.qs[j];
}

void decode_iq4_nl(const uint8_t* w, int64_t i, Decoded32& o) {
  const auto b = load_block<IQ4_NL>(w, i);
  o.d = fp16_to_fp32(b.d);
  for (int j = 0; j < 32; ++j) o.q[j] = kIq4Values[nibble(b.qs, j)];
}

template <void (*Decode)(const uint8_t*, int64_t, Decoded32&)>
float dot_32(int64_t n, const uint8_t* w, const ActBlock32* a) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n / 32; ++i) {
    Decoded32 b;
    Decode(w, i, b);
    int32_t qa = 0;
    for (int j = 0; j < 32; ++j) qa += b.q[j] * a[i].q[j];
    // sum_j (d q_j + m) * da a_j = d da (q . a) + m da (sum a)
    sum += b.d * a[i].d * static_cast<float>(qa) + b.m * a[i].d * static_cast<float>(a[i].sum);
  }
  return sum;
}

// --- 256-element formats, activations in ActBlock256 ---
// Each decodes a super-block into q[256] and per-16 integer scales sc[16]
// (and minimums m[16]) so that weight_j = d * sc[j/16] * q_j - dmin * m[j/16].

struct Decoded256 {
  int q[256];
  int sc[16];
  int m[16];
  float d, dmin;
};

// sum_j w_j a_j for one decoded super-block against one activation block.
float dot_decoded(const Decoded256& b, const ActBlock256& a) {
  int64_t qs = 0, ms = 0;
  for (int s = 0; s < 16; ++s) {
    int32_t part = 0;
    for (int j = 0; j < 16; ++j) part += b.q[16 * s + j] * a.q[16 * s + j];
    qs += int64_t{b.sc[s]} * part;
    ms += int64_t{b.m[s]} * a.bsums[s];
  }
  return b.d * a.d * static_cast<float>(qs) - b.dmin * a.d * static_cast<float>(ms);
}

void decode_q2_K(const uint8_t* w, int64_t i, Decoded256& o) {
  const auto b = load_block<Q2_K>(w, i);
  o.d = fp16_to_fp32(b.d);
  o.dmin = fp16_to_fp32(b.dmin);
  for (int s = 0; s < 16; ++s) o.sc[s] = b.scales[s] & 0xF, o.m[s] = b.scales[s] >> 4;
  // Element 128h + 32k + l: bits 2k of qs[32h + l].
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 32; ++l) o.q[128 * h + 32 * k + l] = (b.qs[32 * h + l] >> (2 * k)) & 3;
}

void decode_q3_K(const uint8_t* w, int64_t i, Decoded256& o) {
  const auto b = load_block<Q3_K>(w, i);
  o.d = fp16_to_fp32(b.d);
  o.dmin = 0.0f;
  for (int s = 0; s < 16; ++s) o.sc[s] = unpack_scale_q3_k(b.scales, s) - 32, o.m[s] = 0;
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 32; ++l) {
        const int lo = (b.qs[32 * h + l] >> (2 * k)) & 3;
        const int high_set = (b.hmask[l] >> (4 * h + k)) & 1;
        o.q[128 * h + 32 * k + l] = lo - (high_set ? 0 : 4);
      }
}

// Q4_K and Q5_K share their header: d, dmin and eight 6-bit (scale, minimum)
// pairs, one per 32 elements (two of Decoded256's 16-element sub-blocks).
template <typename Block>
void decode_k4_header(const Block& b, Decoded256& o) {
  o.d = fp16_to_fp32(b.d);
  o.dmin = fp16_to_fp32(b.dmin);
  for (int s = 0; s < 8; ++s) {
    int sc, m;
    unpack_scale_min_k4(b.scales, s, sc, m);
    o.sc[2 * s] = o.sc[2 * s + 1] = sc;
    o.m[2 * s] = o.m[2 * s + 1] = m;
  }
}

void decode_q4_K(const uint8_t* w, int64_t i, Decoded256& o) {
  const auto b = load_block<Q4_K>(w, i);
  decode_k4_header(b, o);
  // Sub-block 2p: low nibbles of qs[32p .. 32p+31]; 2p+1: their high nibbles.
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l) {
      o.q[64 * p + l] = b.qs[32 * p + l] & 0xF;
      o.q[64 * p + 32 + l] = b.qs[32 * p + l] >> 4;
    }
}

void decode_q5_K(const uint8_t* w, int64_t i, Decoded256& o) {
  const auto b = load_block<Q5_K>(w, i);
  decode_k4_header(b, o);
  // As Q4_K; sub-block s takes its 5th bit from bit s of qh[l].
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l) {
      o.q[64 * p + l] = (b.qs[32 * p + l] & 0xF) | (((b.qh[l] >> (2 * p)) & 1) << 4);
      o.q[64 * p + 32 + l] = (b.qs[32 * p + l] >> 4) | (((b.qh[l] >> (2 * p + 1)) & 1) << 4);
    }
}

void decode_q6_K(const uint8_t* w, int64_t i, Decoded256& o) {
  const auto b = load_block<Q6_K>(w, i);
  o.d = fp16_to_fp32(b.d);
  o.dmin = 0.0f;
  for (int s = 0; s < 16; ++s) o.sc[s] = b.scales[s], o.m[s] = 0;
  // Element 128h + 32k + l: low nibble from ql[64h + l + 32(k&1)] (high nibble
  // when k >= 2), top 2 bits from bits 2k of qh[32h + l]; stored with +32.
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 32; ++l) {
        const int lo = (b.ql[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xF;
        const int hi = (b.qh[32 * h + l] >> (2 * k)) & 3;
        o.q[128 * h + 32 * k + l] = (lo | (hi << 4)) - 32;
      }
}

void decode_iq4_xs(const uint8_t* w, int64_t i, Decoded256& o) {
  const auto b = load_block<IQ4_XS>(w, i);
  o.d = fp16_to_fp32(b.d);
  o.dmin = 0.0f;
  for (int s = 0; s < 8; ++s) {
    const int ls = ((b.scales_l[s / 2] >> (4 * (s % 2))) & 0xF) | (((b.scales_h >> (2 * s)) & 3) << 4);
    o.sc[2 * s] = o.sc[2 * s + 1] = ls - 32;
    o.m[2 * s] = o.m[2 * s + 1] = 0;
    for (int j = 0; j < 16; ++j) {
      o.q[32 * s + j] = kIq4Values[b.qs[16 * s + j] & 0xF];
      o.q[32 * s + 16 + j] = kIq4Values[b.qs[16 * s + j] >> 4];
    }
  }
}

template <void (*Decode)(const uint8_t*, int64_t, Decoded256&)>
float dot_k(int64_t n, const uint8_t* w, const ActBlock256* a) {
  float sum = 0.0f;
  Decoded256 b;
  for (int64_t i = 0; i < n / 256; ++i) {
    Decode(w, i, b);
    sum += dot_decoded(b, a[i]);
  }
  return sum;
}

// One weight row against n_act activation rows, one at a time.
template <typename Act, float (*Dot)(int64_t, const uint8_t*, const Act*)>
void rows(int64_t n, const uint8_t* w, const uint8_t* act, size_t act_stride, int n_act, float* out) {
  for (int r = 0; r < n_act; ++r) out[r] = Dot(n, w, reinterpret_cast<const Act*>(act + r * act_stride));
}

constexpr QuantDot kQ4_0{ActFormat::Q8_32, rows<ActBlock32, dot_32<decode_q4_0>>};
constexpr QuantDot kQ4_1{ActFormat::Q8_32, rows<ActBlock32, dot_32<decode_q4_1>>};
constexpr QuantDot kQ5_0{ActFormat::Q8_32, rows<ActBlock32, dot_32<decode_q5_0>>};
constexpr QuantDot kQ5_1{ActFormat::Q8_32, rows<ActBlock32, dot_32<decode_q5_1>>};
constexpr QuantDot kQ8_0{ActFormat::Q8_32, rows<ActBlock32, dot_32<decode_q8_0>>};
constexpr QuantDot kIQ4_NL{ActFormat::Q8_32, rows<ActBlock32, dot_32<decode_iq4_nl>>};
constexpr QuantDot kQ2_K{ActFormat::Q8_256, rows<ActBlock256, dot_k<decode_q2_K>>};
constexpr QuantDot kQ3_K{ActFormat::Q8_256, rows<ActBlock256, dot_k<decode_q3_K>>};
constexpr QuantDot kQ4_K{ActFormat::Q8_256, rows<ActBlock256, dot_k<decode_q4_K>>};
constexpr QuantDot kQ5_K{ActFormat::Q8_256, rows<ActBlock256, dot_k<decode_q5_K>>};
constexpr QuantDot kQ6_K{ActFormat::Q8_256, rows<ActBlock256, dot_k<decode_q6_K>>};
constexpr QuantDot kIQ4_XS{ActFormat::Q8_256, rows<ActBlock256, dot_k<decode_iq4_xs>>};

}  // namespace

const QuantDot* quant_dot_scalar(TensorType t) {
  switch (t) {
    case TensorType::Q4_0: return &kQ4_0;
    case TensorType::Q4_1: return &kQ4_1;
    case TensorType::Q5_0: return &kQ5_0;
    case TensorType::Q5_1: return &kQ5_1;
    case TensorType::Q8_0: return &kQ8_0;
    case TensorType::IQ4_NL: return &kIQ4_NL;
    case TensorType::Q2_K: return &kQ2_K;
    case TensorType::Q3_K: return &kQ3_K;
    case TensorType::Q4_K: return &kQ4_K;
    case TensorType::Q5_K: return &kQ5_K;
    case TensorType::Q6_K: return &kQ6_K;
    case TensorType::IQ4_XS: return &kIQ4_XS;
    default: return nullptr;
  }
}

}  // namespace scout::kernels
