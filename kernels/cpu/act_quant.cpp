#include "kernels/cpu/act_quant.h"

#include <cmath>

namespace scout::kernels {

namespace {

// Quantizes one block of n values with one scale; returns d.
inline float quantize_block(const float* x, int8_t* q, int n) {
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) {  // not std::fmax: its NaN rules make it a library call
    const float a = std::fabs(x[i]);
    amax = a > amax ? a : amax;
  }
  const float d = amax / 127.0f;
  const float id = d > 0.0f ? 1.0f / d : 0.0f;
  // Round to nearest even: the default rounding mode, and it vectorises.
  for (int i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::nearbyint(x[i] * id));
  return d;
}

}  // namespace

int act_block_size(ActFormat f) { return f == ActFormat::Q8_32 ? 32 : 256; }

size_t act_row_bytes(ActFormat f, int64_t n) {
  return f == ActFormat::Q8_32 ? static_cast<size_t>(n / 32) * sizeof(ActBlock32)
                               : static_cast<size_t>(n / 256) * sizeof(ActBlock256);
}

void quantize_activations(ActFormat f, const float* x, uint8_t* dst, int64_t n) {
  if (f == ActFormat::Q8_32) {
    auto* b = reinterpret_cast<ActBlock32*>(dst);
    for (int64_t i = 0; i < n / 32; ++i, x += 32) {
      b[i].d = quantize_block(x, b[i].q, 32);
      int32_t s = 0;
      for (int j = 0; j < 32; ++j) s += b[i].q[j];
      b[i].sum = s;
    }
  } else {
    auto* b = reinterpret_cast<ActBlock256*>(dst);
    for (int64_t i = 0; i < n / 256; ++i, x += 256) {
      b[i].d = quantize_block(x, b[i].q, 256);
      for (int j = 0; j < 16; ++j) {
        int s = 0;
        for (int k = 0; k < 16; ++k) s += b[i].q[16 * j + k];
        b[i].bsums[j] = static_cast<int16_t>(s);
      }
    }
  }
}

}  // namespace scout::kernels
