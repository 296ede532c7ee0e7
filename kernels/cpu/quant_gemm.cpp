#include "kernels/cpu/quant_gemm.h"

#include <cstring>

namespace scout::kernels {

size_t panel_bytes(ActFormat f, int64_t n) {
  return f == ActFormat::Q8_256 ? static_cast<size_t>(n / 256) * kPanelBytes256 : static_cast<size_t>(n / 32) * kPanelBytes32;
}

void pack_panel(ActFormat f, const uint8_t* act, size_t act_stride, int n_tok, int64_t n, uint8_t* panel) {
  constexpr int T = kPanelTokens;
  std::memset(panel, 0, panel_bytes(f, n));  // padding tokens: d = 0, q = 0
  const bool k = f == ActFormat::Q8_256;
  const int block = k ? 256 : 32;
  const size_t block_bytes = k ? kPanelBytes256 : kPanelBytes32;
  const size_t sum_bytes = k ? 16 * 2 * T : 4 * T;  // bsums[8][T][2] int16, or sum[T] int32
  for (int64_t i = 0; i < n / block; ++i) {
    uint8_t* p = panel + i * block_bytes;
    auto* d = reinterpret_cast<float*>(p);
    uint8_t* sums = p + 4 * T;
    auto* q = reinterpret_cast<int8_t*>(sums + sum_bytes);  // [block/4][T][4]
    for (int t = 0; t < n_tok; ++t) {
      const int8_t* src;
      if (k) {
        const auto& b = reinterpret_cast<const ActBlock256*>(act + t * act_stride)[i];
        d[t] = b.d;
        auto* bs = reinterpret_cast<int16_t*>(sums);
        for (int j = 0; j < 16; ++j) bs[((j / 2) * T + t) * 2 + j % 2] = b.bsums[j];
        src = b.q;
      } else {
        const auto& b = reinterpret_cast<const ActBlock32*>(act + t * act_stride)[i];
        d[t] = b.d;
        reinterpret_cast<int32_t*>(sums)[t] = b.sum;
        src = b.q;
      }
      for (int g = 0; g < block / 4; ++g) std::memcpy(q + (g * T + t) * 4, src + 4 * g, 4);
    }
  }
}

const QuantGemm* quant_gemm(TensorType t, CpuLevel level) {
  // The VNNI level's row kernels already do one vpdpbusd per 32 multiply-adds;
  // panels there were never measured against them, so that level has none.
  switch (level) {
    case CpuLevel::Avx2: return quant_gemm_avx2(t);
    case CpuLevel::Avx512: return quant_gemm_avx512(t);
    default: return nullptr;
  }
}

}  // namespace scout::kernels
