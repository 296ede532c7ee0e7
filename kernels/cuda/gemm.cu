// Prompt-time matmul: C[t][o] = sum_i X[t][i] W[o][i] for many tokens, each
// weight tile decoded once per 64 tokens. Grouped (moe_ffn), blockIdx.y is a
// tile of at most 64 rows of one expert, read from device memory (tokens
// sorted by expert on the device); otherwise rows 64*blockIdx.y on.
//
// bf16 (the default): a block owns 128 weight rows x 64 tokens and 8 warps.
// Per step of 32 inputs (one decode group), half the threads decode a group
// of each of the 128 rows into shared memory as bf16, the other half stage
// the 64 tokens' 32 activations as bf16; each warp then multiplies its 32x32
// corner as 16x16x16 bf16 WMMA fragments, accumulating in f32. The tile goes
// out through shared memory, bounds-checked, consecutive threads on
// consecutive outputs.
//
// f32 (the exact path, --exact): 64 rows x 64 tokens, each thread 4 x 4 outputs
// by f32 FMA from the same kind of staged tiles.
#include <cuda_bf16.h>
#include <mma.h>

#include "kernels/cuda/block_decode.cuh"
#include "kernels/cuda/internal.cuh"
#include "kernels/cuda/type_dispatch.cuh"

namespace scout::cuda {

namespace {

namespace wmma = nvcuda::wmma;

// Group gi (32 inputs) of a weight row as f32; float rows may end inside a group.
template <TensorType T>
__device__ __forceinline__ void load_group(const uint8_t* row, int64_t gi, int64_t n_in, float (&v)[32]) {
  using D = BlockDecoder<T>;
  if constexpr (kFloatType<T>) {
    if ((gi + 1) * 32 > n_in) {
      constexpr int ES = T == TensorType::F32 ? 4 : 2;
#pragma unroll
      for (int j = 0; j < 32; ++j) {
        const int64_t i = gi * 32 + j;
        float f = 0.0f;
        if (i < n_in) {
          const uint8_t* p = row + i * ES;
          if constexpr (T == TensorType::F32) f = bits_to_float(load_u32(p));
          else if constexpr (T == TensorType::F16) f = fp16_to_f32(load_u16(p));
          else f = bf16_to_f32(load_u16(p));
        }
        v[j] = f;
      }
      return;
    }
  }
  D::group(row + (gi / D::kGroups) * D::kBytes, static_cast<int>(gi % D::kGroups), v);
}

// Activations [k0, k0 + 4) of row xr as f32 (zeros past n_in).
__device__ __forceinline__ float4 load_x4(const float* xr, int64_t k0, int64_t n_in, bool vec) {
  if (vec && k0 + 4 <= n_in) return __ldg(reinterpret_cast<const float4*>(xr + k0));
  float f[4];
#pragma unroll
  for (int j = 0; j < 4; ++j) f[j] = k0 + j < n_in ? __ldg(xr + k0 + j) : 0.0f;
  return make_float4(f[0], f[1], f[2], f[3]);
}

// ---------------- bf16 tensor cores ----------------
constexpr int kBM = 128, kBN = kGemmTileRows, kBK = 32;
constexpr int kBThreads = 256;
constexpr int kLdS = kBK + 8;     // staged tile row stride (bf16): 80 bytes, rows spread over banks
constexpr int kLdOut = kBM + 4;   // output tile row stride (f32)
constexpr size_t kStageBytes = static_cast<size_t>(kBM + kBN) * kLdS * 2;
constexpr size_t kOutBytes = static_cast<size_t>(kBN) * kLdOut * 4;
constexpr size_t kBSmem = kStageBytes > kOutBytes ? kStageBytes : kOutBytes;
static_assert(kBThreads == 2 * kBM, "one decoding thread per weight row, as many staging activations");

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

__device__ __forceinline__ uint32_t pack_bf16(float a, float b) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<const uint32_t*>(&h);
}

template <TensorType T>
__global__ void __launch_bounds__(kBThreads)
    gemm_bf16_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_in, int64_t n_out,
                     const float* __restrict__ x, float* __restrict__ y, int64_t n_rows, Grouping g, bool vec) {
  __shared__ __align__(128) unsigned char smem[kBSmem];
  auto* ws = reinterpret_cast<__nv_bfloat16*>(smem);  // [kBM][kLdS]: weights (A, row-major)
  __nv_bfloat16* xs = ws + kBM * kLdS;                 // [kBN][kLdS]: activations (B as column-major)
  int64_t r0;
  int nr;
  size_t w_off;
  if (!tile_of(g, blockIdx.y, n_rows, kBN, r0, nr, w_off)) return;
  const int tid = threadIdx.x, warp = tid / 32;
  const int wm = warp % 4, wn = warp / 4;  // this warp's 32x32 corner: rows wm*32, tokens wn*32
  const int64_t o0 = static_cast<int64_t>(blockIdx.x) * kBM;

  FragC acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  const int64_t n_groups = (n_in + kBK - 1) / kBK;
  for (int64_t gi = 0; gi < n_groups; ++gi) {
    if (tid < kBM) {
      const int64_t o = o0 + tid;
      float v[32];
      if (o < n_out) {
        load_group<T>(w + w_off + o * row_bytes, gi, n_in, v);
      } else {
#pragma unroll
        for (int i = 0; i < 32; ++i) v[i] = 0.0f;
      }
      uint4* dst = reinterpret_cast<uint4*>(ws + tid * kLdS);
#pragma unroll
      for (int i = 0; i < 4; ++i)
        dst[i] = make_uint4(pack_bf16(v[8 * i], v[8 * i + 1]), pack_bf16(v[8 * i + 2], v[8 * i + 3]),
                            pack_bf16(v[8 * i + 4], v[8 * i + 5]), pack_bf16(v[8 * i + 6], v[8 * i + 7]));
    } else {
      // 64 tokens x 8 groups of 4, four per staging thread.
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const int j = tid - kBM + kBM * u, tok = j / 8, part = j % 8;
        float4 a = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (tok < nr) a = load_x4(x + (r0 + tok) * n_in, gi * kBK + part * 4, n_in, vec);
        *reinterpret_cast<uint2*>(xs + tok * kLdS + part * 4) = make_uint2(pack_bf16(a.x, a.y), pack_bf16(a.z, a.w));
      }
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      FragA a[2];
      FragB b[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], ws + (wm * 32 + i * 16) * kLdS + kk, kLdS);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], xs + (wn * 32 + j * 16) * kLdS + kk, kLdS);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

  // out[t][o] (the o x t fragments stored column-major), then written row by row.
  auto* out = reinterpret_cast<float*>(smem);
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(out + (wn * 32 + j * 16) * kLdOut + wm * 32 + i * 16, acc[i][j], kLdOut,
                              wmma::mem_col_major);
  __syncthreads();
  for (int idx = tid; idx < kBN * kBM; idx += kBThreads) {
    const int tok = idx / kBM, o = idx % kBM;
    if (tok < nr && o0 + o < n_out) y[(r0 + tok) * n_out + o0 + o] = out[tok * kLdOut + o];
  }
}

// ---------------- f32 (exact) ----------------
constexpr int kFM = 64, kFN = kGemmTileRows, kFK = 32, kFThreads = 256;
constexpr int kLdF = kFM + 4;

template <TensorType T>
__global__ void __launch_bounds__(kFThreads)
    gemm_f32_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_in, int64_t n_out,
                    const float* __restrict__ x, float* __restrict__ y, int64_t n_rows, Grouping g) {
  __shared__ __align__(16) float ws[kFK][kLdF];  // [k][o]
  __shared__ __align__(16) float xs[kFK][kLdF];  // [k][token]
  int64_t r0;
  int nr;
  size_t w_off;
  if (!tile_of(g, blockIdx.y, n_rows, kFN, r0, nr, w_off)) return;
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;  // outputs tx*4.., tokens ty*4..
  const int64_t o0 = static_cast<int64_t>(blockIdx.x) * kFM;
  float acc[4][4] = {};
  const int64_t n_groups = (n_in + kFK - 1) / kFK;
  for (int64_t gi = 0; gi < n_groups; ++gi) {
    if (tid < kFM) {
      const int64_t o = o0 + tid;
      float v[32];
      if (o < n_out) {
        load_group<T>(w + w_off + o * row_bytes, gi, n_in, v);
      } else {
#pragma unroll
        for (int i = 0; i < 32; ++i) v[i] = 0.0f;
      }
#pragma unroll
      for (int i = 0; i < 32; ++i) ws[i][tid] = v[i];
    } else {
      for (int j = tid - kFM; j < kFN * kFK; j += kFThreads - kFM) {
        const int tok = j / kFK, kk = j % kFK;
        const int64_t k = gi * kFK + kk;
        xs[kk][tok] = tok < nr && k < n_in ? __ldg(x + (r0 + tok) * n_in + k) : 0.0f;
      }
    }
    __syncthreads();
#pragma unroll 8
    for (int k = 0; k < kFK; ++k) {
      const float4 a = *reinterpret_cast<const float4*>(&ws[k][tx * 4]);
      const float4 b = *reinterpret_cast<const float4*>(&xs[k][ty * 4]);
      const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int tok = ty * 4 + j;
    if (tok >= nr) continue;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t o = o0 + tx * 4 + i;
      if (o < n_out) y[(r0 + tok) * n_out + o] = acc[i][j];
    }
  }
}

}  // namespace

void init_gemm_kernels() {}

void gemm(const DeviceWeight& w, const float* x, float* y, int64_t n_rows, bool bf16, const Grouping& g,
          cudaStream_t stream) {
  if (n_rows == 0) return;
  const unsigned gy = g.tiles ? static_cast<unsigned>(g.max_tiles) : grid_for(n_rows, kGemmTileRows);
  if (gy == 0) return;
  dispatch_type(w.type, [&]<TensorType T>() {
    if (bf16) {
      const bool vec = w.n_in % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
      gemm_bf16_kernel<T><<<dim3(grid_for(w.n_out, kBM), gy), kBThreads, 0, stream>>>(w.data, w.row_bytes, w.n_in,
                                                                                     w.n_out, x, y, n_rows, g, vec);
    } else {
      gemm_f32_kernel<T><<<dim3(grid_for(w.n_out, kFM), gy), kFThreads, 0, stream>>>(w.data, w.row_bytes, w.n_in,
                                                                                    w.n_out, x, y, n_rows, g);
    }
  });
  check_launch(bf16 ? "gemm (bf16) launch" : "gemm (f32) launch");
}

}  // namespace scout::cuda
