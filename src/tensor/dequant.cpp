// Dequantization dispatch, the plain float types and the legacy 32-element
// block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0). K-quants and IQ4 live in
// dequant_k.cpp. Each formula keeps ggml's order of float operations so the
// result is bit-exact with ggml.
#include <cstring>
#include <stdexcept>
#include <string>

#include "tensor/blocks.h"
#include "tensor/dequant.h"

// Bit-exactness: a*b + c must stay two roundings, never one fused multiply-add.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace scout {

namespace {
using namespace blocks;

template <typename Block>
Block load(const uint8_t* src, int64_t i) {
  Block b;
  std::memcpy(&b, src + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

void dequant_f16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = fp16_to_fp32(h);
  }
}

void dequant_bf16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = bf16_to_fp32(h);
  }
}

// Legacy blocks store element j in the low nibble of qs[j] and element j+16 in
// the high nibble.
void dequant_q4_0(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const auto b = load<Q4_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = ((b.qs[j] & 0xF) - 8) * d;
      y[j + QK / 2] = ((b.qs[j] >> 4) - 8) * d;
    }
  }
}

void dequant_q4_1(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const auto b = load<Q4_1>(src, i);
    const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = (b.qs[j] & 0xF) * d + m;
      y[j + QK / 2] = (b.qs[j] >> 4) * d + m;
    }
  }
}

// Bit j of the little-endian 32-bit qh is the 5th bit of element j.
uint32_t high_bits(const uint8_t qh[4]) {
  return uint32_t{qh[0]} | uint32_t{qh[1]} << 8 | uint32_t{qh[2]} << 16 | uint32_t{qh[3]} << 24;
}

void dequant_q5_0(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const auto b = load<Q5_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    const uint32_t qh = high_bits(b.qh);
    for (int j = 0; j < QK / 2; ++j) {
      const int lo = (b.qs[j] & 0xF) | (((qh >> j) & 1) << 4);
      const int hi = (b.qs[j] >> 4) | (((qh >> (j + QK / 2)) & 1) << 4);
      y[j] = (lo - 16) * d;
      y[j + QK / 2] = (hi - 16) * d;
    }
  }
}

void dequant_q5_1(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const auto b = load<Q5_1>(src, i);
    const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
    const uint32_t qh = high_bits(b.qh);
    for (int j = 0; j < QK / 2; ++j) {
      const int lo = (b.qs[j] & 0xF) | (((qh >> j) & 1) << 4);
      const int hi = (b.qs[j] >> 4) | (((qh >> (j + QK / 2)) & 1) << 4);
      y[j] = lo * d + m;
      y[j + QK / 2] = hi * d + m;
    }
  }
}

void dequant_q8_0(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const auto b = load<Q8_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < QK; ++j) y[j] = b.qs[j] * d;
  }
}
}  // namespace

bool can_dequantize(TensorType t) {
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

void dequantize_row(TensorType t, const void* src_v, float* dst, int64_t n) {
  if (!can_dequantize(t))
    throw std::invalid_argument("dequantize_row: no dequantizer for type " +
                                std::string(find_type_traits(static_cast<uint32_t>(t))
                                                ? type_name(t)
                                                : std::to_string(static_cast<uint32_t>(t))));
  const int64_t bs = type_traits(t).block_size;
  if (n < 0 || n % bs != 0)
    throw std::invalid_argument("dequantize_row: " + std::to_string(n) + " elements is not a multiple of the " +
                                std::string(type_name(t)) + " block size " + std::to_string(bs));
  const auto* src = static_cast<const uint8_t*>(src_v);
  const int64_t nb = n / bs;
  switch (t) {
    case TensorType::F32: if (n) std::memcpy(dst, src, static_cast<size_t>(n) * 4); break;
    case TensorType::F16: dequant_f16(src, dst, n); break;
    case TensorType::BF16: dequant_bf16(src, dst, n); break;
    case TensorType::Q4_0: dequant_q4_0(src, dst, nb); break;
    case TensorType::Q4_1: dequant_q4_1(src, dst, nb); break;
    case TensorType::Q5_0: dequant_q5_0(src, dst, nb); break;
    case TensorType::Q5_1: dequant_q5_1(src, dst, nb); break;
    case TensorType::Q8_0: dequant_q8_0(src, dst, nb); break;
    case TensorType::Q2_K: dequant_q2_K(src, dst, nb); break;
    case TensorType::Q3_K: dequant_q3_K(src, dst, nb); break;
    case TensorType::Q4_K: dequant_q4_K(src, dst, nb); break;
    case TensorType::Q5_K: dequant_q5_K(src, dst, nb); break;
    case TensorType::Q6_K: dequant_q6_K(src, dst, nb); break;
    case TensorType::Q8_K: dequant_q8_K(src, dst, nb); break;
    case TensorType::IQ4_NL: dequant_iq4_nl(src, dst, nb); break;
    case TensorType::IQ4_XS: dequant_iq4_xs(src, dst, nb); break;
    default: break;  // unreachable: can_dequantize said yes
  }
}

}  // namespace scout
