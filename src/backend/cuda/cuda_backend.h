// The CUDA backend (one per GPU): backend::Backend on device memory, every op
// a kernel on the backend's own stream. Activations, routing, the KV cache
// and sampling's top k stay on the GPU; only token ids and positions go up
// and logits (or their top k) come down.
//
// Passes: begin_pass() copies the pass's KV tables (segments, per-layer
// tables, block ids, each row's segment) into grow-only device buffers and
// rewrites a small header at a fixed device address that points at them and
// at the KV pool's block table (kernels/cuda/device_types.h PassDev). Kernels
// read lengths from there, never from launch arguments, and launch grids
// depend only on shapes, so run_pass() can record a decode step (non-zero
// key) as a CUDA graph once and replay it while the context grows. An op
// that cannot be recorded (weights left in host memory, a download, scratch
// that has to grow) throws CaptureAbort inside the recording: run_pass()
// drops it and runs the ops eagerly (and, but for scratch growth, never tries
// that key again).
//
// Split in two files: cuda_backend.cpp (memory, passes, recording, the
// elementwise ops) and cuda_ops.cpp (matmul, the experts, the KV cache and
// attention, top k, and the host fallbacks).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/device_memory.h"
#include "kernels/cuda/cuda_kernels.h"

namespace scout::backend::cuda {

// Thrown by an op inside a recording that cannot be recorded.
struct CaptureAbort {
  bool retry;       // worth recording again later (scratch grew)
  const char* why;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(const ComputeOptions& o, int device);
  ~CudaBackend() override;

  std::string name() const override { return "cuda"; }
  void set_compute_options(const ComputeOptions& o) override;

  Buffer alloc(DType dtype, int64_t rows, int64_t cols) override;
  void upload(const Tensor& dst, const void* src) override;
  void download(void* dst, const Tensor& src) override;
  void synchronize() override;
  Buffer place_weight(Weight& w, bool keep_on_host) override;
  Buffer place_constant(DType dtype, const void* host, int64_t rows, int64_t cols) override;
  std::unique_ptr<KvPool> make_kv_pool(const KvLayout& layout, const KvStorage& storage) override;
  void run_pass(uint64_t key, const std::function<void()>& ops) override;
  void begin_pass(const KvPass& kv) override;

  void matmul(const Weight& w, const Tensor& x, const Tensor& y) override;
  void embed(const Weight& w, const Tensor& ids, const Tensor& out) override;
  void gather_rows(const Tensor& src, const Tensor& ids, const Tensor& out) override;
  void rmsnorm(const Tensor& x, const Tensor& weight, const Tensor& out, float eps) override;
  void rope_table(const Tensor& pos, const Tensor& theta, const Tensor& out) override;
  void rope(const Tensor& x, const Tensor& table, int head_dim) override;
  void attn_temperature(const Tensor& pos, double floor_scale, double scale, const Tensor& out) override;
  void scale_rows(const Tensor& x, const Tensor& factor) override;
  void add(const Tensor& y, const Tensor& x) override;
  void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) override;
  void fill_zero(const Tensor& x) override;
  void route(const Tensor& logits, Gating gating, const Tensor& experts, const Tensor& weights) override;
  void moe_ffn(const ExpertWeights& w, const Tensor& experts, const Tensor& weights, RouteWeighting weighting,
               const Tensor& x, const Tensor& out) override;
  void kv_write(const KvPass& kv, int layer, const Tensor& k, const Tensor& v) override;
  void attention(const KvPass& kv, int layer, const Tensor& q, const AttentionParams& p, const Tensor& out) override;
  void top_k(const Tensor& x, const Tensor& ids, const Tensor& values) override;
  // The vision encoder's ops: on the host (cpu_) until they have kernels.
  void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out, float eps) override;
  void add_row(const Tensor& y, const Tensor& row) override;
  void gelu(const Tensor& x, const Tensor& out) override;
  void attention_dense(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p, int64_t seq_len,
                       const Tensor& out) override;

  // Recorded passes held (for tests).
  size_t recorded_passes() const { return graphs_.size(); }

 protected:
  void free(void* data) override;

 private:
  // --- cuda_backend.cpp ---
  // Waits for the stream, then raises what the kernels reported (std::out_of_range).
  void sync_and_check(const char* what);
  // The ops' scratch arena, at least `bytes`; grows only outside recordings.
  void* scratch(size_t bytes);
  // An op that must wait for the GPU: not while recording.
  void need_host(const char* op) const;
  void clear_graphs();
  void upload_bytes(void* dst, const void* src, size_t bytes);
  void use_device() const { cudaSetDevice(device_); }

  // --- cuda_ops.cpp ---
  scout::cuda::DeviceWeight device_weight(const Weight& w, int64_t n_out) const;
  // y = W x for `rows` activation rows by the GEMV (rows <= 8 per tile),
  // quantizing x into act (act_q8_bytes) first on the 8-bit path.
  void gemv_rows(const scout::cuda::DeviceWeight& w, const float* x, float* y, int64_t rows,
                 const scout::cuda::Grouping& g, void* act);
  bool q8_path(TensorType t) const;
  void check_pass(const KvPass& kv, int layer, int64_t rows, const char* op) const;
  // The CPU backend's op on copies of the tensors (weights left in host memory).
  void host_matmul(const Weight& w, const Tensor& x, const Tensor& y);
  void host_moe_ffn(const ExpertWeights& w, const Tensor& experts, const Tensor& weights, RouteWeighting weighting,
                    const Tensor& x, const Tensor& out);

  int device_ = 0;
  int n_sm_ = 1;
  cudaStream_t stream_ = nullptr;
  ComputeOptions opts_;
  bool exact_ = false;
  std::unique_ptr<Backend> cpu_;  // weights left in host memory are multiplied here
  size_t placed_bytes_ = 0;

  scout::cuda::ErrorState* err_dev_ = nullptr;
  scout::cuda::ErrorState* err_host_ = nullptr;  // pinned

  // The pass: a header at a fixed address, the tables it points to, their staging.
  scout::cuda::PassDev* pass_dev_ = nullptr;
  DeviceBuffer pass_data_;
  PinnedBuffer pass_staging_;
  cudaEvent_t pass_copied_ = nullptr;
  struct PassShape {
    const KvPool* pool = nullptr;
    int64_t n_rows = -1;
    size_t n_segs = 0;
    int n_layer = 0;
  } pass_;

  PinnedBuffer upload_ring_;  // small uploads; reused from the start after each wait
  size_t upload_at_ = 0;
  PinnedBuffer download_staging_;
  DeviceBuffer scratch_;

  // Recorded passes by (key, exact), least recently used first.
  using GraphKey = std::pair<uint64_t, bool>;
  std::list<std::pair<GraphKey, cudaGraphExec_t>> lru_;
  std::map<GraphKey, std::list<std::pair<GraphKey, cudaGraphExec_t>>::iterator> graphs_;
  std::set<GraphKey> unrecordable_;
  bool capturing_ = false;
  std::vector<void*> deferred_frees_;
};

}  // namespace scout::backend::cuda
