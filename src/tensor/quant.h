// Scalar reference quantization: f32 -> ggml block formats (the writer side,
// used by the model maker and tests).
#pragma once

#include <cstdint>

#include "tensor/types.h"

namespace scout {

bool can_quantize(TensorType t);
// Quantizes n elements (a multiple of the block size) into whole blocks.
// Throws std::invalid_argument for a type without a quantizer.
void quantize_row(TensorType t, const float* src, void* dst, int64_t n);

}  // namespace scout
