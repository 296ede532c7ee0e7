// The operations a transformer forward pass needs, over f32 activations held
// as row-major [n_rows][n] arrays. A model is written against this interface
// only; the CPU implementation is cpu_backend.cpp.
//
// Conventions: a "row" is one token's vector; weights are WeightViews (any
// stored type, dequantized inside); in-place calls (out == x) are allowed
// wherever the comment says so.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/kv_view.h"
#include "runtime/weight.h"

namespace scout::runtime {

struct AttentionParams {
  int n_head = 0;
  int n_head_kv = 0;          // grouped-query: head h reads kv head h / (n_head / n_head_kv)
  int head_dim_k = 0;
  int head_dim_v = 0;
  float scale = 1.0f;         // applied to q.k, usually 1/sqrt(head_dim_k)
  int64_t chunk_size = 0;     // > 0: a query at p sees keys in [p - p % chunk, p]; 0: [0, p]

  // The first position a query at `pos` may see.
  int64_t first_visible(int64_t pos) const { return chunk_size > 0 ? pos - pos % chunk_size : 0; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // y[t][o] = sum_i W[o][i] * x[t][i] for t < n_rows. x is [n_rows][W.n_in],
  // y is [n_rows][W.n_out]; y must not alias x.
  virtual void matmul(const WeightView& w, const float* x, float* y, int64_t n_rows) = 0;

  // out[t] = row ids[t] of w, dequantized: the embedding lookup. out is [n][w.n_in].
  virtual void get_rows(const WeightView& w, const int32_t* ids, int64_t n, float* out) = 0;

  // out = x / sqrt(mean(x^2) + eps) * weight, per row of n; weight may be null
  // (no scale: QK norm). out may equal x.
  virtual void rmsnorm(const float* x, const float* weight, float* out, int64_t n_rows, int64_t n, float eps) = 0;

  // Rotates consecutive pairs (x[2i], x[2i+1]), i < rope_dim/2, of every head
  // of every row in place. cos_sin is [n_rows][rope_dim/2][2] (cos, sin of the
  // angle p * theta_i for that row's position p); dims past rope_dim are left alone.
  virtual void rope(float* x, int64_t n_rows, int n_heads, int head_dim, int rope_dim, const float* cos_sin) = 0;

  // x[t][*] *= factor[t], in place.
  virtual void scale_rows(float* x, const float* factor, int64_t n_rows, int64_t n) = 0;

  // y += x over n elements (the residual connection).
  virtual void add(float* y, const float* x, int64_t n) = 0;

  // out = silu(gate) * up elementwise; out may equal gate or up.
  virtual void swiglu(const float* gate, const float* up, float* out, int64_t n) = 0;

  // In-place softmax of each row of n.
  virtual void softmax(float* x, int64_t n_rows, int64_t n) = 0;

  // Causal (optionally chunked) grouped-query attention of n_rows queries at
  // positions pos[t] over the cached keys/values, which must already hold every
  // position each query may see (its own included). q is [n_rows][n_head][head_dim_k],
  // out is [n_rows][n_head][head_dim_v].
  virtual void attention(const float* q, const int32_t* pos, int64_t n_rows, const KvLayerView& kv,
                         const AttentionParams& p, float* out) = 0;
};

// n_threads <= 0: OpenMP's default (all cores, or OMP_NUM_THREADS).
// quantize_activations: see SessionOptions.
std::unique_ptr<Backend> make_cpu_backend(int n_threads = 0, bool quantize_activations = true);

}  // namespace scout::runtime
