// Matrix-matrix products for prompt batches: up to 4 quantized weight rows
// against a panel of 16 tokens at once, with AVX-512 VNNI (vpdpbusd on 512-bit
// vectors, quant_gemm_avx512.cpp) doing one instruction per 64 multiply-adds,
// or AVX2 (vpmaddubsw, sums of a scale's span kept in int16,
// quant_gemm_avx2.cpp) one per 32 for 4-bit weights.
//
// Why a second kernel family: quant_dot.h multiplies one weight row with
// token rows, so every 32 weights need a dot instruction *and* a multiply by
// the sub-block scale. Here the 16 tokens' activations are interleaved in
// groups of 4 (a panel), 4 weights are broadcast to all 16 lanes, and each
// lane accumulates one token: a whole sub-block is summed before its scale is
// applied, once for 16 tokens.
//
// Panel layouts (one per activation block, for 16 tokens; a short last panel
// is padded with zero tokens):
//   Q8_256 (K-quants): float d[16]; int16 bsums[8][16][2]; int8 q[64][16][4]
//     (bsums[j][t] = token t's sums of elements 32j..32j+15 and 32j+16..32j+31,
//     side by side so one vpdpwssd weighs both by their scales)
//   Q8_32 (Q8_0, Q4_0): float d[16]; int32 sum[16]; int8 q[8][16][4]
// The reference is quant_dot_scalar: out[r][t] equals its dot of weight row
// r with token t to rounding.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/quant_dot.h"

namespace scout::kernels {

constexpr int kPanelTokens = 16;
constexpr int kGemmRows = 4;
// Bytes of one panel block, as laid out above.
constexpr size_t kPanelBytes256 = kPanelTokens * (4 + 16 * 2 + 256);  // d, bsums, q
constexpr size_t kPanelBytes32 = kPanelTokens * (4 + 4 + 32);          // d, sum, q

// out[r * kPanelTokens + t] for weight rows r < n_w_rows (1..kGemmRows), which
// start at w + r * w_stride; n elements per row.
using QuantGemmFn = void (*)(int64_t n, const uint8_t* w, size_t w_stride, int n_w_rows, const uint8_t* panel,
                             float* out);

struct QuantGemm {
  ActFormat act;
  QuantGemmFn fn;
};

// nullptr when this type or level has no panel kernel (then use quant_dot).
const QuantGemm* quant_gemm(TensorType t, CpuLevel level);
const QuantGemm* quant_gemm_avx2(TensorType t);
const QuantGemm* quant_gemm_avx512(TensorType t);

// Bytes of one panel for rows of n elements.
size_t panel_bytes(ActFormat f, int64_t n);
// Interleaves n_tok (1..kPanelTokens) quantized activation rows (act_row_bytes
// apart, from quantize_activations) into one panel.
void pack_panel(ActFormat f, const uint8_t* act, size_t act_stride, int n_tok, int64_t n, uint8_t* panel);

}  // namespace scout::kernels
