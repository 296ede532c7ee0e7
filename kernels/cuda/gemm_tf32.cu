// Prompt-time matmul on tensor cores (sm_80+): C[t][o] = sum_i X[t][i] W[o][i]
// for many tokens, where each weight tile is decoded once and reused by 64
// tokens.
//
// A block owns 64 weight rows x 64 tokens. Per step of 32 inputs (one decode
// group): half the threads decode a group of each of the 64 weight rows into
// shared memory, the other half stage the 64 tokens' 32 activations; the four
// warps then multiply them as TF32 16x16x8 fragments, each warp a 32x32
// corner of the tile, accumulating in f32. Edge tiles are padded with zeros
// and written through shared memory with bounds checks.
#include <mma.h>

#include "kernels/cuda/block_decode.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/type_dispatch.cuh"

namespace scout::cuda {

namespace {

namespace wmma = nvcuda::wmma;

constexpr int kRows = 64;      // weight rows (outputs) per block
constexpr int kTokens = 64;    // tokens per block
constexpr int kStep = 32;      // inputs per step: one decode group
constexpr int kLd = kStep + 4;       // staged tile row stride; padding spreads rows over banks
constexpr int kLdOut = kRows + 4;    // output tile row stride
constexpr int kThreads = 128;        // 4 warps, 2 x 2 over the tile
static_assert(kThreads == 2 * kRows, "one decoding thread per weight row, as many staging activations");
static_assert(kTokens * kLdOut <= 2 * kRows * kLd, "the output tile reuses the staging space");

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;

template <TensorType T>
__global__ void __launch_bounds__(kThreads)
    gemm_tf32_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_in, int64_t n_out,
                     const float* __restrict__ x, float* __restrict__ y, int64_t n_rows) {
  using D = BlockDecoder<T>;
  // ws[o][k]: weights (matrix A, row-major); xs[t][k]: activations (matrix B
  // read column-major, so B[k][t] = xs[t][k]). Both already rounded to TF32.
  __shared__ __align__(32) float smem[2 * kRows * kLd];
  float* ws = smem;
  float* xs = smem + kRows * kLd;

  const int tid = threadIdx.x, warp = tid / 32;
  const int wm = warp / 2, wn = warp % 2;  // this warp's 32x32 corner: rows wm*32, tokens wn*32
  const int64_t o0 = static_cast<int64_t>(blockIdx.x) * kRows, t0 = static_cast<int64_t>(blockIdx.y) * kTokens;

  FragC acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  for (int64_t k0 = 0; k0 < n_in; k0 += kStep) {
    if (tid < kRows) {
      const int64_t o = o0 + tid;
      float v[32];
      if (o < n_out) {
        const int64_t g = k0 / 32;
        D::group(w + o * row_bytes + (g / D::kGroups) * D::kBytes, static_cast<int>(g % D::kGroups), v);
      } else {
#pragma unroll
        for (int i = 0; i < 32; ++i) v[i] = 0.0f;
      }
#pragma unroll
      for (int i = 0; i < 32; ++i) ws[tid * kLd + i] = wmma::__float_to_tf32(v[i]);
    } else {
      // 64 tokens x 8 float4 each, spread over the 64 staging threads.
      for (int j = tid - kRows; j < kTokens * 8; j += kThreads - kRows) {
        const int tok = j / 8, part = j % 8;
        float4 a = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (t0 + tok < n_rows) a = __ldg(reinterpret_cast<const float4*>(x + (t0 + tok) * n_in + k0) + part);
        float* dst = xs + tok * kLd + part * 4;
        dst[0] = wmma::__float_to_tf32(a.x);
        dst[1] = wmma::__float_to_tf32(a.y);
        dst[2] = wmma::__float_to_tf32(a.z);
        dst[3] = wmma::__float_to_tf32(a.w);
      }
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kStep; kk += 8) {
      FragA a[2];
      FragB b[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], ws + (wm * 32 + i * 16) * kLd + kk, kLd);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], xs + (wn * 32 + j * 16) * kLd + kk, kLd);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

  // out[t][o] in shared memory (column-major store of the o x t fragments),
  // then written row by row: consecutive threads write consecutive outputs.
  float* out = smem;
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(out + (wn * 32 + j * 16) * kLdOut + wm * 32 + i * 16, acc[i][j], kLdOut,
                              wmma::mem_col_major);
  __syncthreads();
  for (int idx = tid; idx < kTokens * kRows; idx += kThreads) {
    const int tok = idx / kRows, o = idx % kRows;
    if (t0 + tok < n_rows && o0 + o < n_out) y[(t0 + tok) * n_out + o0 + o] = out[tok * kLdOut + o];
  }
}

}  // namespace

void gemm_tf32(const DeviceWeight& w, const float* x, float* y, int64_t n_rows, cudaStream_t stream) {
  const dim3 grid(blocks_for(w.n_out, kRows), blocks_for(n_rows, kTokens));
  dispatch_type(w.type, [&]<TensorType T>() {
    gemm_tf32_kernel<T><<<grid, kThreads, 0, stream>>>(w.data, w.row_bytes, w.n_in, w.n_out, x, y, n_rows);
  });
  cuda_check(cudaGetLastError(), "gemm_tf32 launch");
}

}  // namespace scout::cuda
