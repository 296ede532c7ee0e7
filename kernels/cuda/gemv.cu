// Generation-time matmul: a few activation rows against every weight row.
// The weights are read once, straight from their stored blocks; that read is
// the whole cost, so the kernel's job is to keep enough loads in flight.
//
// One warp per weight row. Lane l takes the row's 32-element groups l, l+32,
// ...: consecutive lanes read consecutive groups (a warp covers 32 contiguous
// groups per step), decode their group into 32 registers and apply them to
// each activation row. The activations (a few KB per row) stay in L1/L2.
#include "kernels/cuda/block_decode.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/type_dispatch.cuh"

namespace scout::cuda {

namespace {

constexpr int kWarpsPerBlock = 4;

// NR: activation rows handled per weight load (a compile-time count so the
// accumulators stay in registers); rows >= n_rows are skipped.
template <TensorType T, int NR>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    gemv_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_in, int64_t n_out,
                const float* __restrict__ x, float* __restrict__ y, int n_rows) {
  using D = BlockDecoder<T>;
  const int lane = threadIdx.x % 32;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (r >= n_out) return;
  const uint8_t* row = w + r * row_bytes;
  const int64_t n_groups = n_in / 32;

  float acc[NR];
#pragma unroll
  for (int t = 0; t < NR; ++t) acc[t] = 0.0f;
  for (int64_t g = lane; g < n_groups; g += 32) {
    float v[32];
    D::group(row + (g / D::kGroups) * D::kBytes, static_cast<int>(g % D::kGroups), v);
#pragma unroll
    for (int t = 0; t < NR; ++t) {
      if (t >= n_rows) break;
      const float4* xp = reinterpret_cast<const float4*>(x + t * n_in + g * 32);
      float s = 0.0f;
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float4 a = __ldg(xp + i);
        s += v[4 * i] * a.x + v[4 * i + 1] * a.y + v[4 * i + 2] * a.z + v[4 * i + 3] * a.w;
      }
      acc[t] += s;
    }
  }
#pragma unroll
  for (int t = 0; t < NR; ++t) {
    float s = acc[t];
    for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
    if (lane == 0 && t < n_rows) y[t * n_out + r] = s;
  }
}

}  // namespace

void gemv(const DeviceWeight& w, const float* x, float* y, int n_rows, cudaStream_t stream) {
  if (n_rows < 1 || n_rows > kGemvMaxRows) throw std::invalid_argument("gemv: rows out of range");
  const unsigned grid = blocks_for(w.n_out, kWarpsPerBlock);
  dispatch_type(w.type, [&]<TensorType T>() {
    // One row (plain generation) gets its own instantiation: no unused accumulators.
    if (n_rows == 1)
      gemv_kernel<T, 1><<<grid, kWarpsPerBlock * 32, 0, stream>>>(w.data, w.row_bytes, w.n_in, w.n_out, x, y, 1);
    else
      gemv_kernel<T, kGemvMaxRows><<<grid, kWarpsPerBlock * 32, 0, stream>>>(w.data, w.row_bytes, w.n_in, w.n_out, x,
                                                                             y, n_rows);
  });
  cuda_check(cudaGetLastError(), "gemv launch");
}

}  // namespace scout::cuda
