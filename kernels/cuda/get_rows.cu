// The embedding lookup: rows of a weight matrix decoded to f32.
#include "kernels/cuda/block_decode.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/type_dispatch.cuh"

namespace scout::cuda {

namespace {

// One block per looked-up row; each thread decodes whole 32-element groups.
template <TensorType T>
__global__ void get_rows_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_in,
                                const int32_t* __restrict__ ids, float* __restrict__ out) {
  using D = BlockDecoder<T>;
  const uint8_t* row = w + static_cast<int64_t>(ids[blockIdx.x]) * row_bytes;
  float* dst = out + static_cast<int64_t>(blockIdx.x) * n_in;
  for (int64_t g = threadIdx.x; g < n_in / 32; g += blockDim.x) {
    float v[32];
    D::group(row + (g / D::kGroups) * D::kBytes, static_cast<int>(g % D::kGroups), v);
#pragma unroll
    for (int i = 0; i < 32; ++i) dst[g * 32 + i] = v[i];
  }
}

// Float tables whose rows are not a multiple of 32 (tiny models): one element
// per thread.
template <TensorType T>
__device__ float float_element(const uint8_t* row, int64_t i) {
  if constexpr (T == TensorType::F32) {
    const uint8_t* p = row + 4 * i;
    return bits_to_float(p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24);
  } else if constexpr (T == TensorType::F16) {
    return fp16_to_f32(load_u16(row + 2 * i));
  } else {
    return bf16_to_f32(load_u16(row + 2 * i));
  }
}

template <TensorType T>
__global__ void get_float_rows_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_in,
                                      const int32_t* __restrict__ ids, float* __restrict__ out) {
  const uint8_t* row = w + static_cast<int64_t>(ids[blockIdx.x]) * row_bytes;
  for (int64_t i = threadIdx.x; i < n_in; i += blockDim.x)
    out[static_cast<int64_t>(blockIdx.x) * n_in + i] = float_element<T>(row, i);
}

}  // namespace

void get_rows(const DeviceWeight& w, const int32_t* ids, int64_t n, float* out, cudaStream_t stream) {
  if (n == 0) return;
  const unsigned grid = static_cast<unsigned>(n);
  dispatch_type(w.type, [&]<TensorType T>() {
    if (w.n_in % BlockDecoder<T>::kElems == 0) {
      get_rows_kernel<T><<<grid, 128, 0, stream>>>(w.data, w.row_bytes, w.n_in, ids, out);
    } else if constexpr (T == TensorType::F32 || T == TensorType::F16 || T == TensorType::BF16) {
      get_float_rows_kernel<T><<<grid, 128, 0, stream>>>(w.data, w.row_bytes, w.n_in, ids, out);
    } else {
      throw std::invalid_argument("get_rows: a quantized row that is not whole blocks");
    }
  });
  cuda_check(cudaGetLastError(), "get_rows launch");
}

}  // namespace scout::cuda
