// The CUDA kernels, as host functions that launch them. Every pointer is a
// device pointer; every call is asynchronous on `stream` (errors surface at
// the next synchronisation, or from cuda_check). Activations are f32,
// row-major [n_rows][n], as in src/runtime/backend.h; weights are rows of
// n_in elements in their stored ggml type, decoded in registers by
// block_decode.cuh.
//
// Plain C++ (no CUDA syntax), so the backend (src/runtime/cuda_backend.cpp)
// is compiled by the host compiler.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "tensor/types.h"

namespace scout::cuda {

// Throws std::runtime_error naming `what` and the CUDA error unless ok.
void cuda_check(cudaError_t err, const char* what);

// Whether the kernels read weights of this type (F32, F16, BF16, Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS).
bool supports_type(TensorType t);

// One quantized weight matrix: n_out rows of row_bytes, each n_in elements.
struct DeviceWeight {
  TensorType type = TensorType::F32;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  int64_t n_in = 0;   // a multiple of 32 (checked by the backend)
  int64_t n_out = 0;
};

// Batches up to this many rows go through the GEMV kernel (generation,
// parallel decoding); larger ones through the tensor-core GEMM.
constexpr int kGemvMaxRows = 8;

// y[t][o] = sum_i W[o][i] x[t][i], t < n_rows <= kGemvMaxRows: one warp per
// weight row, each lane 32 elements at a time decoded to f32 in registers and
// applied to every activation row (f32 FMA; the exact path).
void gemv(const DeviceWeight& w, const float* x, float* y, int n_rows, cudaStream_t stream);

// The same for any n_rows on tensor cores: 64x64 tiles of weights (decoded)
// and activations staged in shared memory, multiplied as TF32 with f32
// accumulation (10-bit mantissas in, about the error of the CPU path's 8-bit
// activations).
void gemm_tf32(const DeviceWeight& w, const float* x, float* y, int64_t n_rows, cudaStream_t stream);

// out[t] = row ids[t] of w, decoded: the embedding lookup. Any n_in for float
// types, whole blocks for quantized ones.
void get_rows(const DeviceWeight& w, const int32_t* ids, int64_t n, float* out, cudaStream_t stream);

// The elementwise operations, with the meaning of runtime::Backend's.
void rmsnorm(const float* x, const float* weight, float* out, int64_t n_rows, int64_t n, float eps, cudaStream_t stream);
void rope(float* x, int64_t n_rows, int n_heads, int head_dim, int rope_dim, const float* cos_sin, cudaStream_t stream);
void scale_rows(float* x, const float* factor, int64_t n_rows, int64_t n, cudaStream_t stream);
void add(float* y, const float* x, int64_t n, cudaStream_t stream);
void swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream);
void softmax(float* x, int64_t n_rows, int64_t n, cudaStream_t stream);

// Causal (optionally chunked) grouped-query attention over KV blocks laid out
// as the host cache lays them (runtime/kv_view.h), copied to the device back
// to back: block b of the copy starts at kv + b * block_elems and holds the
// positions [first_pos + b * block_size, ...).
struct AttentionArgs {
  int n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0;
  float scale = 1.0f;
  int64_t chunk_size = 0;   // 0: global attention
  int64_t block_size = 0;   // positions per KV block
  int64_t first_pos = 0;    // position of slot 0 of the first block copied
  int64_t n_pos = 0;        // positions present, from first_pos
  int64_t max_visible = 0;  // the most keys one query sees (sizes the score scratch)
  bool kv_f16 = true;       // elements are f16 (else f32)
};
// q [n_rows][n_head][head_dim_k], pos [n_rows], out [n_rows][n_head][head_dim_v];
// scores: scratch of n_rows * n_head * max_visible floats.
void attention(const AttentionArgs& a, const float* q, const int32_t* pos, int64_t n_rows, const void* kv,
               float* scores, float* out, cudaStream_t stream);

}  // namespace scout::cuda
