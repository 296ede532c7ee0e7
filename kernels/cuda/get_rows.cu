// Row lookups: the embedding (weight rows decoded to f32) and gather_rows
// (rows of an activation copied). Ids out of range are reported through the
// ErrorState and clamped, so nothing is read out of bounds; the backend
// raises the error at the next download or synchronize.
#include "kernels/cuda/block_decode.cuh"
#include "kernels/cuda/internal.cuh"
#include "kernels/cuda/type_dispatch.cuh"

namespace scout::cuda {

namespace {

// One block per looked-up row; each thread decodes whole 32-element groups.
template <TensorType T>
__global__ void get_rows_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_in, int64_t n_out,
                                const int32_t* __restrict__ ids, float* __restrict__ out, ErrorState* err) {
  using D = BlockDecoder<T>;
  const int32_t id = checked_id(ids[blockIdx.x], static_cast<int32_t>(n_out), kErrEmbed, err);
  const uint8_t* row = w + static_cast<int64_t>(id) * row_bytes;
  float* dst = out + static_cast<int64_t>(blockIdx.x) * n_in;
  for (int64_t g = threadIdx.x; g < n_in / 32; g += blockDim.x) {
    float v[32];
    D::group(row + (g / D::kGroups) * D::kBytes, static_cast<int>(g % D::kGroups), v);
#pragma unroll
    for (int i = 0; i < 32; ++i) dst[g * 32 + i] = v[i];
  }
}

// Float tables whose rows are not a multiple of 32 (tiny models): one element per thread.
template <TensorType T>
__device__ float float_element(const uint8_t* row, int64_t i) {
  if constexpr (T == TensorType::F32) {
    return bits_to_float(load_u32(row + 4 * i));
  } else if constexpr (T == TensorType::F16) {
    return fp16_to_f32(load_u16(row + 2 * i));
  } else {
    return bf16_to_f32(load_u16(row + 2 * i));
  }
}

template <TensorType T>
__global__ void get_float_rows_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_in, int64_t n_out,
                                      const int32_t* __restrict__ ids, float* __restrict__ out, ErrorState* err) {
  const int32_t id = checked_id(ids[blockIdx.x], static_cast<int32_t>(n_out), kErrEmbed, err);
  const uint8_t* row = w + static_cast<int64_t>(id) * row_bytes;
  for (int64_t i = threadIdx.x; i < n_in; i += blockDim.x)
    out[static_cast<int64_t>(blockIdx.x) * n_in + i] = float_element<T>(row, i);
}

__global__ void gather_rows_kernel(const uint32_t* __restrict__ src, int64_t src_rows, int64_t words,
                                   const int32_t* __restrict__ ids, uint32_t* __restrict__ out, ErrorState* err) {
  const int32_t id = checked_id(ids[blockIdx.x], static_cast<int32_t>(src_rows), kErrGatherRows, err);
  for (int64_t i = threadIdx.x; i < words; i += blockDim.x) out[blockIdx.x * words + i] = src[id * words + i];
}

}  // namespace

void get_rows(const DeviceWeight& w, const int32_t* ids, int64_t n, float* out, ErrorState* err, cudaStream_t stream) {
  if (n == 0) return;
  const unsigned grid = static_cast<unsigned>(n);
  dispatch_type(w.type, [&]<TensorType T>() {
    if (w.n_in % BlockDecoder<T>::kElems == 0) {
      get_rows_kernel<T><<<grid, 128, 0, stream>>>(w.data, w.row_bytes, w.n_in, w.n_out, ids, out, err);
    } else if constexpr (kFloatType<T>) {
      get_float_rows_kernel<T><<<grid, 128, 0, stream>>>(w.data, w.row_bytes, w.n_in, w.n_out, ids, out, err);
    } else {
      throw std::invalid_argument("get_rows: a quantized row that is not whole blocks");
    }
  });
  check_launch("get_rows launch");
}

void gather_rows(const void* src, int64_t src_rows, size_t row_bytes, const int32_t* ids, int64_t n, void* out,
                 ErrorState* err, cudaStream_t stream) {
  if (n == 0 || row_bytes == 0) return;
  gather_rows_kernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(static_cast<const uint32_t*>(src), src_rows,
                                                                   static_cast<int64_t>(row_bytes / 4), ids,
                                                                   static_cast<uint32_t*>(out), err);
  check_launch("gather_rows launch");
}

}  // namespace scout::cuda
