// Rounded exactly as llama.cpp rounds the activations it pairs with each
// weight type (its AVX path for Q8_0, its reference for Q8_K), so that the
// integer sums are the ones llama.cpp computes and our logits stay as close
// to its logits as the order of float additions allows.
#include "kernels/cpu/act_quant.h"

#include <cmath>

#include "tensor/dequant.h"

namespace scout::kernels {

namespace {

// Round to nearest, ties to even: the default rounding mode, and it vectorises.
inline int8_t round_to_int8(float v) { return static_cast<int8_t>(std::nearbyint(v)); }

}  // namespace

int act_block_size(ActFormat f) { return f == ActFormat::Q8_32 ? 32 : 256; }

size_t act_row_bytes(ActFormat f, int64_t n) {
  return f == ActFormat::Q8_32 ? static_cast<size_t>(n / 32) * sizeof(ActBlock32)
                               : static_cast<size_t>(n / 256) * sizeof(ActBlock256);
}

void quantize_activations(ActFormat f, const float* x, uint8_t* dst, int64_t n) {
  if (f == ActFormat::Q8_32) {
    // q = round(x * 127 / max|x|); the scale is kept at half precision.
    auto* b = reinterpret_cast<ActBlock32*>(dst);
    for (int64_t i = 0; i < n / 32; ++i, x += 32) {
      float amax = 0.0f;
      for (int j = 0; j < 32; ++j) {  // not std::fmax: its NaN rules make it a library call
        const float a = std::fabs(x[j]);
        amax = a > amax ? a : amax;
      }
      const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
      int32_t s = 0;
      for (int j = 0; j < 32; ++j) s += b[i].q[j] = round_to_int8(x[j] * id);
      b[i].d = fp16_to_fp32(fp32_to_fp16(amax / 127.0f));
      b[i].sum = s;
    }
  } else {
    // The value of largest magnitude, sign kept, becomes -127: iscale = -127 / max.
    auto* b = reinterpret_cast<ActBlock256*>(dst);
    for (int64_t i = 0; i < n / 256; ++i, x += 256) {
      float amax = 0.0f, max = 0.0f;
      for (int j = 0; j < 256; ++j) {
        const float a = std::fabs(x[j]);
        if (a > amax) amax = a, max = x[j];
      }
      if (amax == 0.0f) {
        b[i] = ActBlock256{};
        continue;
      }
      const float iscale = -127.0f / max;
      for (int j = 0; j < 256; ++j) {
        const float v = std::nearbyint(iscale * x[j]);
        b[i].q[j] = static_cast<int8_t>(v < 127.0f ? v : 127.0f);
      }
      for (int j = 0; j < 16; ++j) {
        int s = 0;
        for (int k = 0; k < 16; ++k) s += b[i].q[16 * j + k];
        b[i].bsums[j] = static_cast<int16_t>(s);
      }
      b[i].d = 1.0f / iscale;
    }
  }
}

}  // namespace scout::kernels
