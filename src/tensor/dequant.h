// Scalar reference dequantization: ggml block formats -> f32. Bit-exact with
// ggml (tests/tensor/dequant_test.cpp checks every type against
// shared/testdata/quant-vectors.gguf). Optimised kernels are tested against these.
#pragma once

#include <cstdint>

#include "tensor/types.h"

namespace scout {

bool can_dequantize(TensorType t);
// Dequantizes n elements (a multiple of the block size) starting at a block
// boundary. Throws std::invalid_argument for a type without a dequantizer.
void dequantize_row(TensorType t, const void* src, float* dst, int64_t n);

// Half-precision helpers shared by the formats.
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);   // round to nearest even, as ggml
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);   // round to nearest even, NaN kept quiet, as ggml

}  // namespace scout
