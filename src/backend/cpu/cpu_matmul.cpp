// The CPU backend's matrix products (cpu_matmul.h). OpenMP across tiles of
// output rows. Float weights, and every weight with --exact, take the f32
// path: a tile of rows dequantized into a per-thread buffer and multiplied
// against every row of the batch while it is hot in cache, in plain loops the
// compiler vectorises.
#include "backend/cpu/cpu_matmul.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "backend/cpu/cpu_math.h"
#include "kernels/cpu/act_quant.h"
#include "tensor/dequant.h"

namespace scout::backend::cpu {

namespace {

// Batches from this many rows use the 16-token panel kernels where the CPU has
// them. Panels round differently from the row kernels, so a row's result
// would depend on how many rows share its batch: below this threshold it does
// not, which keeps `scout batch --parallel N` (N < 16) decoding exactly what
// each job decodes alone. Prompt batches, and the experts' share of them, are
// mostly larger.
constexpr int64_t kMinPanelRows = 16;

// Bytes of activation panels one pass over a matrix's weight rows works on:
// about a quarter of a 1 MiB L2, leaving room for the weight tiles.
constexpr size_t kPanelGroupBytes = 256 * 1024;

// The f32 dot products accumulate in 16 fixed lanes (cpu_math.h), one
// activation row or four at a time, with the same per-row arithmetic in both:
// a row's result does not depend on how many rows share its batch, on any CPU.
// (With `omp simd` reductions the compiler picks the lane count per loop and
// per ISA, and the two functions rounded differently on AVX2.)
inline float dot(const float* a, const float* b, int64_t n) {
  F32x16 acc = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc += load16(a + i) * load16(b + i);
  float tail = 0.0f;
  for (; i < n; ++i) tail += a[i] * b[i];
  return sum_lanes(acc) + tail;
}

// One weight row against four activation rows: four independent accumulator
// chains, and the row is loaded once for the four.
inline void dot_1x4(const float* w, const float* x, int64_t stride, int64_t n, float out[4]) {
  F32x16 acc[4] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const F32x16 wv = load16(w + i);
    for (int k = 0; k < 4; ++k) acc[k] += wv * load16(x + k * stride + i);
  }
  for (int k = 0; k < 4; ++k) {
    float tail = 0.0f;
    for (int64_t j = i; j < n; ++j) tail += w[j] * x[k * stride + j];
    out[k] = sum_lanes(acc[k]) + tail;
  }
}

}  // namespace

// F16 is converted inline (exact and vectorised) since the generic path calls
// out per element; the rest goes through the reference dequantizers.
void weight_row(const Weight& w, int64_t r, float* dst) {
  if (w.type == TensorType::F16) {
    halves_to_floats(reinterpret_cast<const uint16_t*>(w.row(r)), dst, w.n_in);
  } else {
    dequantize_row(w.type, w.row(r), dst, w.n_in);
  }
}

void CpuMatmul::run(const Weight& w, const float* x, float* y, int64_t n_rows) {
  if (const kernels::QuantDot* qd = quantize_activations_ ? kernels::quant_dot(w.type, level_) : nullptr) {
    quantized(w, *qd, x, y, n_rows);
    return;
  }
  f32(w, x, y, n_rows);
}

void CpuMatmul::f32(const Weight& w, const float* x, float* y, int64_t n_rows) {
  // Rows per tile: enough to reuse each activation row from L1 several times,
  // few enough that the dequantized tile stays in L2.
  constexpr int64_t kTile = 16;
  const int64_t n_in = w.n_in, n_out = w.n_out;
  const int64_t n_tiles = (n_out + kTile - 1) / kTile;
  const bool direct = w.type == TensorType::F32;  // rows usable in place
#pragma omp parallel num_threads(std::min(threads_for(n_tiles), threads_for(n_rows * n_out * n_in / kMinWork)))
  {
    static thread_local std::vector<float> buf;
    float* tile_buf = direct ? nullptr : thread_buffer(buf, static_cast<size_t>(kTile * n_in));
#pragma omp for schedule(static)
    for (int64_t tile = 0; tile < n_tiles; ++tile) {
      const int64_t r0 = tile * kTile, r1 = std::min(n_out, r0 + kTile);
      const float* rows;
      if (direct) {
        rows = reinterpret_cast<const float*>(w.row(r0));
      } else {
        for (int64_t r = r0; r < r1; ++r) weight_row(w, r, tile_buf + (r - r0) * n_in);
        rows = tile_buf;
      }
      int64_t t = 0;
      for (; t + 4 <= n_rows; t += 4)
        for (int64_t r = r0; r < r1; ++r) {
          float o[4];
          dot_1x4(rows + (r - r0) * n_in, x + t * n_in, n_in, n_in, o);
          for (int k = 0; k < 4; ++k) y[(t + k) * n_out + r] = o[k];
        }
      for (; t < n_rows; ++t)
        for (int64_t r = r0; r < r1; ++r) y[t * n_out + r] = dot(rows + (r - r0) * n_in, x + t * n_in, n_in);
    }
  }
}

// Integer dot products against 8-bit activations (kernels/cpu/quant_dot.h):
// the batch is quantized once, then each thread takes tiles of weight rows
// and multiplies every row against up to kMaxActRows activation rows at a
// time, so each weight block is unpacked once per group of tokens.
void CpuMatmul::quantized(const Weight& w, const kernels::QuantDot& qd, const float* x, float* y,
                          int64_t n_rows) {
  constexpr int64_t kTile = 16;  // rows per work item: 64 bytes of y per token, no false sharing
  const int64_t n_in = w.n_in, n_out = w.n_out;
  // Quantized in the layout of the kernel that will run (they may differ).
  const kernels::QuantGemm* qg = n_rows >= kMinPanelRows ? kernels::quant_gemm(w.type, level_) : nullptr;
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

// Prompt batches on CPUs with AVX-512 VNNI (kernels/cpu/quant_gemm.h): tokens
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
          for (int j = 0; j < nr; ++j)
            for (int k = 0; k < n_tok; ++k) y[(p * P + k) * n_out + r + j] = o[j * P + k];
        }
      }
    }
  }
}

int CpuMatmul::threads_for(int64_t work) const {
  return static_cast<int>(std::clamp<int64_t>(work, 1, n_threads_));
}

}  // namespace scout::backend::cpu
