// Compiled with -ffp-contract=off (CMakeLists.txt): the fused multiply-adds
// are written out (where the build targets FMA), so GCC cannot fuse some
// steps and not others and make a row's result depend on its tile.
#include "kernels/cpu/float_gemm.h"

#if defined(__FMA__)
#include <immintrin.h>
#endif

#include <cstring>

namespace scout::kernels {

namespace {

typedef float F32x8 __attribute__((vector_size(32)));

inline F32x8 load8(const float* p) {
  F32x8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store8(float* p, F32x8 v) { std::memcpy(p, &v, sizeof v); }

// acc + a * b, fused where the target has FMA.
inline F32x8 fma8(F32x8 a, F32x8 b, F32x8 acc) {
#if defined(__FMA__)
  return reinterpret_cast<F32x8>(_mm256_fmadd_ps(reinterpret_cast<__m256>(a), reinterpret_cast<__m256>(b),
                                                 reinterpret_cast<__m256>(acc)));
#else
  return acc + a * b;
#endif
}

// R activation rows x the panel's 16 columns, down the whole of k.
template <int R>
void tile(const float* x, int64_t ldx, const float* panel, int n_w, int64_t k, float* y, int64_t ldy, bool accumulate) {
  F32x8 acc[R][2];
  for (int r = 0; r < R; ++r) {
    float start[kPanelCols] = {};
    if (accumulate) std::memcpy(start, y + r * ldy, static_cast<size_t>(n_w) * sizeof(float));
    acc[r][0] = load8(start);
    acc[r][1] = load8(start + 8);
  }
  for (int64_t i = 0; i < k; ++i) {
    const F32x8 w0 = load8(panel + i * kPanelCols), w1 = load8(panel + i * kPanelCols + 8);
    for (int r = 0; r < R; ++r) {
      const float v = x[r * ldx + i];
      const F32x8 b = {v, v, v, v, v, v, v, v};
      acc[r][0] = fma8(b, w0, acc[r][0]);
      acc[r][1] = fma8(b, w1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float out[kPanelCols];
    store8(out, acc[r][0]);
    store8(out + 8, acc[r][1]);
    std::memcpy(y + r * ldy, out, static_cast<size_t>(n_w) * sizeof(float));
  }
}

}  // namespace

void pack_weight_panel(const float* w, int64_t ldw, int n_w, int64_t k, float* panel) {
  for (int64_t i = 0; i < k; ++i) {
    float* row = panel + i * kPanelCols;
    for (int c = 0; c < kPanelCols; ++c) row[c] = c < n_w ? w[c * ldw + i] : 0.0f;
  }
}

void gemm_f32_panel(const float* x, int64_t ldx, int64_t n_x, const float* panel, int n_w, int64_t k, float* y,
                    int64_t ldy, bool accumulate) {
  int64_t t = 0;
  for (; t + 6 <= n_x; t += 6) tile<6>(x + t * ldx, ldx, panel, n_w, k, y + t * ldy, ldy, accumulate);
  switch (n_x - t) {
    case 5: tile<5>(x + t * ldx, ldx, panel, n_w, k, y + t * ldy, ldy, accumulate); break;
    case 4: tile<4>(x + t * ldx, ldx, panel, n_w, k, y + t * ldy, ldy, accumulate); break;
    case 3: tile<3>(x + t * ldx, ldx, panel, n_w, k, y + t * ldy, ldy, accumulate); break;
    case 2: tile<2>(x + t * ldx, ldx, panel, n_w, k, y + t * ldy, ldy, accumulate); break;
    case 1: tile<1>(x + t * ldx, ldx, panel, n_w, k, y + t * ldy, ldy, accumulate); break;
    default: break;
  }
}

void gemm_f32_reference(const float* x, int64_t ldx, int64_t n_x, const float* w, int64_t ldw, int64_t n_w, int64_t k,
                        float* y, int64_t ldy) {
  for (int64_t t = 0; t < n_x; ++t)
    for (int64_t o = 0; o < n_w; ++o) {
      double s = 0.0;
      for (int64_t i = 0; i < k; ++i) s += static_cast<double>(x[t * ldx + i]) * w[o * ldw + i];
      y[t * ldy + o] = static_cast<float>(s);
    }
}

}  // namespace scout::kernels
