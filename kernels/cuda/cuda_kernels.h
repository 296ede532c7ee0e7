// The CUDA kernels, as host functions that launch them. Every pointer is a
// device pointer; every call is asynchronous on `stream` and launches a grid
// that depends only on its shape arguments, never on values in device
// memory, so a sequence of calls can be captured in a CUDA graph and replayed
// while those values (the KV tables' lengths, the experts chosen) change.
// Activations are f32, row-major [n_rows][n] (backend/backend.h); weights are
// rows of n_in elements in their stored ggml type.
//
// Plain C++ (no CUDA syntax): the backend (src/backend/cuda/) is compiled by
// the host compiler.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/device_types.h"
#include "tensor/types.h"

namespace scout::cuda {

// Throws std::runtime_error naming `what` and the CUDA error unless ok.
void cuda_check(cudaError_t err, const char* what);

// Whether the kernels read weights of this type (F32, F16, BF16, Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS).
bool supports_type(TensorType t);
// Whether the GEMV has an 8-bit (dp4a) kernel for t: every quantized type above.
bool has_q8_gemv(TensorType t);

// Sets the kernels' shared-memory limits on the current device; once, before
// any launch or capture.
void init_kernels();

// One weight matrix: n_out rows of row_bytes, each n_in elements.
struct DeviceWeight {
  TensorType type = TensorType::F32;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  int64_t n_in = 0;
  int64_t n_out = 0;  // rows of one expert's matrix when grouped
};

// Rows grouped by expert (moe_ffn): tiles[i] for i < *n_tiles (read on the
// device), at most max_tiles of them (the grid); tile i multiplies activation
// rows [start, start + count) by the matrix at data + expert * expert_stride
// and writes the same rows of y. tiles == nullptr: one tile of every row.
struct Grouping {
  const RowTile* tiles = nullptr;
  const int32_t* n_tiles = nullptr;
  int64_t max_tiles = 0;
  size_t expert_stride = 0;
};

// Row counts up to this go through a GEMV (generation, parallel decoding), larger through a GEMM.
constexpr int kGemvMaxRows = 8;
// Rows per GEMM tile (a grouped GEMM's tiles hold at most this many).
constexpr int kGemmTileRows = 64;

// --- GEMV (n_rows <= kGemvMaxRows; tiles of at most that many rows) ---
// f32 arithmetic: float weights with 16-byte loads, quantized ones decoded
// (block_decode.cuh) - the exact path, equal to the CPU's up to summation order.
void gemv_f32(const DeviceWeight& w, const float* x, float* y, int n_rows, const Grouping& g, cudaStream_t stream);

// 8-bit activations (qdot.cuh's layout): int8 values [rows][n_in], per block
// a scale [rows][n_blocks] and sums (1 per 32-block, 16 per 256-block).
struct ActQ8 {
  int8_t* q = nullptr;
  float* d = nullptr;
  int32_t* sums = nullptr;
};
size_t act_q8_bytes(TensorType t, int64_t n_rows, int64_t n_in);
ActQ8 act_q8_layout(void* buf, TensorType t, int64_t n_rows, int64_t n_in);
void quantize_act(TensorType t, const float* x, int64_t n_rows, int64_t n_in, const ActQ8& a, cudaStream_t stream);
// Integer dot products (dp4a) of the weight blocks with quantized activations.
void gemv_q8(const DeviceWeight& w, const ActQ8& a, float* y, int n_rows, const Grouping& g, cudaStream_t stream);

// --- GEMM (any n_rows; tiles of at most kGemmTileRows rows) ---
// bf16: weights decoded and activations rounded to bf16 in shared memory,
// multiplied on tensor cores with f32 accumulation. Else f32 FMA (the exact path).
void gemm(const DeviceWeight& w, const float* x, float* y, int64_t n_rows, bool bf16, const Grouping& g,
          cudaStream_t stream);

// --- lookups ---
// out[t] = row ids[t] of w, decoded (the embedding). Ids out of [0, n_out) are
// reported in *err and clamped.
void get_rows(const DeviceWeight& w, const int32_t* ids, int64_t n, float* out, ErrorState* err, cudaStream_t stream);
// out[t] = src row ids[t] (row_bytes each, a multiple of 4).
void gather_rows(const void* src, int64_t src_rows, size_t row_bytes, const int32_t* ids, int64_t n, void* out,
                 ErrorState* err, cudaStream_t stream);

// --- elementwise, with backend::Backend's meaning ---
void rmsnorm(const float* x, const float* weight, float* out, int64_t n_rows, int64_t n, float eps, cudaStream_t stream);
void rope_table(const int32_t* pos, const double* theta, int64_t n_rows, int64_t half, float* out, cudaStream_t stream);
void rope(float* x, const float* table, int64_t n_rows, int64_t cols, int head_dim, int half, cudaStream_t stream);
void attn_temperature(const int32_t* pos, int64_t n_rows, double floor_scale, double scale, float* out,
                      cudaStream_t stream);
void scale_rows(float* x, const float* factor, int64_t n_rows, int64_t n, cudaStream_t stream);
void add(float* y, const float* x, int64_t n, cudaStream_t stream);
void swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream);

// --- routing and sampling ---
void route(const float* logits, int64_t n_rows, int n_expert, int k, bool sigmoid, int32_t* experts, float* weights,
           cudaStream_t stream);
// The k largest per row (k <= kTopKMax); 0 bytes when the shape needs the host instead.
constexpr int kTopKMax = 256;
size_t top_k_scratch_bytes(int64_t n_rows, int64_t cols, int k);
void top_k(const float* x, int64_t n_rows, int64_t cols, int k, void* scratch, int32_t* ids, float* values,
           cudaStream_t stream);

// --- the routed experts (moe_ffn) ---
// Groups the n_pairs (token, slot) pairs by expert on the device: sorted[r] =
// the pair in sorted row r (experts ascending, tokens in order), pos[pair] = its
// row, tiles of at most tile_rows rows of one expert, *n_tiles of them (at most
// moe_max_tiles). scratch: n_pairs ints. Expert ids out of range: *err, clamped.
int64_t moe_max_tiles_for(int64_t n_pairs, int n_expert, int tile_rows);
void moe_group(const int32_t* experts, int64_t n_pairs, int n_expert, int tile_rows, int32_t* scratch, int32_t* sorted,
               int32_t* pos, RowTile* tiles, int32_t* n_tiles, ErrorState* err, cudaStream_t stream);
// xin[r] = x[token of sorted[r]] times its weight (weights == nullptr: not scaled).
void moe_gather(const float* x, int64_t d, const int32_t* sorted, int k, const float* weights, int64_t n_pairs,
                float* xin, cudaStream_t stream);
// out[t] += the expert outputs of t's pairs (rows pos[t*k + j] of ys), in
// ascending expert order, each times its weight (weights == nullptr: not scaled).
void moe_combine(const float* ys, int64_t d, const int32_t* experts, const float* weights, const int32_t* pos,
                 int64_t n_tokens, int k, float* out, cudaStream_t stream);

// --- the KV cache and attention, through the pass tables at `pass` ---
struct AttnArgs {
  int n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0;
  float scale = 1.0f;
  int64_t chunk = 0;
};
// The largest head dimensions the attention kernels take (dims must also be multiples of 4).
constexpr int kMaxHeadDim = 256;
void kv_write(const PassDev* pass, int layer, const KvGeom& g, const float* k, const float* v, int64_t n_rows,
              cudaStream_t stream);
// Decode: one block per (row, kv head, head chunk, split of the keys); a
// second kernel merges the splits. n_splits is fixed for a shape (a recorded
// step keeps it while its context grows); each split's range of keys is
// worked out on the device.
int attention_splits(int64_t n_rows, int n_head, int n_head_kv, int n_sm);
size_t attention_decode_scratch(int64_t n_rows, int n_head, int head_dim_v, int n_splits);
void attention_decode(const PassDev* pass, int layer, const KvGeom& g, const AttnArgs& a, const float* q,
                      int64_t n_rows, int n_splits, float* scratch, float* out, cudaStream_t stream);
// Prompts: flash attention over tiles of 32 (token, head) query rows of one
// kv head, key tiles in shared memory, online softmax, the causal and chunked masks.
void attention_prefill(const PassDev* pass, int layer, const KvGeom& g, const AttnArgs& a, const float* q,
                       int64_t n_rows, float* out, cudaStream_t stream);

}  // namespace scout::cuda
