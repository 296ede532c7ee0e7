// Sums and maxima across a thread block (any size up to 1024, a multiple of
// 32): within each warp by shuffles, then across warps through shared memory.
// Every thread gets the result.
#pragma once

namespace scout::cuda {

struct BlockMax {
  __device__ static float op(float a, float b) { return fmaxf(a, b); }
};
struct BlockSum {
  __device__ static float op(float a, float b) { return a + b; }
};

template <class Op>
__device__ float block_reduce(float v) {
  __shared__ float partial[32];
  for (int off = 16; off > 0; off /= 2) v = Op::op(v, __shfl_xor_sync(0xffffffffu, v, off));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_warps = blockDim.x / 32;
  __syncthreads();  // partial may still be read by an earlier call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = partial[0];
  for (int i = 1; i < n_warps; ++i) v = Op::op(v, partial[i]);
  return v;
}

}  // namespace scout::cuda
