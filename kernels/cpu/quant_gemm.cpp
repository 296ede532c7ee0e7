#include "kernels/cpu/quant_gemm.h"

#include <cstring>

namespace scout::kernels {

size_t panel_bytes(ActFormat f, int64_t n) {
  return f == ActFormat::Q8_256 ? static_cast<size_t>(n / 256) * kPanelBytes256 : static_cast<size_t>(n / 32) * kPanelBytes32;
}

void pack_panel(ActFormat f, const uint8_t* act, size_t act_stride, int n_tok, int64_t n, uint8_t* panel) {
  std::memset(panel, 0, panel_bytes(f, n));  // padding tokens: d = 0, q = 0
  const bool k = f == ActFormat::Q8_256;
  const int block = k ? 256 : 32;
  const size_t block_bytes = k ? kPanelBytes256 : kPanelBytes32;
  const size_t sums = k ? 16 : 1;  // int32 sums per token (bsums, or the block's sum)
  for (int64_t i = 0; i < n / block; ++i) {
    uint8_t* p = panel + i * block_bytes;
    auto* d = reinterpret_cast<float*>(p);
    auto* s = reinterpret_cast<int32_t*>(p + 32);                         // [sums][8]
    auto* q = reinterpret_cast<int8_t*>(p + 32 + sums * 32);              // [block/4][8][4]
    for (int t = 0; t < n_tok; ++t) {
      const int8_t* src;
      if (k) {
        const auto& b = reinterpret_cast<const ActBlock256*>(act + t * act_stride)[i];
        d[t] = b.d;
        for (int j = 0; j < 16; ++j) s[j * 8 + t] = b.bsums[j];
        src = b.q;
      } else {
        const auto& b = reinterpret_cast<const ActBlock32*>(act + t * act_stride)[i];
        d[t] = b.d;
        s[t] = b.sum;
        src = b.q;
      }
      for (int g = 0; g < block / 4; ++g) std::memcpy(q + (g * 8 + t) * 4, src + 4 * g, 4);
    }
  }
}

const QuantGemm* quant_gemm(TensorType t, CpuLevel level) {
  return level == CpuLevel::Vnni ? quant_gemm_vnni(t) : nullptr;
}

}  // namespace scout::kernels
