// The small operations between matmuls: norms, rotations, activations. Each
// reads and writes its arrays once; they are a few percent of a step.
#include <cmath>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/type_dispatch.cuh"

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

// One thread per rotated pair (row, head, i).
__global__ void rope_kernel(float* x, int64_t n_pairs, int n_heads, int head_dim, int half, const float* cos_sin) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= n_pairs) return;
  const int i = static_cast<int>(k % half);
  const int64_t th = k / half;  // row * n_heads + head
  const int64_t t = th / n_heads;
  float* v = x + th * head_dim;
  const float c = cos_sin[(t * half + i) * 2], s = cos_sin[(t * half + i) * 2 + 1];
  const float a = v[2 * i], b = v[2 * i + 1];
  v[2 * i] = a * c - b * s;
  v[2 * i + 1] = a * s + b * c;
}

__global__ void scale_rows_kernel(float* x, const float* factor, int64_t total, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < total) x[i] *= factor[i / n];
}

__global__ void add_kernel(float* y, const float* x, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] += x[i];
}

__global__ void swiglu_kernel(const float* gate, const float* up, float* out, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float g = gate[i];
  out[i] = g / (1.0f + expf(-g)) * up[i];
}

// One block per row.
__global__ void softmax_kernel(float* x, int64_t n) {
  float* r = x + static_cast<int64_t>(blockIdx.x) * n;
  float mx = -INFINITY;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, r[i]);
  mx = block_reduce<BlockMax>(mx);
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += (r[i] = expf(r[i] - mx));
  sum = block_reduce<BlockSum>(sum);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) r[i] /= sum;
}

void check_launch(const char* what) { cuda_check(cudaGetLastError(), what); }

}  // namespace

void rmsnorm(const float* x, const float* weight, float* out, int64_t n_rows, int64_t n, float eps, cudaStream_t stream) {
  if (n_rows == 0) return;
  rmsnorm_kernel<<<static_cast<unsigned>(n_rows), kThreads, 0, stream>>>(x, weight, out, n, eps);
  check_launch("rmsnorm launch");
}

void rope(float* x, int64_t n_rows, int n_heads, int head_dim, int rope_dim, const float* cos_sin, cudaStream_t stream) {
  const int half = rope_dim / 2;
  const int64_t n_pairs = n_rows * n_heads * half;
  if (n_pairs == 0) return;
  rope_kernel<<<blocks_for(n_pairs, kThreads), kThreads, 0, stream>>>(x, n_pairs, n_heads, head_dim, half, cos_sin);
  check_launch("rope launch");
}

void scale_rows(float* x, const float* factor, int64_t n_rows, int64_t n, cudaStream_t stream) {
  if (n_rows * n == 0) return;
  scale_rows_kernel<<<blocks_for(n_rows * n, kThreads), kThreads, 0, stream>>>(x, factor, n_rows * n, n);
  check_launch("scale_rows launch");
}

void add(float* y, const float* x, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  add_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(y, x, n);
  check_launch("add launch");
}

void swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  swiglu_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(gate, up, out, n);
  check_launch("swiglu launch");
}

void softmax(float* x, int64_t n_rows, int64_t n, cudaStream_t stream) {
  if (n_rows == 0) return;
  softmax_kernel<<<static_cast<unsigned>(n_rows), kThreads, 0, stream>>>(x, n);
  check_launch("softmax launch");
}

}  // namespace scout::cuda
