// The CUDA backend: runtime::Backend's ops as kernels on one GPU.
//
// This first version keeps the Backend contract as it is, with activations in
// host memory: each op copies its inputs to the device, runs its kernel and
// copies its result back. Weights (and norm vectors) are uploaded once, on
// first use. The KV cache stays where the CPU keeps it; attention uploads the
// blocks it reads. So it is correct, and it exercises every kernel the fast
// path will use, but it pays a PCIe round trip per op: the device-resident
// forward pass (activations and KV cache on the GPU, the step captured in a
// CUDA graph) is the next step of the CUDA issue.
//
// What the kernels cannot take (a weight type without a GPU decoder, rows
// that are not whole 32-element groups) runs on an internal CPU backend.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "kernels/cuda/cuda_kernels.h"
#include "runtime/cuda/device_memory.h"
#include "runtime/device.h"
#include "tensor/types.h"

namespace scout::runtime {

namespace {

namespace k = scout::cuda;
using k::cuda_check;

// Attention's score scratch is capped at this size; longer batches are split.
constexpr size_t kMaxScoreBytes = size_t{256} << 20;

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, int n_threads, bool quantize_activations)
      : exact_(!quantize_activations), cpu_(make_cpu_backend(n_threads, quantize_activations)) {
    cuda_check(cudaSetDevice(device), "cudaSetDevice");
    cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    cudaDeviceProp prop{};
    cuda_check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    spdlog::info("CUDA device {}: {}, sm_{}{}, {:.1f} GiB", device, prop.name, prop.major, prop.minor,
                 prop.totalGlobalMem / 1073741824.0);
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "cuda"; }

  void matmul(const WeightView& w, const float* x, float* y, int64_t n_rows) override {
    if (!on_gpu(w)) return cpu_->matmul(w, x, y, n_rows);
    const k::DeviceWeight dw = device_weight(w);
    const float* dx = upload(x_, x, n_rows * w.n_in);
    float* dy = y_.reserve_n<float>(static_cast<size_t>(n_rows * w.n_out));
    if (exact_ || n_rows <= k::kGemvMaxRows) {
      for (int64_t t = 0; t < n_rows; t += k::kGemvMaxRows)
        k::gemv(dw, dx + t * w.n_in, dy + t * w.n_out, static_cast<int>(std::min<int64_t>(k::kGemvMaxRows, n_rows - t)),
                stream_);
    } else {
      k::gemm_tf32(dw, dx, dy, n_rows, stream_);
    }
    download(y, dy, n_rows * w.n_out);
  }

  void get_rows(const WeightView& w, const int32_t* ids, int64_t n, float* out) override {
    const bool float_rows = w.type == TensorType::F32 || w.type == TensorType::F16 || w.type == TensorType::BF16;
    if (!k::supports_type(w.type) || (!float_rows && w.n_in % 32 != 0)) return cpu_->get_rows(w, ids, n, out);
    for (int64_t t = 0; t < n; ++t)
      if (ids[t] < 0 || ids[t] >= w.n_out) throw std::out_of_range("get_rows: row id out of range");
    const k::DeviceWeight dw = device_weight(w);
    int32_t* dids = ids_.reserve_n<int32_t>(static_cast<size_t>(n));
    cuda_check(cudaMemcpyAsync(dids, ids, n * sizeof(int32_t), cudaMemcpyHostToDevice, stream_), "upload ids");
    float* dout = y_.reserve_n<float>(static_cast<size_t>(n * w.n_in));
    k::get_rows(dw, dids, n, dout, stream_);
    download(out, dout, n * w.n_in);
  }

  void rmsnorm(const float* x, const float* weight, float* out, int64_t n_rows, int64_t n, float eps) override {
    const float* dw = weight ? static_cast<const float*>(weights_.get(weight, n * sizeof(float), "a norm", stream_))
                             : nullptr;
    float* dx = upload(x_, x, n_rows * n);
    k::rmsnorm(dx, dw, dx, n_rows, n, eps, stream_);
    download(out, dx, n_rows * n);
  }

  void rope(float* x, int64_t n_rows, int n_heads, int head_dim, int rope_dim, const float* cos_sin) override {
    float* dx = upload(x_, x, n_rows * n_heads * head_dim);
    const float* dcs = upload(aux_, cos_sin, n_rows * (rope_dim / 2) * 2);
    k::rope(dx, n_rows, n_heads, head_dim, rope_dim, dcs, stream_);
    download(x, dx, n_rows * n_heads * head_dim);
  }

  void scale_rows(float* x, const float* factor, int64_t n_rows, int64_t n) override {
    float* dx = upload(x_, x, n_rows * n);
    const float* df = upload(aux_, factor, n_rows);
    k::scale_rows(dx, df, n_rows, n, stream_);
    download(x, dx, n_rows * n);
  }

  void add(float* y, const float* x, int64_t n) override {
    float* dy = upload(y_, y, n);
    const float* dx = upload(x_, x, n);
    k::add(dy, dx, n, stream_);
    download(y, dy, n);
  }

  void swiglu(const float* gate, const float* up, float* out, int64_t n) override {
    float* dg = upload(x_, gate, n);
    const float* du = upload(aux_, up, n);
    k::swiglu(dg, du, dg, n, stream_);
    download(out, dg, n);
  }

  void softmax(float* x, int64_t n_rows, int64_t n) override {
    float* dx = upload(x_, x, n_rows * n);
    k::softmax(dx, n_rows, n, stream_);
    download(x, dx, n_rows * n);
  }

  void attention(const float* q, const int32_t* pos, int64_t n_rows, const KvLayerView& kv, const AttentionParams& p,
                 float* out) override;

 private:
  // Whether the GPU kernels take this weight (else the CPU backend does).
  bool on_gpu(const WeightView& w) const {
    if (k::supports_type(w.type) && w.n_in % 32 == 0) return true;
    spdlog::debug("cuda: {} ({} x {} {}) runs on the CPU", w.name, w.n_out, w.n_in, type_name(w.type));
    return false;
  }

  k::DeviceWeight device_weight(const WeightView& w) {
    k::DeviceWeight d;
    d.type = w.type;
    d.row_bytes = w.row_bytes;
    d.n_in = w.n_in;
    d.n_out = w.n_out;
    d.data = static_cast<const uint8_t*>(weights_.get(w.data, static_cast<size_t>(w.n_out) * w.row_bytes, w.name, stream_));
    return d;
  }

  template <class T>
  T* upload(cuda::DeviceBuffer& buf, const T* host, int64_t n) {
    T* dev = buf.reserve_n<T>(static_cast<size_t>(n));
    cuda_check(cudaMemcpyAsync(dev, host, n * sizeof(T), cudaMemcpyHostToDevice, stream_), "upload");
    return dev;
  }

  // Copies a result back and waits for it: the op is complete on return.
  template <class T>
  void download(T* host, const T* dev, int64_t n) {
    cuda_check(cudaMemcpyAsync(host, dev, n * sizeof(T), cudaMemcpyDeviceToHost, stream_), "download");
    cuda_check(cudaStreamSynchronize(stream_), "op");
  }

  bool exact_;
  std::unique_ptr<Backend> cpu_;
  cudaStream_t stream_ = nullptr;
  cuda::WeightCache weights_;
  cuda::DeviceBuffer x_, y_, aux_, ids_;        // one op's inputs and outputs
  cuda::DeviceBuffer kv_, scores_, pos_, out_;  // attention's
};

void CudaBackend::attention(const float* q, const int32_t* pos, int64_t n_rows, const KvLayerView& kv,
                            const AttentionParams& p, float* out) {
  // The positions any row may see, as whole KV blocks to upload.
  int64_t lo = INT64_MAX, hi = -1, max_visible = 0;
  for (int64_t t = 0; t < n_rows; ++t) {
    const int64_t a = std::max(p.first_visible(pos[t]), kv.base_pos), b = std::min<int64_t>(pos[t], kv.base_pos + kv.n_pos - 1);
    lo = std::min(lo, a);
    hi = std::max(hi, b);
    max_visible = std::max(max_visible, b - a + 1);
  }
  const int64_t bs = kv.block_size;
  const size_t es = kv_type_size(kv.type);
  const size_t block_bytes = static_cast<size_t>(kv.n_head_kv) * bs * (kv.head_dim_k + kv.head_dim_v) * es;
  const int64_t b0 = hi >= lo ? (lo - kv.base_pos) / bs : 0;
  const int64_t b1 = hi >= lo ? (hi - kv.base_pos) / bs + 1 : 0;
  auto* dkv = kv_.reserve_n<std::byte>(std::max<size_t>(1, (b1 - b0) * block_bytes));
  for (int64_t b = b0; b < b1; ++b)
    cuda_check(cudaMemcpyAsync(dkv + (b - b0) * block_bytes, kv.blocks[b], block_bytes, cudaMemcpyHostToDevice, stream_),
               "upload KV block");

  k::AttentionArgs a;
  a.n_head = p.n_head;
  a.n_head_kv = p.n_head_kv;
  a.head_dim_k = p.head_dim_k;
  a.head_dim_v = p.head_dim_v;
  a.scale = p.scale;
  a.chunk_size = p.chunk_size;
  a.block_size = bs;
  a.first_pos = kv.base_pos + b0 * bs;
  a.n_pos = hi >= lo ? std::min(kv.n_pos - b0 * bs, (b1 - b0) * bs) : 0;
  a.max_visible = std::max<int64_t>(1, max_visible);
  a.kv_f16 = kv.type == KvType::F16;

  const int64_t q_row = int64_t{p.n_head} * p.head_dim_k, o_row = int64_t{p.n_head} * p.head_dim_v;
  const float* dq = upload(x_, q, n_rows * q_row);
  const int32_t* dpos = upload(pos_, pos, n_rows);
  float* dout = out_.reserve_n<float>(static_cast<size_t>(n_rows * o_row));
  const size_t row_scores = static_cast<size_t>(p.n_head) * a.max_visible * sizeof(float);
  const int64_t slice = std::max<int64_t>(1, static_cast<int64_t>(kMaxScoreBytes / row_scores));
  float* dscores = scores_.reserve_n<float>(static_cast<size_t>(std::min(slice, n_rows)) * p.n_head * a.max_visible);
  for (int64_t t = 0; t < n_rows; t += slice)  // rows in slices that fit the score scratch
    k::attention(a, dq + t * q_row, dpos + t, std::min(slice, n_rows - t), dkv, dscores, dout + t * o_row, stream_);
  download(out, dout, n_rows * o_row);
}

}  // namespace

int cuda_device_count(std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    if (why) {
      // The runtime's words for "no driver at all" are about versions; say it plainly.
      *why = err == cudaErrorInsufficientDriver
                 ? "no usable CUDA device: no NVIDIA driver is loaded, or it is older than this build's CUDA runtime"
                 : std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    }
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device is visible";
  return n;
}

std::unique_ptr<Backend> make_cuda_backend(int n_threads, bool quantize_activations, int device) {
  std::string why;
  const int n = cuda_device_count(&why);
  if (n == 0) throw std::runtime_error(why);
  if (device < 0 || device >= n) throw std::runtime_error("CUDA device " + std::to_string(device) + " of " + std::to_string(n));
  return std::make_unique<CudaBackend>(device, n_threads, quantize_activations);
}

}  // namespace scout::runtime
