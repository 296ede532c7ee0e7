// Attention over the KV cache, one thread block per (query row, head), in
// three passes over the keys that query may see (its chunk, or everything
// before it): scores q.k * scale into a scratch row and their maximum; the
// exponentials and their sum; the weighted sum of values, one value dimension
// per thread. Keys are stored transposed ([dim][slot] per block), so threads
// taking consecutive keys read consecutive addresses in the first pass;
// values are [slot][dim], so in the third pass threads taking consecutive
// dimensions do too.
//
// This is the plain version: the scratch row costs one write and two reads
// per key, and one block per query head reads its kv head's keys again for
// every head of the group. Flash-decoding (split over keys, heads of a group
// together) is the fast version to come; this one is the reference it will
// be tested against.
#include <cuda_fp16.h>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/type_dispatch.cuh"

namespace scout::cuda {

namespace {

constexpr int kThreads = 128;

template <bool F16>
__device__ float kv_at(const void* base, int64_t i) {
  if constexpr (F16)
    return __half2float(static_cast<const __half*>(base)[i]);
  else
    return static_cast<const float*>(base)[i];
}

template <bool F16>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(AttentionArgs a, const float* __restrict__ q, const int32_t* __restrict__ pos,
                     const void* __restrict__ kv, float* __restrict__ scores, float* __restrict__ out) {
  extern __shared__ float q_row[];  // head_dim_k
  const int64_t t = blockIdx.x / a.n_head;
  const int h = static_cast<int>(blockIdx.x % a.n_head);
  const int g = h / (a.n_head / a.n_head_kv);
  const int dk = a.head_dim_k, dv = a.head_dim_v;
  const int64_t bs = a.block_size;
  const int64_t block_elems = a.n_head_kv * bs * (dk + dv);
  const int64_t k_off = g * bs * dk;                          // this kv head's keys in a block
  const int64_t v_off = a.n_head_kv * bs * dk + g * bs * dv;  // ... and values
  for (int i = threadIdx.x; i < dk; i += blockDim.x) q_row[i] = q[(t * a.n_head + h) * dk + i];
  __syncthreads();

  const int64_t qp = pos[t];
  const int64_t lo = max(a.chunk_size > 0 ? qp - qp % a.chunk_size : int64_t{0}, a.first_pos);
  const int64_t hi = min(qp, a.first_pos + a.n_pos - 1);
  const int64_t n_vis = hi - lo + 1;
  float* o = out + (t * a.n_head + h) * dv;
  if (n_vis <= 0) {
    for (int i = threadIdx.x; i < dv; i += blockDim.x) o[i] = 0.0f;
    return;
  }
  float* sc = scores + static_cast<int64_t>(blockIdx.x) * a.max_visible;
  const int64_t first = lo - a.first_pos;  // index of the first visible position in the copy

  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < n_vis; j += blockDim.x) {
    const int64_t idx = first + j, b = idx / bs, s = idx % bs;
    const int64_t k0 = b * block_elems + k_off + s;  // element [dim 0][slot s]
    float d = 0.0f;
    for (int i = 0; i < dk; ++i) d += q_row[i] * kv_at<F16>(kv, k0 + i * bs);
    d *= a.scale;
    sc[j] = d;
    mx = fmaxf(mx, d);
  }
  mx = block_reduce<BlockMax>(mx);
  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j < n_vis; j += blockDim.x) sum += (sc[j] = expf(sc[j] - mx));
  sum = block_reduce<BlockSum>(sum);  // its barrier also publishes sc to the whole block

  const float inv = 1.0f / sum;
  for (int i = threadIdx.x; i < dv; i += blockDim.x) {
    float acc = 0.0f;
    int64_t b = first / bs, s = first % bs;
    for (int64_t j = 0; j < n_vis; ++j) {
      acc += sc[j] * kv_at<F16>(kv, b * block_elems + v_off + s * dv + i);
      if (++s == bs) s = 0, ++b;
    }
    o[i] = acc * inv;
  }
}

}  // namespace

void attention(const AttentionArgs& a, const float* q, const int32_t* pos, int64_t n_rows, const void* kv,
               float* scores, float* out, cudaStream_t stream) {
  if (n_rows == 0) return;
  const unsigned grid = static_cast<unsigned>(n_rows * a.n_head);
  const size_t smem = static_cast<size_t>(a.head_dim_k) * sizeof(float);
  if (a.kv_f16)
    attention_kernel<true><<<grid, kThreads, smem, stream>>>(a, q, pos, kv, scores, out);
  else
    attention_kernel<false><<<grid, kThreads, smem, stream>>>(a, q, pos, kv, scores, out);
  cuda_check(cudaGetLastError(), "attention launch");
}

}  // namespace scout::cuda
