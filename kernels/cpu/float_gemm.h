// Float matrix products, the CPU backend's f32 path: float weights (F32, and
// F16/BF16 converted a block at a time, as the vision projector's are) and
// every weight with --exact.
//
// Weights are packed into panels of 16 output columns, k-major
// (panel[i * 16 + c] = W[c][i]), and a register tile of 6 activation rows x
// 16 columns (12 accumulators of 8 lanes) runs down k: per step two panel
// loads and six broadcasts feed twelve fused multiply-adds (the layout of
// BLIS's Haswell kernel). Loads no longer bound the loop, as they did when
// each output was a dot product of two rows.
//
// Each output is one chain of multiply-adds in k order, starting from 0 (or
// from y, to continue over a later block of k): its value depends only on its
// two rows, never on the tile, the batch or the blocking around it.
// gemm_f32_reference is the plain loop the tests hold it to.
#pragma once

#include <cstdint>

namespace scout::kernels {

constexpr int kPanelCols = 16;

// Packs n_w <= 16 weight rows (f32, ldw apart; k values each) into a panel of
// k x 16 floats, the missing columns zero.
void pack_weight_panel(const float* w, int64_t ldw, int n_w, int64_t k, float* panel);

// y[t * ldy + c] = sum_i x[t * ldx + i] * panel[i * 16 + c] for t < n_x and
// c < n_w; accumulate: y += that (a later block of k) instead.
void gemm_f32_panel(const float* x, int64_t ldx, int64_t n_x, const float* panel, int n_w, int64_t k, float* y,
                    int64_t ldy, bool accumulate = false);

// y[t * ldy + o] = sum_i x[t * ldx + i] * w[o * ldw + i], one dot product per
// output accumulated in double: the reference.
void gemm_f32_reference(const float* x, int64_t ldx, int64_t n_x, const float* w, int64_t ldw, int64_t n_w, int64_t k,
                        float* y, int64_t ldy);

}  // namespace scout::kernels
