// The CPU backend's matrix products (cpu_matmul.h). OpenMP across tiles of
// output rows. Float weights, and every weight with --exact, take the f32
// path: a tile of rows dequantized into a per-thread buffer and multiplied
// against a block of the batch's rows while both are hot in cache, with the
// register-tiled kernel of kernels/cpu/float_gemm.h.
#include "backend/cpu/cpu_matmul.h"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <vector>

#include "backend/cpu/cpu_math.h"
#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/float_gemm.h"
#include "tensor/dequant.h"

namespace scout::backend::cpu {

namespace {

// Groups of rows from this many on use the 16-token panel kernels where the
// CPU has them. Panels round differently from the row kernels, so the choice
// is made per group (one sequence's rows in a pass, see run()): a sequence's
// rows take the kernel they take alone, whatever else shares the pass.
constexpr int64_t kMinPanelRows = 16;

// Bytes of activation panels one pass over a matrix's weight rows works on:
// about a quarter of a 1 MiB L2, leaving room for the weight tiles.
constexpr size_t kPanelGroupBytes = 256 * 1024;

// Columns [k0, k0 + n) of weight row r as f32; k0 is a multiple of the
// type's block size, and so is n unless the slice ends the row.
void weight_slice(const Weight& w, int64_t r, int64_t k0, int64_t n, float* dst) {
  if (w.type == TensorType::F16) {
    halves_to_floats(reinterpret_cast<const uint16_t*>(w.row(r)) + k0, dst, n);
  } else if (w.type == TensorType::BF16) {
    const uint16_t* src = reinterpret_cast<const uint16_t*>(w.row(r)) + k0;
    for (int64_t i = 0; i < n; ++i) dst[i] = std::bit_cast<float>(static_cast<uint32_t>(src[i]) << 16);
  } else {
    dequantize_row(w.type, w.row(r) + row_bytes(w.type, static_cast<uint64_t>(k0)), dst, n);
  }
}

}  // namespace

void weight_row(const Weight& w, int64_t r, float* dst) { weight_slice(w, r, 0, w.n_in, dst); }

std::vector<RowRun> row_runs(std::span<const int64_t> groups, int64_t min_panel_rows) {
  std::vector<RowRun> runs;
  int64_t row = 0;
  for (const int64_t n : groups) {
    if (n <= 0) continue;
    const bool panels = n >= min_panel_rows;
    if (!runs.empty() && runs.back().panels == panels) runs.back().n += n;
    else runs.push_back({row, n, panels});
    row += n;
  }
  return runs;
}

void CpuMatmul::run(const Weight& w, const float* x, float* y, int64_t n_rows, std::span<const int64_t> groups) {
  if (!groups.empty()) {
    int64_t total = 0;
    for (const int64_t n : groups) total += n;
    if (total != n_rows) throw std::logic_error("matmul: the row groups do not add up to the rows");
  }
  const kernels::QuantDot* qd = quantize_activations_ ? kernels::quant_dot(w.type, level_) : nullptr;
  // The f32 path rounds a row alike in any batch; so do the row kernels where
  // there is no panel kernel for this type: one call, whatever the groups.
  if (!qd) return f32(w, x, y, n_rows);
  if (groups.size() <= 1 || !kernels::quant_gemm(w.type, level_))
    return quantized(w, *qd, x, y, n_rows, n_rows >= kMinPanelRows);
  for (const RowRun& r : row_runs(groups, kMinPanelRows))
    quantized(w, *qd, x + r.first * w.n_in, y + r.first * w.n_out, r.n, r.panels);
}


void CpuMatmul::f32(const Weight& w, const float* x, float* y, int64_t n_rows) {
  const int64_t n_in = w.n_in, n_out = w.n_out;
  // Each thread takes chunks of 64 weight rows. A chunk is converted to f32
  // and packed into panels (kernels/cpu/float_gemm.h) a block of k at a time,
  // once per weight, 128 KiB held in L2, and multiplied against every
  // activation row, 12 rows at a time, before the next block.
  constexpr int64_t kChunkRows = 4 * kernels::kPanelCols, kRowBlock = 12;
  const bool direct = w.type == TensorType::F32;  // rows usable in place
  // 512 is a whole number of blocks of every type (32 or 256 elements).
  const int64_t k_block = 512 % type_traits(w.type).block_size == 0 ? std::min<int64_t>(n_in, 512) : n_in;
  const int64_t n_chunks = (n_out + kChunkRows - 1) / kChunkRows;
#pragma omp parallel num_threads(std::min(threads_for(n_chunks), threads_for(n_rows * n_out * n_in / kMinWork)))
  {
    static thread_local std::vector<float> rows_buf, panel_buf;
    float* rows_scratch = direct ? nullptr : thread_buffer(rows_buf, static_cast<size_t>(kChunkRows * k_block));
    float* panels = thread_buffer(panel_buf, static_cast<size_t>(kChunkRows * k_block));
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < n_chunks; ++chunk) {
      const int64_t r0 = chunk * kChunkRows, r1 = std::min(n_out, r0 + kChunkRows);
      const int64_t n_panels = (r1 - r0 + kernels::kPanelCols - 1) / kernels::kPanelCols;
      for (int64_t k0 = 0; k0 < n_in; k0 += k_block) {
        const int64_t kn = std::min(k_block, n_in - k0);
        const float* rows;  // the chunk's rows from column k0, ld apart
        int64_t ld;
        if (direct) {
          rows = reinterpret_cast<const float*>(w.row(r0)) + k0;
          ld = n_in;
        } else {
          for (int64_t r = r0; r < r1; ++r) weight_slice(w, r, k0, kn, rows_scratch + (r - r0) * k_block);
          rows = rows_scratch;
          ld = k_block;
        }
        auto panel_cols = [&](int64_t p) { return static_cast<int>(std::min<int64_t>(kernels::kPanelCols, r1 - r0 - p * kernels::kPanelCols)); };
        for (int64_t p = 0; p < n_panels; ++p)
          kernels::pack_weight_panel(rows + p * kernels::kPanelCols * ld, ld, panel_cols(p), kn, panels + p * kn * kernels::kPanelCols);
        for (int64_t t0 = 0; t0 < n_rows; t0 += kRowBlock)
          for (int64_t p = 0; p < n_panels; ++p)
            kernels::gemm_f32_panel(x + t0 * n_in + k0, n_in, std::min(kRowBlock, n_rows - t0),
                                    panels + p * kn * kernels::kPanelCols, panel_cols(p), kn,
                                    y + t0 * n_out + r0 + p * kernels::kPanelCols, n_out, /*accumulate=*/k0 > 0);
      }
    }
  }
}

// Integer dot products against 8-bit activations (kernels/cpu/quant_dot.h):
// the batch is quantized once, then each thread takes tiles of weight rows
// and multiplies every row against up to kMaxActRows activation rows at a
// time, so each weight block is unpacked once per group of tokens.
void CpuMatmul::quantized(const Weight& w, const kernels::QuantDot& qd, const float* x, float* y,
                          int64_t n_rows, bool use_panels) {
  constexpr int64_t kTile = 16;  // rows per work item: 64 bytes of y per token, no false sharing
  const int64_t n_in = w.n_in, n_out = w.n_out;
  // Quantized in the layout of the kernel that will run (they may differ).
  const kernels::QuantGemm* qg = use_panels ? kernels::quant_gemm(w.type, level_) : nullptr;
  const kernels::ActFormat fmt = qg ? qg->act : qd.act;
  const size_t act_bytes = kernels::act_row_bytes(fmt, n_in);
  if (act_.size() < act_bytes * n_rows) act_.resize(act_bytes * n_rows);
  uint8_t* act = act_.data();
#pragma omp parallel for num_threads(threads_for(n_rows * n_in / 16384)) schedule(static)
  for (int64_t t = 0; t < n_rows; ++t) kernels::quantize_activations(fmt, x + t * n_in, act + t * act_bytes, n_in);

  const int64_t n_tiles = (n_out + kTile - 1) / kTile;
  const int n_threads = std::min(threads_for(n_tiles), threads_for(n_rows * n_out * n_in / kMinWork));
  if (qg) {
    panels(w, *qg, act, act_bytes, y, n_rows, n_threads);
    return;
  }
#pragma omp parallel for num_threads(n_threads) schedule(static)
  for (int64_t tile = 0; tile < n_tiles; ++tile) {
    const int64_t r0 = tile * kTile, r1 = std::min(n_out, r0 + kTile);
    for (int64_t t = 0; t < n_rows; t += kernels::kMaxActRows) {
      const int na = static_cast<int>(std::min<int64_t>(kernels::kMaxActRows, n_rows - t));
      for (int64_t r = r0; r < r1; ++r) {
        float o[kernels::kMaxActRows];
        qd.fn(n_in, w.row(r), act + t * act_bytes, act_bytes, na, o);
        for (int k = 0; k < na; ++k) y[(t + k) * n_out + r] = o[k];
      }
    }
  }
}

// Prompt batches on CPUs with panel kernels (kernels/cpu/quant_gemm.h): tokens
// interleaved 16 at a time into panels, then each thread takes tiles of
// weight rows and runs 4 rows x 16 tokens per kernel call.
void CpuMatmul::panels(const Weight& w, const kernels::QuantGemm& qg, const uint8_t* act, size_t act_bytes, float* y,
                       int64_t n_rows, int n_threads) {
  constexpr int64_t kTile = 16;
  constexpr int P = kernels::kPanelTokens, R = kernels::kGemmRows;
  const int64_t n_in = w.n_in, n_out = w.n_out;
  const int64_t n_panels = (n_rows + P - 1) / P;
  const size_t pbytes = kernels::panel_bytes(qg.act, n_in);
  if (panels_.size() < pbytes * n_panels) panels_.resize(pbytes * n_panels);
  uint8_t* panels = panels_.data();
#pragma omp parallel for num_threads(threads_for(n_panels)) schedule(static)
  for (int64_t p = 0; p < n_panels; ++p)
    kernels::pack_panel(qg.act, act + p * P * act_bytes, act_bytes, static_cast<int>(std::min<int64_t>(P, n_rows - p * P)),
                        n_in, panels + p * pbytes);

  // Panels in groups that stay in L2 while every tile of weight rows passes
  // over them: without the grouping each tile streams all the panels (MBs
  // for a 512-token prompt) from L3 again. A thread gets the same tiles in
  // every group (static schedule), so no barrier is needed between groups.
  const int64_t group = std::max<int64_t>(1, static_cast<int64_t>(kPanelGroupBytes / pbytes));
  const int64_t n_tiles = (n_out + kTile - 1) / kTile;
#pragma omp parallel num_threads(n_threads)
  for (int64_t p0 = 0; p0 < n_panels; p0 += group) {
#pragma omp for schedule(static) nowait
    for (int64_t tile = 0; tile < n_tiles; ++tile) {
      const int64_t r0 = tile * kTile, r1 = std::min(n_out, r0 + kTile);
      for (int64_t p = p0; p < std::min(n_panels, p0 + group); ++p) {
        const int n_tok = static_cast<int>(std::min<int64_t>(P, n_rows - p * P));
        for (int64_t r = r0; r < r1; r += R) {
          const int nr = static_cast<int>(std::min<int64_t>(R, r1 - r));
          float o[R * P];
          qg.fn(n_in, w.row(r), w.row_bytes, nr, panels + p * pbytes, o);
          for (int k = 0; k < n_tok; ++k)  // token-major: each token's nr outputs side by side in y
            for (int j = 0; j < nr; ++j) y[(p * P + k) * n_out + r + j] = o[j * P + k];
        }
      }
    }
  }
}

int CpuMatmul::threads_for(int64_t work) const {
  return static_cast<int>(std::clamp<int64_t>(work, 1, n_threads_));
}

}  // namespace scout::backend::cpu
