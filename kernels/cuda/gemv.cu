// Generation-time matmul in f32 (the exact path, and every float weight type):
// a few activation rows against every weight row. Reading the weights once is
// the whole cost, so each warp keeps several loads in flight.
//
// One warp per weight row. Float rows (F32, F16, BF16) are read 16 bytes per
// lane per step, consecutive lanes on consecutive 16 bytes; quantized rows
// are decoded 32 elements at a time (block_decode.cuh), lane l taking groups
// l, l+32, ... Each decoded value is applied to every activation row (up to
// kGemvMaxRows), which stay in L1/L2. Grouped (moe_ffn): blockIdx.y is the
// tile, whose expert and rows come from device memory.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/block_decode.cuh"
#include "kernels/cuda/internal.cuh"
#include "kernels/cuda/type_dispatch.cuh"

namespace scout::cuda {

namespace {

constexpr int kWarps = 4;

// Element i of a float row.
template <TensorType T>
__device__ __forceinline__ float float_elem(const uint8_t* row, int64_t i) {
  if constexpr (T == TensorType::F32) {
    return __ldg(reinterpret_cast<const float*>(row) + i);
  } else if constexpr (T == TensorType::F16) {
    return __half2float(__ushort_as_half(__ldg(reinterpret_cast<const unsigned short*>(row) + i)));
  } else {
    return __uint_as_float(static_cast<uint32_t>(__ldg(reinterpret_cast<const unsigned short*>(row) + i)) << 16);
  }
}

// 16 bytes of a float row as f32: 4 (F32) or 8 (F16, BF16) values.
template <TensorType T>
__device__ __forceinline__ void float_vec(uint4 raw, float* v) {
  if constexpr (T == TensorType::F32) {
    v[0] = __uint_as_float(raw.x), v[1] = __uint_as_float(raw.y), v[2] = __uint_as_float(raw.z),
    v[3] = __uint_as_float(raw.w);
  } else {
    const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      if constexpr (T == TensorType::F16) {
        const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&w[i]));
        v[2 * i] = f.x, v[2 * i + 1] = f.y;
      } else {
        v[2 * i] = __uint_as_float(w[i] << 16), v[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u);
      }
    }
  }
}

template <int NR>
__device__ __forceinline__ void store_rows(const float (&acc)[NR], int lane, int nr, float* y, int64_t r0, int64_t n_out,
                                           int64_t r) {
#pragma unroll
  for (int t = 0; t < NR; ++t) {
    const float s = warp_sum(acc[t]);
    if (lane == 0 && t < nr) y[(r0 + t) * n_out + r] = s;
  }
}

// Float weights. vec: rows and activations allow 16-byte loads.
template <TensorType T, int NR>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_float_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_in, int64_t n_out,
                      const float* __restrict__ x, float* __restrict__ y, int n_rows, Grouping g, bool vec) {
  const int lane = threadIdx.x % 32;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  int64_t r0;
  int nr;
  size_t w_off;
  if (r >= n_out || !tile_of(g, blockIdx.y, n_rows, kGemvMaxRows, r0, nr, w_off)) return;
  const uint8_t* row = w + w_off + r * row_bytes;
  const float* xr = x + r0 * n_in;
  float acc[NR];
#pragma unroll
  for (int t = 0; t < NR; ++t) acc[t] = 0.0f;

  if (vec) {
    constexpr int E = T == TensorType::F32 ? 4 : 8;  // values per 16 bytes
    constexpr int ES = T == TensorType::F32 ? 4 : 2;
#pragma unroll 2
    for (int64_t i = static_cast<int64_t>(lane) * E; i < n_in; i += 32 * E) {
      float v[E];
      float_vec<T>(__ldg(reinterpret_cast<const uint4*>(row + i * ES)), v);
#pragma unroll
      for (int t = 0; t < NR; ++t) {
        if (t >= nr) break;
        const float4* xp = reinterpret_cast<const float4*>(xr + t * n_in + i);
        float s = acc[t];
#pragma unroll
        for (int j = 0; j < E / 4; ++j) {
          const float4 a = __ldg(xp + j);
          s += v[4 * j] * a.x + v[4 * j + 1] * a.y + v[4 * j + 2] * a.z + v[4 * j + 3] * a.w;
        }
        acc[t] = s;
      }
    }
  } else {
    for (int64_t i = lane; i < n_in; i += 32) {
      const float v = float_elem<T>(row, i);
#pragma unroll
      for (int t = 0; t < NR; ++t)
        if (t < nr) acc[t] += v * __ldg(xr + t * n_in + i);
    }
  }
  store_rows(acc, lane, nr, y, r0, n_out, r);
}

// Quantized weights decoded to f32, 32 elements per lane per step.
template <TensorType T, int NR>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_decode_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_in, int64_t n_out,
                       const float* __restrict__ x, float* __restrict__ y, int n_rows, Grouping g) {
  using D = BlockDecoder<T>;
  const int lane = threadIdx.x % 32;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  int64_t r0;
  int nr;
  size_t w_off;
  if (r >= n_out || !tile_of(g, blockIdx.y, n_rows, kGemvMaxRows, r0, nr, w_off)) return;
  const uint8_t* row = w + w_off + r * row_bytes;
  const float* xr = x + r0 * n_in;
  const int64_t n_groups = n_in / 32;
  float acc[NR];
#pragma unroll
  for (int t = 0; t < NR; ++t) acc[t] = 0.0f;
  for (int64_t gi = lane; gi < n_groups; gi += 32) {
    float v[32];
    D::group(row + (gi / D::kGroups) * D::kBytes, static_cast<int>(gi % D::kGroups), v);
#pragma unroll
    for (int t = 0; t < NR; ++t) {
      if (t >= nr) break;
      const float4* xp = reinterpret_cast<const float4*>(xr + t * n_in + gi * 32);
      float s = 0.0f;
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float4 a = __ldg(xp + i);
        s += v[4 * i] * a.x + v[4 * i + 1] * a.y + v[4 * i + 2] * a.z + v[4 * i + 3] * a.w;
      }
      acc[t] += s;
    }
  }
  store_rows(acc, lane, nr, y, r0, n_out, r);
}

template <class F>
void with_rows(int n_rows, F&& f) {
  // One row (plain generation) gets its own instantiation: no unused accumulators.
  if (n_rows == 1)
    f.template operator()<1>();
  else
    f.template operator()<kGemvMaxRows>();
}

}  // namespace

void gemv_f32(const DeviceWeight& w, const float* x, float* y, int n_rows, const Grouping& g, cudaStream_t stream) {
  if (n_rows < 1 || (!g.tiles && n_rows > kGemvMaxRows)) throw std::invalid_argument("gemv: rows out of range");
  const dim3 grid(grid_for(w.n_out, kWarps), g.tiles ? static_cast<unsigned>(g.max_tiles) : 1u);
  if (grid.y == 0) return;
  const int nr = g.tiles ? kGemvMaxRows : n_rows;
  dispatch_type(w.type, [&]<TensorType T>() {
    with_rows(nr, [&]<int NR>() {
      if constexpr (kFloatType<T>) {
        constexpr int E = T == TensorType::F32 ? 4 : 8;
        const bool vec = w.n_in % E == 0 && w.row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(w.data) % 16 == 0 &&
                         reinterpret_cast<uintptr_t>(x) % 16 == 0 && g.expert_stride % 16 == 0;
        gemv_float_kernel<T, NR><<<grid, kWarps * 32, 0, stream>>>(w.data, w.row_bytes, w.n_in, w.n_out, x, y, n_rows,
                                                                  g, vec);
      } else {
        gemv_decode_kernel<T, NR><<<grid, kWarps * 32, 0, stream>>>(w.data, w.row_bytes, w.n_in, w.n_out, x, y,
                                                                   n_rows, g);
      }
    });
  });
  check_launch("gemv_f32 launch");
}

}  // namespace scout::cuda
