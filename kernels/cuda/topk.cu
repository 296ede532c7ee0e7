// The k largest values of each row (sampling's top k over the vocabulary),
// largest first, ties to the lower index (device_math.cuh topk_better), so
// only k (id, value) pairs per row leave the device.
//
// Two kernels, grids from the shape only: the row is cut into chunks of
// kChunk values; a block per (row, chunk) picks its chunk's k best by k
// rounds of a block-wide best pick over the chunk in shared memory (fewer
// real values than k are padded with (-inf, INT_MAX), which loses to any real
// value); then a block per row does the same over the chunks' candidates.
#include <algorithm>
#include <climits>

#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/internal.cuh"

namespace scout::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kChunk = 4096;
size_t g_max_smem = 48 * 1024;  // set by init_topk_kernels: the device's opt-in limit, at most 160 KiB

// k rounds over n entries (val, idx) in shared memory; round j's pick goes to
// out_v[j], out_i[j] (thread 0 writes).
__device__ void select_k(const float* val, const int32_t* idx, unsigned char* taken, int n, int k, float* out_v,
                         int32_t* out_i) {
  __shared__ float sv[kThreads / 32];
  __shared__ int32_t si[kThreads / 32], sat[kThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int j = 0; j < k; ++j) {
    float bv = -INFINITY;
    int32_t bi = INT_MAX, at = -1;
    for (int e = threadIdx.x; e < n; e += kThreads)
      if (!taken[e] && topk_better(val[e], idx[e], bv, bi)) bv = val[e], bi = idx[e], at = e;
#pragma unroll
    for (int off = 16; off > 0; off /= 2) {
      const float ov = __shfl_xor_sync(0xffffffffu, bv, off);
      const int32_t oi = __shfl_xor_sync(0xffffffffu, bi, off), oa = __shfl_xor_sync(0xffffffffu, at, off);
      if (topk_better(ov, oi, bv, bi)) bv = ov, bi = oi, at = oa;
    }
    if (lane == 0) sv[warp] = bv, si[warp] = bi, sat[warp] = at;
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int w = 1; w < kThreads / 32; ++w)
        if (topk_better(sv[w], si[w], bv, bi)) bv = sv[w], bi = si[w], at = sat[w];
      if (at >= 0) taken[at] = 1;
      out_v[j] = bv;
      out_i[j] = bi;
    }
    __syncthreads();
  }
}

__global__ void __launch_bounds__(kThreads)
    topk_chunks_kernel(const float* __restrict__ x, int64_t cols, int n_chunks, int k, float* cand_v, int32_t* cand_i) {
  extern __shared__ __align__(16) unsigned char smem[];
  auto* val = reinterpret_cast<float*>(smem);
  auto* idx = reinterpret_cast<int32_t*>(val + kChunk);
  auto* taken = reinterpret_cast<unsigned char*>(idx + kChunk);
  const int64_t row = blockIdx.x, c0 = static_cast<int64_t>(blockIdx.y) * kChunk;
  const int n = static_cast<int>(cols - c0 < kChunk ? cols - c0 : kChunk);
  for (int e = threadIdx.x; e < n; e += kThreads) {
    val[e] = x[row * cols + c0 + e];
    idx[e] = static_cast<int32_t>(c0 + e);
    taken[e] = 0;
  }
  __syncthreads();
  const int64_t o = (row * n_chunks + blockIdx.y) * k;
  select_k(val, idx, taken, n, k, cand_v + o, cand_i + o);
}

__global__ void __launch_bounds__(kThreads)
    topk_merge_kernel(const float* __restrict__ cand_v, const int32_t* __restrict__ cand_i, int n_cand, int k,
                      int32_t* ids, float* values) {
  extern __shared__ __align__(16) unsigned char smem[];
  auto* val = reinterpret_cast<float*>(smem);
  auto* idx = reinterpret_cast<int32_t*>(val + n_cand);
  auto* taken = reinterpret_cast<unsigned char*>(idx + n_cand);
  const int64_t row = blockIdx.x;
  for (int e = threadIdx.x; e < n_cand; e += kThreads) {
    val[e] = cand_v[row * n_cand + e];
    idx[e] = cand_i[row * n_cand + e];
    taken[e] = 0;
  }
  __syncthreads();
  select_k(val, idx, taken, n_cand, k, values + row * k, ids + row * k);
}

size_t merge_smem(int64_t n_cand) { return static_cast<size_t>(n_cand) * 9; }
size_t chunk_smem() { return static_cast<size_t>(kChunk) * 9; }

}  // namespace

void init_topk_kernels() {
  int dev = 0, optin = 0;
  cuda_check(cudaGetDevice(&dev), "cudaGetDevice");
  cuda_check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "shared memory limit");
  g_max_smem = std::min<size_t>(static_cast<size_t>(optin), 160 * 1024);
  cuda_check(cudaFuncSetAttribute(topk_merge_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(g_max_smem)),
             "top_k attributes");
}

size_t top_k_scratch_bytes(int64_t n_rows, int64_t cols, int k) {
  if (k < 1 || k > kTopKMax || k > cols) return 0;
  const int64_t n_chunks = (cols + kChunk - 1) / kChunk;
  if (merge_smem(n_chunks * k) > g_max_smem) return 0;
  return static_cast<size_t>(n_rows * n_chunks * k) * 8;
}

void top_k(const float* x, int64_t n_rows, int64_t cols, int k, void* scratch, int32_t* ids, float* values,
           cudaStream_t stream) {
  if (n_rows == 0) return;
  const int n_chunks = static_cast<int>((cols + kChunk - 1) / kChunk);
  auto* cand_v = static_cast<float*>(scratch);
  auto* cand_i = reinterpret_cast<int32_t*>(cand_v + n_rows * n_chunks * k);
  topk_chunks_kernel<<<dim3(static_cast<unsigned>(n_rows), static_cast<unsigned>(n_chunks)), kThreads, chunk_smem(),
                       stream>>>(x, cols, n_chunks, k, cand_v, cand_i);
  check_launch("top_k (chunks) launch");
  const int n_cand = n_chunks * k;
  topk_merge_kernel<<<static_cast<unsigned>(n_rows), kThreads, merge_smem(n_cand), stream>>>(cand_v, cand_i, n_cand, k,
                                                                                            ids, values);
  check_launch("top_k (merge) launch");
}

}  // namespace scout::cuda
