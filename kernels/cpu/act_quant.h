// Activations rounded to 8 bits per block, the right-hand side of the integer
// dot products in quant_dot.h: x ~ d * q with q in [-127, 127] and |d| =
// max|x| / 127 per block, rounded as llama.cpp rounds them (act_quant.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant_dot.h"

namespace scout::kernels {

// 32 elements; sum = sum of q, for weight formats with an offset or a minimum.
struct ActBlock32 {
  float d;
  int32_t sum;
  int8_t q[32];
};
// 256 elements; bsums[j] = sum of q[16j .. 16j+15] (the K-quants' minimums and offsets).
struct ActBlock256 {
  float d;
  int16_t bsums[16];
  int8_t q[256];
};
static_assert(sizeof(ActBlock32) == 40 && sizeof(ActBlock256) == 292);

int act_block_size(ActFormat f);
// Bytes of one quantized row of n elements (a multiple of the block size).
size_t act_row_bytes(ActFormat f, int64_t n);
// Quantizes n elements of x into dst (act_row_bytes(f, n) bytes).
void quantize_activations(ActFormat f, const float* x, uint8_t* dst, int64_t n);

}  // namespace scout::kernels
