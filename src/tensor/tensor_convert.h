// Whole-buffer conversions between f32 and any supported tensor type, for
// callers that want a vector rather than row-at-a-time kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/types.h"

namespace scout {

// n elements of type t at src (a multiple of the block size) as f32.
// Throws std::invalid_argument where dequantize_row would.
std::vector<float> dequantize(TensorType t, const void* src, int64_t n);
// n f32 values as type t: row_bytes(t, n) bytes. Throws where quantize_row would.
std::vector<uint8_t> quantize(TensorType t, const float* src, int64_t n);

}  // namespace scout
