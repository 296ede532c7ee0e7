// The CPU backend's matrix products: y = W x for a batch of activation rows,
// with W in any stored type. Quantized weights are multiplied in their stored
// format against 8-bit activations with the SIMD kernels of kernels/cpu (row
// kernels, or 16-token panels for prompt batches); float weights, and every
// weight with --exact, take the f32 path.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "kernels/cpu/quant_dot.h"
#include "kernels/cpu/quant_gemm.h"

namespace scout::backend::cpu {

class CpuMatmul {
 public:
  CpuMatmul() : level_(kernels::cpu_level()) {}
  void set_options(int n_threads, bool quantize_activations) {
    n_threads_ = n_threads;
    quantize_activations_ = quantize_activations;
  }
  int n_threads() const { return n_threads_; }

  // y[t][o] = sum_i W[o][i] * x[t][i] for t < n_rows; x is [n_rows][w.n_in],
  // y [n_rows][w.n_out]. y must not alias x. w.data is host memory.
  // `groups` (summing to n_rows; empty: one group) splits the rows as the
  // pass's sequences split them: each group's rows run the kernel they would
  // run in a call of their own, so no row's result depends on the others.
  void run(const Weight& w, const float* x, float* y, int64_t n_rows, std::span<const int64_t> groups = {});

  // Threads worth starting for `work` independent items (at least 1).
  int threads_for(int64_t work) const;

 private:
  void f32(const Weight& w, const float* x, float* y, int64_t n_rows);
  void quantized(const Weight& w, const kernels::QuantDot& qd, const float* x, float* y, int64_t n_rows,
                 bool use_panels);
  void panels(const Weight& w, const kernels::QuantGemm& qg, const uint8_t* act, size_t act_bytes, float* y,
              int64_t n_rows, int n_threads);

  int n_threads_ = 1;
  bool quantize_activations_ = true;
  kernels::CpuLevel level_;
  std::vector<uint8_t> act_;     // the quantized activations of the current matmul
  std::vector<uint8_t> panels_;  // ... interleaved for the panel kernels
};

// Rows [first, first + n) of a matmul that run one kernel: panels or not.
struct RowRun {
  int64_t first = 0;
  int64_t n = 0;
  bool panels = false;
};
// The runs of consecutive groups that take the same kernel (the panel kernels
// from min_panel_rows rows in a group), merged so each run reads the weights once.
std::vector<RowRun> row_runs(std::span<const int64_t> groups, int64_t min_panel_rows);

// One weight row to f32 (the embedding lookup and the f32 path).
void weight_row(const Weight& w, int64_t r, float* dst);

}  // namespace scout::backend::cpu
