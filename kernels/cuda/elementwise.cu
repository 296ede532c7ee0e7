// The small operations between matmuls: norms, rotations, activations, the
// router's top k. Each reads and writes its arrays once; grids follow the
// shapes only. The per-element math is device_math.cuh's (host-tested).
#include <cmath>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/internal.cuh"

namespace scout::cuda {

namespace {

constexpr int kThreads = 256;

// One block per row; f32 sum of squares, as the CPU backend.
__global__ void rmsnorm_kernel(const float* x, const float* weight, float* out, int64_t n, float eps) {
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * n;
  float* orow = out + static_cast<int64_t>(blockIdx.x) * n;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_reduce<BlockSum>(ss);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) orow[i] = weight ? xr[i] * inv * weight[i] : xr[i] * inv;
}

// Small rows (QK norm over head_dim): one warp per row.
__global__ void rmsnorm_warp_kernel(const float* x, const float* weight, float* out, int64_t n_rows, int64_t n,
                                    float eps) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32;
  if (r >= n_rows) return;
  const int lane = threadIdx.x % 32;
  const float* xr = x + r * n;
  float* orow = out + r * n;
  float ss = 0.0f;
  for (int64_t i = lane; i < n; i += 32) ss += xr[i] * xr[i];
  ss = warp_sum(ss);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(n) + eps);
  for (int64_t i = lane; i < n; i += 32) orow[i] = weight ? xr[i] * inv * weight[i] : xr[i] * inv;
}

__global__ void rope_table_kernel(const int32_t* pos, const double* theta, int64_t total, int64_t half, float* out) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= total) return;
  float c, s;
  rope_entry(pos[k / half], theta[k % half], c, s);
  out[2 * k] = c;
  out[2 * k + 1] = s;
}

// One thread per rotated pair (row, head, i).
__global__ void rope_kernel(float* x, const float* table, int64_t n_pairs, int n_heads, int head_dim, int half) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= n_pairs) return;
  const int i = static_cast<int>(k % half);
  const int64_t th = k / half;  // row * n_heads + head
  const int64_t t = th / n_heads;
  float* v = x + th * head_dim;
  const float c = table[(t * half + i) * 2], s = table[(t * half + i) * 2 + 1];
  const float a = v[2 * i], b = v[2 * i + 1];
  v[2 * i] = a * c - b * s;
  v[2 * i + 1] = a * s + b * c;
}

__global__ void attn_temperature_kernel(const int32_t* pos, int64_t n, double floor_scale, double scale, float* out) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) out[t] = attn_temperature_of(pos[t], floor_scale, scale);
}

__global__ void scale_rows_kernel(float* x, const float* factor, int64_t total, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < total) x[i] *= factor[i / n];
}

__global__ void add_kernel(float* y, const float* x, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] += x[i];
}

__global__ void add4_kernel(float4* y, const float4* x, int64_t n4) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n4) return;
  float4 a = y[i];
  const float4 b = x[i];
  a.x += b.x, a.y += b.y, a.z += b.z, a.w += b.w;
  y[i] = a;
}

__device__ __forceinline__ float silu_mul(float g, float u) { return g / (1.0f + expf(-g)) * u; }

__global__ void swiglu_kernel(const float* gate, const float* up, float* out, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = silu_mul(gate[i], up[i]);
}

// One warp per row: k rounds of a warp-wide best pick (descending, ties to
// the lower index), then the gates by lane 0 (device_math.cuh route_row's rule).
// Shared memory per warp: E taken flags and k chosen logits.
__global__ void route_kernel(const float* logits, int64_t n_rows, int E, int k, bool sigmoid, int32_t* experts,
                             float* weights) {
  extern __shared__ unsigned char route_smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (kThreads / 32) + warp;
  if (row >= n_rows) return;
  const size_t per_warp = (static_cast<size_t>(E) + 3) / 4 * 4 + static_cast<size_t>(k) * 4;
  unsigned char* taken = route_smem + warp * per_warp;
  float* chosen = reinterpret_cast<float*>(taken + (E + 3) / 4 * 4);
  const float* l = logits + row * E;
  for (int e = lane; e < E; e += 32) taken[e] = 0;
  __syncwarp();
  for (int j = 0; j < k; ++j) {
    float bv = 0.0f;
    int32_t bi = -1;
    for (int e = lane; e < E; e += 32)
      if (!taken[e] && (bi < 0 || topk_better(l[e], e, bv, bi))) bv = l[e], bi = e;
#pragma unroll
    for (int off = 16; off > 0; off /= 2) {
      const float ov = __shfl_xor_sync(0xffffffffu, bv, off);
      const int32_t oi = __shfl_xor_sync(0xffffffffu, bi, off);
      if (oi >= 0 && (bi < 0 || topk_better(ov, oi, bv, bi))) bv = ov, bi = oi;
    }
    if (lane == 0) {
      taken[bi] = 1;
      chosen[j] = bv;
      experts[row * k + j] = bi;
    }
    __syncwarp();
  }
  if (lane == 0) {
    gate_weights(chosen, k, sigmoid);
    for (int j = 0; j < k; ++j) weights[row * k + j] = chosen[j];
  }
}

}  // namespace

void rmsnorm(const float* x, const float* weight, float* out, int64_t n_rows, int64_t n, float eps, cudaStream_t stream) {
  if (n_rows == 0) return;
  if (n <= 256)
    rmsnorm_warp_kernel<<<grid_for(n_rows, kThreads / 32), kThreads, 0, stream>>>(x, weight, out, n_rows, n, eps);
  else
    rmsnorm_kernel<<<static_cast<unsigned>(n_rows), kThreads, 0, stream>>>(x, weight, out, n, eps);
  check_launch("rmsnorm launch");
}

void rope_table(const int32_t* pos, const double* theta, int64_t n_rows, int64_t half, float* out, cudaStream_t stream) {
  const int64_t total = n_rows * half;
  if (total == 0) return;
  rope_table_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(pos, theta, total, half, out);
  check_launch("rope_table launch");
}

void rope(float* x, const float* table, int64_t n_rows, int64_t cols, int head_dim, int half, cudaStream_t stream) {
  const int n_heads = static_cast<int>(cols / head_dim);
  const int64_t n_pairs = n_rows * n_heads * half;
  if (n_pairs == 0) return;
  rope_kernel<<<grid_for(n_pairs, kThreads), kThreads, 0, stream>>>(x, table, n_pairs, n_heads, head_dim, half);
  check_launch("rope launch");
}

void attn_temperature(const int32_t* pos, int64_t n_rows, double floor_scale, double scale, float* out,
                      cudaStream_t stream) {
  if (n_rows == 0) return;
  attn_temperature_kernel<<<grid_for(n_rows, kThreads), kThreads, 0, stream>>>(pos, n_rows, floor_scale, scale, out);
  check_launch("attn_temperature launch");
}

void scale_rows(float* x, const float* factor, int64_t n_rows, int64_t n, cudaStream_t stream) {
  if (n_rows * n == 0) return;
  scale_rows_kernel<<<grid_for(n_rows * n, kThreads), kThreads, 0, stream>>>(x, factor, n_rows * n, n);
  check_launch("scale_rows launch");
}

void add(float* y, const float* x, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  if (n % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0)
    add4_kernel<<<grid_for(n / 4, kThreads), kThreads, 0, stream>>>(reinterpret_cast<float4*>(y),
                                                                   reinterpret_cast<const float4*>(x), n / 4);
  else
    add_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(y, x, n);
  check_launch("add launch");
}

void swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  swiglu_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(gate, up, out, n);
  check_launch("swiglu launch");
}

void route(const float* logits, int64_t n_rows, int n_expert, int k, bool sigmoid, int32_t* experts, float* weights,
           cudaStream_t stream) {
  if (n_rows == 0) return;
  const size_t per_warp = (static_cast<size_t>(n_expert) + 3) / 4 * 4 + static_cast<size_t>(k) * 4;
  const size_t smem = per_warp * (kThreads / 32);
  if (smem > 48 * 1024) throw std::invalid_argument("route: too many experts for the GPU kernel");
  route_kernel<<<grid_for(n_rows, kThreads / 32), kThreads, smem, stream>>>(logits, n_rows, n_expert, k, sigmoid,
                                                                            experts, weights);
  check_launch("route launch");
}

}  // namespace scout::cuda
