// The routed experts' bookkeeping on the device: (token, slot) pairs grouped
// by expert (a counting sort in one block: counts by shared atomics, the
// offsets and tiles by one thread, then each expert's pairs placed by one
// thread in pair order, so the order is the CPU's and does not depend on
// timing), the activations gathered in that order, and the experts' outputs
// added back to each token in ascending expert order, as the CPU adds them.
// The matmuls between (gemv*.cu, gemm.cu) read the tiles from device memory.
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/internal.cuh"

namespace scout::cuda {

namespace {

constexpr int kGroupThreads = 256;
constexpr int kMaxK = 32;  // routes per token the combine kernel orders

__global__ void __launch_bounds__(kGroupThreads)
    moe_group_kernel(const int32_t* __restrict__ experts, int64_t P, int E, int tile_rows, int32_t* clamped,
                     int32_t* sorted, int32_t* pos, RowTile* tiles, int32_t* n_tiles, ErrorState* err) {
  extern __shared__ int32_t group_smem[];
  int32_t* counts = group_smem;
  int32_t* offsets = group_smem + E;
  for (int e = threadIdx.x; e < E; e += blockDim.x) counts[e] = 0;
  __syncthreads();
  for (int64_t i = threadIdx.x; i < P; i += blockDim.x) {
    const int32_t e = checked_id(experts[i], E, kErrExpert, err);
    clamped[i] = e;
    atomicAdd(&counts[e], 1);
  }
  __syncthreads();
  if (threadIdx.x == 0) *n_tiles = moe_tiles(counts, E, tile_rows, offsets, tiles);
  __syncthreads();
  for (int e = threadIdx.x; e < E; e += blockDim.x)
    if (counts[e] > 0) moe_scatter_expert(e, clamped, P, offsets[e], sorted, pos);
}

// One block per sorted row.
__global__ void moe_gather_kernel(const float* __restrict__ x, int64_t d, const int32_t* __restrict__ sorted, int k,
                                  const float* __restrict__ weights, float* __restrict__ xin) {
  const int32_t pair = sorted[blockIdx.x];
  const float s = weights ? weights[pair] : 1.0f;
  const float* src = x + static_cast<int64_t>(pair / k) * d;
  float* dst = xin + static_cast<int64_t>(blockIdx.x) * d;
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) dst[c] = __fmul_rn(s, src[c]);
}

// One block per token: its k routes ordered by expert, added one after the
// other without fused multiply-adds (the CPU's dst += s * y, expert by expert).
__global__ void moe_combine_kernel(const float* __restrict__ ys, int64_t d, const int32_t* __restrict__ experts,
                                   const float* __restrict__ weights, const int32_t* __restrict__ pos, int k,
                                   float* __restrict__ out) {
  const int64_t t = blockIdx.x;
  int order[kMaxK];
  for (int j = 0; j < k; ++j) {
    int at = j;
    while (at > 0 && experts[t * k + order[at - 1]] > experts[t * k + j]) {
      order[at] = order[at - 1];
      --at;
    }
    order[at] = j;
  }
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) {
    float acc = out[t * d + c];
    for (int j = 0; j < k; ++j) {
      const int64_t pair = t * k + order[j];
      const float s = weights ? weights[pair] : 1.0f;
      acc = __fadd_rn(acc, __fmul_rn(s, ys[static_cast<int64_t>(pos[pair]) * d + c]));
    }
    out[t * d + c] = acc;
  }
}

}  // namespace

int64_t moe_max_tiles_for(int64_t n_pairs, int n_expert, int tile_rows) {
  return moe_max_tiles(n_pairs, n_expert, tile_rows);
}

void moe_group(const int32_t* experts, int64_t n_pairs, int n_expert, int tile_rows, int32_t* scratch, int32_t* sorted,
               int32_t* pos, RowTile* tiles, int32_t* n_tiles, ErrorState* err, cudaStream_t stream) {
  const size_t smem = static_cast<size_t>(n_expert) * 2 * sizeof(int32_t);
  if (smem > 48 * 1024) throw std::invalid_argument("moe_ffn: too many experts for the GPU kernels");
  moe_group_kernel<<<1, kGroupThreads, smem, stream>>>(experts, n_pairs, n_expert, tile_rows, scratch, sorted, pos,
                                                       tiles, n_tiles, err);
  check_launch("moe_group launch");
}

void moe_gather(const float* x, int64_t d, const int32_t* sorted, int k, const float* weights, int64_t n_pairs,
                float* xin, cudaStream_t stream) {
  if (n_pairs == 0) return;
  moe_gather_kernel<<<static_cast<unsigned>(n_pairs), 256, 0, stream>>>(x, d, sorted, k, weights, xin);
  check_launch("moe_gather launch");
}

void moe_combine(const float* ys, int64_t d, const int32_t* experts, const float* weights, const int32_t* pos,
                 int64_t n_tokens, int k, float* out, cudaStream_t stream) {
  if (n_tokens == 0) return;
  if (k > kMaxK) throw std::invalid_argument("moe_ffn: more than 32 routes per token for the GPU kernels");
  moe_combine_kernel<<<static_cast<unsigned>(n_tokens), 256, 0, stream>>>(ys, d, experts, weights, pos, k, out);
  check_launch("moe_combine launch");
}

}  // namespace scout::cuda
