// Quantization dispatch, the plain float types and the legacy 32-element block
// formats. The legacy quantizers are fully determined by their format (one
// scale from the block's extreme, then rounding), and reproduce ggml's
// reference quantizer byte for byte: same scale formula, same 1/d, same
// truncating round. K and IQ quantizers (searches) are in quant_k.cpp / quant_iq4.cpp.
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tensor/blocks.h"
#include "tensor/dequant.h"
#include "tensor/quant.h"

// Byte-exactness: x*id + 8.5f must round twice, as ggml's reference does.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace scout {

namespace {
using namespace blocks;

template <typename Block>
void store(uint8_t* dst, int64_t i, const Block& b) {
  std::memcpy(dst + i * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}

void min_max(const float* x, int n, float& lo, float& hi) {
  lo = x[0];
  hi = x[0];
  for (int j = 1; j < n; ++j) {
    if (x[j] < lo) lo = x[j];
    if (x[j] > hi) hi = x[j];
  }
}

int clamp_max(int v, int hi) { return v > hi ? hi : v; }

// Symmetric 4-bit: the extreme value maps to -8 (the side with one more level).
void quant_q4_0(const float* x, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    const float d = signed_absmax(x, QK) / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    Q4_0 b{};
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < QK / 2; ++j) {
      // +8.5 then truncate: round to nearest, shifted into [0, 16]
      const int lo = clamp_max(static_cast<int>(x[j] * id + 8.5f), 15);
      const int hi = clamp_max(static_cast<int>(x[j + QK / 2] * id + 8.5f), 15);
      b.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
    store(dst, i, b);
  }
}

// Affine 4-bit: min maps to 0, max to 15.
void quant_q4_1(const float* x, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    float lo_v, hi_v;
    min_max(x, QK, lo_v, hi_v);
    const float d = (hi_v - lo_v) / 15;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    Q4_1 b{};
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(lo_v);
    for (int j = 0; j < QK / 2; ++j) {
      const int lo = clamp_max(static_cast<int>((x[j] - lo_v) * id + 0.5f), 15);
      const int hi = clamp_max(static_cast<int>((x[j + QK / 2] - lo_v) * id + 0.5f), 15);
      b.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
    store(dst, i, b);
  }
}

// Splits 5-bit values into low nibbles (qs) and the 32 fifth bits (qh).
template <typename Block>
void pack_5bit(const int* q, Block& b) {
  uint32_t qh = 0;
  for (int j = 0; j < QK / 2; ++j) {
    b.qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + QK / 2] & 0xF) << 4));
    qh |= static_cast<uint32_t>(q[j] >> 4) << j;
    qh |= static_cast<uint32_t>(q[j + QK / 2] >> 4) << (j + QK / 2);
  }
  for (int k = 0; k < 4; ++k) b.qh[k] = static_cast<uint8_t>(qh >> (8 * k));
}

void quant_q5_0(const float* x, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    const float d = signed_absmax(x, QK) / -16;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; ++j) q[j] = clamp_max(static_cast<int>(x[j] * id + 16.5f), 31);
    Q5_0 b{};
    b.d = fp32_to_fp16(d);
    pack_5bit(q, b);
    store(dst, i, b);
  }
}

void quant_q5_1(const float* x, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    float lo_v, hi_v;
    min_max(x, QK, lo_v, hi_v);
    const float d = (hi_v - lo_v) / 31;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; ++j) q[j] = clamp_max(static_cast<int>((x[j] - lo_v) * id + 0.5f), 31);
    Q5_1 b{};
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(lo_v);
    pack_5bit(q, b);
    store(dst, i, b);
  }
}

// Symmetric 8-bit: |x| max maps to 127; rounding half away from zero (roundf).
void quant_q8_0(const float* x, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    float amax = 0;
    for (int j = 0; j < QK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    Q8_0 b{};
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < QK; ++j) b.qs[j] = static_cast<int8_t>(std::round(x[j] * id));
    store(dst, i, b);
  }
}

std::string type_label(TensorType t) {
  return find_type_traits(static_cast<uint32_t>(t)) ? std::string(type_name(t))
                                                     : std::to_string(static_cast<uint32_t>(t));
}
}  // namespace

bool can_quantize(TensorType t) {
  switch (t) {
    case TensorType::F32: case TensorType::F16: case TensorType::BF16:
    case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q5_0:
    case TensorType::Q5_1: case TensorType::Q8_0:
    case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K:
    case TensorType::Q5_K: case TensorType::Q6_K: case TensorType::Q8_K:
    case TensorType::IQ4_NL: case TensorType::IQ4_XS:
      return true;
    default:
      return false;
  }
}

void quantize_row(TensorType t, const float* src, void* dst_v, int64_t n) {
  if (!can_quantize(t)) throw std::invalid_argument("quantize_row: no quantizer for type " + type_label(t));
  const int64_t bs = type_traits(t).block_size;
  if (n < 0 || n % bs != 0)
    throw std::invalid_argument("quantize_row: " + std::to_string(n) + " elements is not a multiple of the " +
                                type_label(t) + " block size " + std::to_string(bs));
  auto* dst = static_cast<uint8_t*>(dst_v);
  const int64_t nb = n / bs;
  switch (t) {
    case TensorType::F32: if (n) std::memcpy(dst, src, static_cast<size_t>(n) * 4); break;
    case TensorType::F16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_fp16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      break;
    case TensorType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_bf16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      break;
    case TensorType::Q4_0: quant_q4_0(src, dst, nb); break;
    case TensorType::Q4_1: quant_q4_1(src, dst, nb); break;
    case TensorType::Q5_0: quant_q5_0(src, dst, nb); break;
    case TensorType::Q5_1: quant_q5_1(src, dst, nb); break;
    case TensorType::Q8_0: quant_q8_0(src, dst, nb); break;
    case TensorType::Q2_K: quant_q2_K(src, dst, nb); break;
    case TensorType::Q3_K: quant_q3_K(src, dst, nb); break;
    case TensorType::Q4_K: quant_q4_K(src, dst, nb); break;
    case TensorType::Q5_K: quant_q5_K(src, dst, nb); break;
    case TensorType::Q6_K: quant_q6_K(src, dst, nb); break;
    case TensorType::Q8_K: quant_q8_K(src, dst, nb); break;
    case TensorType::IQ4_NL: quant_iq4_nl(src, dst, nb); break;
    case TensorType::IQ4_XS: quant_iq4_xs(src, dst, nb); break;
    default: break;  // unreachable: can_quantize said yes
  }
}

}  // namespace scout
