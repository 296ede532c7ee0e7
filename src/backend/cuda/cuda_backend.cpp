// The CUDA backend's memory, passes, recording and elementwise ops
// (cuda_backend.h says how the pieces fit); cuda_ops.cpp has the rest.
#include "backend/cuda/cuda_backend.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "backend/device.h"

namespace scout::backend::cuda {

namespace k = scout::cuda;
using k::cuda_check;

namespace {

constexpr size_t kMaxGraphs = 8;
constexpr size_t kUploadRing = size_t{4} << 20;
constexpr size_t kAlign = 256;

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

template <class T>
T* ptr(const Tensor& t) { return static_cast<T*>(t.data); }

}  // namespace

CudaBackend::CudaBackend(const ComputeOptions& o, int device) : device_(device) {
  cuda_check(cudaSetDevice(device), "cudaSetDevice");
  cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  cudaDeviceProp prop{};
  cuda_check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  n_sm_ = prop.multiProcessorCount;
  spdlog::info("CUDA device {}: {}, sm_{}{}, {} SMs, {:.1f} GiB", device, prop.name, prop.major, prop.minor, n_sm_,
               prop.totalGlobalMem / 1073741824.0);
  if (prop.major < 8) throw std::runtime_error(fmt::format("CUDA device {} ({}) is older than sm_80", device, prop.name));
  k::init_kernels();
  void* p = nullptr;
  cuda_check(cudaMalloc(&p, sizeof(k::ErrorState)), "cudaMalloc (errors)");
  err_dev_ = static_cast<k::ErrorState*>(p);
  cuda_check(cudaMemset(err_dev_, 0, sizeof(k::ErrorState)), "cudaMemset (errors)");
  cuda_check(cudaHostAlloc(&p, sizeof(k::ErrorState), cudaHostAllocDefault), "cudaHostAlloc (errors)");
  err_host_ = static_cast<k::ErrorState*>(p);
  *err_host_ = {};
  cuda_check(cudaMalloc(&p, sizeof(k::PassDev)), "cudaMalloc (pass header)");
  pass_dev_ = static_cast<k::PassDev*>(p);
  cuda_check(cudaMemset(pass_dev_, 0, sizeof(k::PassDev)), "cudaMemset (pass header)");
  cuda_check(cudaEventCreateWithFlags(&pass_copied_, cudaEventDisableTiming), "cudaEventCreate");
  cuda_check(cudaEventRecord(pass_copied_, stream_), "cudaEventRecord");
  upload_ring_.reserve(kUploadRing);
  set_compute_options(o);
}

CudaBackend::~CudaBackend() {
  cudaStreamSynchronize(stream_);
  clear_graphs();
  for (void* p : deferred_frees_) cudaFree(p);
  cudaFree(err_dev_);
  cudaFreeHost(err_host_);
  cudaFree(pass_dev_);
  cudaEventDestroy(pass_copied_);
  cudaStreamDestroy(stream_);
}

void CudaBackend::set_compute_options(const ComputeOptions& o) {
  opts_ = o;
  exact_ = !o.quantize_activations;
  if (cpu_)
    cpu_->set_compute_options(o);
  else
    cpu_ = make_cpu_backend(o);
}

// --- memory ---

Buffer CudaBackend::alloc(DType dtype, int64_t rows, int64_t cols) {
  if (capturing_) throw CaptureAbort{false, "alloc"};
  use_device();
  Tensor t{nullptr, dtype, rows, cols};
  t.data = device_alloc(std::max<size_t>(t.bytes(), kAlign), fmt::format("{} x {} activations", rows, cols),
                        placed_bytes_);
  return Buffer(this, t);
}

void CudaBackend::free(void* data) {
  if (capturing_) {  // the stream cannot be waited for now
    deferred_frees_.push_back(data);
    return;
  }
  cudaStreamSynchronize(stream_);  // queued work may still use it
  cudaFree(data);
}

void CudaBackend::upload_bytes(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (capturing_) throw CaptureAbort{false, "upload"};
  use_device();
  if (bytes > kUploadRing / 4) {  // large: straight from pageable memory, waited for
    cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "upload");
    cuda_check(cudaStreamSynchronize(stream_), "upload");
    upload_at_ = 0;
    return;
  }
  if (upload_at_ + bytes > upload_ring_.size()) {  // wrap: the earlier copies must be done
    cuda_check(cudaStreamSynchronize(stream_), "upload");
    upload_at_ = 0;
  }
  auto* staged = static_cast<uint8_t*>(upload_ring_.data()) + upload_at_;
  std::memcpy(staged, src, bytes);
  cuda_check(cudaMemcpyAsync(dst, staged, bytes, cudaMemcpyHostToDevice, stream_), "upload");
  upload_at_ += align_up(bytes);
}

void CudaBackend::upload(const Tensor& dst, const void* src) { upload_bytes(dst.data, src, dst.bytes()); }

void CudaBackend::sync_and_check(const char* what) {
  if (capturing_) throw CaptureAbort{false, what};
  cuda_check(cudaMemcpyAsync(err_host_, err_dev_, sizeof(k::ErrorState), cudaMemcpyDeviceToHost, stream_), what);
  cuda_check(cudaStreamSynchronize(stream_), what);
  upload_at_ = 0;
  if (err_host_->code == k::kErrNone) return;
  const k::ErrorState e = *err_host_;
  *err_host_ = {};
  cuda_check(cudaMemsetAsync(err_dev_, 0, sizeof(k::ErrorState), stream_), what);
  const char* op = e.code == k::kErrEmbed ? "embed: row id" : e.code == k::kErrGatherRows ? "gather_rows: row" : "moe_ffn: expert";
  throw std::out_of_range(fmt::format("{} {} of {}", op, e.value, e.bound));
}

void CudaBackend::download(void* dst, const Tensor& src) {
  if (capturing_) throw CaptureAbort{false, "download"};
  use_device();
  const size_t bytes = src.bytes();
  download_staging_.reserve(bytes);
  if (bytes) cuda_check(cudaMemcpyAsync(download_staging_.data(), src.data, bytes, cudaMemcpyDeviceToHost, stream_), "download");
  sync_and_check("download");
  if (bytes) std::memcpy(dst, download_staging_.data(), bytes);
}

void CudaBackend::synchronize() { sync_and_check("synchronize"); }

Buffer CudaBackend::place_weight(Weight& w, bool keep_on_host) {
  use_device();
  const bool quantized = type_traits(w.type).quantized;
  const bool fits = k::supports_type(w.type) && (!quantized || w.n_in % type_traits(w.type).block_size == 0);
  if (keep_on_host || !fits || !w.host) {
    if (!fits && !keep_on_host)
      spdlog::info("cuda: {} ({} x {} {}) stays in host memory: the GPU kernels do not read it", w.name, w.n_out, w.n_in,
                   type_name(w.type));
    w.data = w.host;
    w.on_host = true;
    return {};
  }
  const size_t bytes = w.bytes();
  void* dev = device_alloc(bytes, std::string(w.name), placed_bytes_);
  // Straight from the (mapped or read) file: the driver stages pageable memory.
  const cudaError_t err = cudaMemcpyAsync(dev, w.host, bytes, cudaMemcpyHostToDevice, stream_);
  if (err != cudaSuccess) {
    cudaFree(dev);
    cuda_check(err, "uploading weights");
  }
  placed_bytes_ += bytes;
  w.data = static_cast<const uint8_t*>(dev);
  w.on_host = false;
  return Buffer(this, Tensor{dev, DType::F32, 1, static_cast<int64_t>((bytes + 3) / 4)});
}

Buffer CudaBackend::place_constant(DType dtype, const void* host, int64_t rows, int64_t cols) {
  use_device();
  Tensor t{nullptr, dtype, rows, cols};
  t.data = device_alloc(std::max<size_t>(t.bytes(), kAlign), "a constant", placed_bytes_);
  cuda_check(cudaMemcpyAsync(t.data, host, t.bytes(), cudaMemcpyHostToDevice, stream_), "place_constant");
  cuda_check(cudaStreamSynchronize(stream_), "place_constant");  // the host copy may go now
  placed_bytes_ += t.bytes();
  return Buffer(this, t);
}

std::unique_ptr<KvPool> CudaBackend::make_kv_pool(const KvLayout& layout, const KvStorage& storage) {
  if (!storage.dir.empty())
    throw std::invalid_argument("--kv-dir keeps the KV cache in host memory mapped from disk: the CUDA backend holds it on the GPU");
  if (layout.head_dim_k % 4 != 0 || layout.head_dim_k > k::kMaxHeadDim || layout.head_dim_v > k::kMaxHeadDim)
    throw std::invalid_argument(fmt::format("cuda: head dimensions {} / {} are not supported by the attention kernels",
                                            layout.head_dim_k, layout.head_dim_v));
  const bool float_kv = layout.types.k == layout.types.v && (layout.types.k == KvType::F16 || layout.types.k == KvType::F32);
  if (!float_kv)
    throw std::invalid_argument(fmt::format("cuda: the KV cache holds f16 or f32 (the same for K and V), not {}; "
                                            "quantized KV types run on the CPU",
                                            layout.types.name()));
  return std::make_unique<CudaKvPool>(layout, stream_);
}

void* CudaBackend::scratch(size_t bytes) {
  if (bytes <= scratch_.size()) return scratch_.data();
  if (capturing_) throw CaptureAbort{true, "scratch grows"};
  scratch_.reserve(bytes, stream_, "scratch", 1.5);
  clear_graphs();  // recordings hold the old address
  return scratch_.data();
}

void CudaBackend::need_host(const char* op) const {
  if (capturing_) throw CaptureAbort{false, op};
}

// --- passes ---

void CudaBackend::begin_pass(const KvPass& kv) {
  if (capturing_) throw std::logic_error("begin_pass inside a pass");
  use_device();
  const auto* pool = dynamic_cast<const CudaKvPool*>(kv.pool);
  if (!pool) throw std::logic_error("begin_pass: the KV pool is not this backend's");
  const KvLayout& L = pool->layout();
  const size_t n_segs = kv.segs.size();
  if (kv.tables.size() != static_cast<size_t>(kv.n_layer) * n_segs)
    throw std::logic_error(fmt::format("begin_pass: {} tables for {} layers x {} segments", kv.tables.size(), kv.n_layer, n_segs));
  // Check everything the kernels will index by, once, on the host.
  int64_t n_rows = 0;
  for (const KvSegment& s : kv.segs) {
    if (s.row != n_rows || s.n_rows < 1 || s.first_pos < 0)
      throw std::logic_error(fmt::format("begin_pass: segment at row {} of {} rows", s.row, s.n_rows));
    n_rows += s.n_rows;
  }
  for (int l = 0; l < kv.n_layer; ++l)
    for (size_t s = 0; s < n_segs; ++s) {
      const KvTable& t = kv.table(l, s);
      const KvSegment& sg = kv.segs[s];
      if (t.first_id < 0 || t.n_blocks < 0 || static_cast<size_t>(t.first_id) + t.n_blocks > kv.block_ids.size() ||
          t.n_pos > t.n_blocks * L.block_size || sg.first_pos < t.base_pos || sg.first_pos + sg.n_rows > t.base_pos + t.n_pos)
        throw std::logic_error(fmt::format("begin_pass: layer {} segment {}: positions [{}, {}) not in the {} blocks "
                                           "holding [{}, {})", l, s, sg.first_pos, sg.first_pos + sg.n_rows, t.n_blocks,
                                           t.base_pos, t.base_pos + t.n_pos));
    }
  for (int32_t id : kv.block_ids)
    if (id < 0 || id >= pool->capacity()) throw std::logic_error(fmt::format("begin_pass: block id {} of {}", id, pool->capacity()));

  // [segs][tables][block ids][row -> segment], then the header.
  const size_t seg_b = align_up(n_segs * sizeof(k::SegDev)), tab_b = align_up(kv.tables.size() * sizeof(k::TableDev));
  const size_t ids_b = align_up(kv.block_ids.size() * sizeof(int32_t)), row_b = align_up(static_cast<size_t>(n_rows) * 4);
  const size_t data_b = seg_b + tab_b + ids_b + row_b;
  cuda_check(cudaEventSynchronize(pass_copied_), "begin_pass");  // the staging is free again
  pass_staging_.reserve(data_b + sizeof(k::PassDev));
  pass_data_.reserve(data_b, stream_, "the pass tables", 1.5);
  auto* st = static_cast<uint8_t*>(pass_staging_.data());
  auto* segs = reinterpret_cast<k::SegDev*>(st);
  for (size_t s = 0; s < n_segs; ++s) segs[s] = {kv.segs[s].row, kv.segs[s].n_rows, kv.segs[s].first_pos};
  auto* tabs = reinterpret_cast<k::TableDev*>(st + seg_b);
  for (size_t i = 0; i < kv.tables.size(); ++i)
    tabs[i] = {kv.tables[i].base_pos, kv.tables[i].n_pos, kv.tables[i].first_id, kv.tables[i].n_blocks};
  if (!kv.block_ids.empty()) std::memcpy(st + seg_b + tab_b, kv.block_ids.data(), kv.block_ids.size() * sizeof(int32_t));
  auto* row_seg = reinterpret_cast<int32_t*>(st + seg_b + tab_b + ids_b);
  for (size_t s = 0; s < n_segs; ++s)
    for (int64_t r = 0; r < kv.segs[s].n_rows; ++r) row_seg[kv.segs[s].row + r] = static_cast<int32_t>(s);

  auto* dev = static_cast<uint8_t*>(pass_data_.data());
  k::PassDev h;
  h.n_rows = static_cast<int32_t>(n_rows);
  h.n_segs = static_cast<int32_t>(n_segs);
  h.n_layer = kv.n_layer;
  h.segs = reinterpret_cast<const k::SegDev*>(dev);
  h.tables = reinterpret_cast<const k::TableDev*>(dev + seg_b);
  h.block_ids = reinterpret_cast<const int32_t*>(dev + seg_b + tab_b);
  h.row_seg = reinterpret_cast<const int32_t*>(dev + seg_b + tab_b + ids_b);
  h.blocks = pool->device_table();
  std::memcpy(st + data_b, &h, sizeof h);
  cuda_check(cudaMemcpyAsync(dev, st, data_b, cudaMemcpyHostToDevice, stream_), "begin_pass");
  cuda_check(cudaMemcpyAsync(pass_dev_, st + data_b, sizeof h, cudaMemcpyHostToDevice, stream_), "begin_pass");
  cuda_check(cudaEventRecord(pass_copied_, stream_), "begin_pass");
  pass_ = {kv.pool, n_rows, n_segs, kv.n_layer};
}

void CudaBackend::clear_graphs() {
  if (lru_.empty()) return;
  cudaStreamSynchronize(stream_);
  for (auto& [key, exec] : lru_) cudaGraphExecDestroy(exec);
  lru_.clear();
  graphs_.clear();
}

void CudaBackend::run_pass(uint64_t key, const std::function<void()>& ops) {
  const GraphKey gk{key, exact_};
  use_device();  // the thread may have used another GPU since
  if (key == 0 || unrecordable_.count(gk)) return ops();
  if (auto it = graphs_.find(gk); it != graphs_.end()) {
    lru_.splice(lru_.end(), lru_, it->second);  // most recently used
    cuda_check(cudaGraphLaunch(it->second->second, stream_), "cudaGraphLaunch");
    return;
  }
  cuda_check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  capturing_ = true;
  cudaGraph_t graph = nullptr;
  auto end_capture = [&] {
    capturing_ = false;
    const cudaError_t err = cudaStreamEndCapture(stream_, &graph);
    if (err != cudaSuccess && graph) {
      cudaGraphDestroy(graph);
      graph = nullptr;
    }
    cudaGetLastError();  // a broken capture leaves its error behind
    return err;
  };
  try {
    ops();
  } catch (const CaptureAbort& a) {
    end_capture();
    if (graph) cudaGraphDestroy(graph);
    if (!a.retry) unrecordable_.insert(gk);
    spdlog::debug("cuda: pass not recorded ({}); running it op by op", a.why);
    return ops();
  } catch (...) {
    end_capture();
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  const cudaError_t err = end_capture();
  if (err != cudaSuccess || !graph) {
    spdlog::warn("cuda: recording a pass failed ({}); running it op by op", cudaGetErrorString(err));
    unrecordable_.insert(gk);
    return ops();
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  cuda_check(inst, "cudaGraphInstantiate");
  if (lru_.size() >= kMaxGraphs) {  // forget the least recently used
    cuda_check(cudaStreamSynchronize(stream_), "run_pass");
    cudaGraphExecDestroy(lru_.front().second);
    graphs_.erase(lru_.front().first);
    lru_.pop_front();
  }
  lru_.emplace_back(gk, exec);
  graphs_[gk] = std::prev(lru_.end());
  for (void* p : deferred_frees_) free(p);
  deferred_frees_.clear();
  cuda_check(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch");
}

// --- elementwise ops ---

void CudaBackend::embed(const Weight& w, const Tensor& ids, const Tensor& out) {
  check_shape("embed (ids)", ids, ids.rows, 1, DType::I32);
  check_shape("embed (out)", out, ids.rows, w.n_in);
  if (ids.rows == 0) return;
  if (w.on_host) {
    need_host("embed with host weights");
    std::vector<int32_t> hid(static_cast<size_t>(ids.rows));
    std::vector<float> ho(static_cast<size_t>(out.size()));
    download(hid.data(), ids);
    Weight hw = w;
    hw.data = w.host;
    cpu_->embed(hw, Tensor{hid.data(), DType::I32, ids.rows, 1}, Tensor{ho.data(), DType::F32, out.rows, out.cols});
    return upload(out, ho.data());
  }
  k::get_rows(device_weight(w, w.n_out), ptr<int32_t>(ids), ids.rows, ptr<float>(out), err_dev_, stream_);
}

void CudaBackend::gather_rows(const Tensor& src, const Tensor& ids, const Tensor& out) {
  check_shape("gather_rows (ids)", ids, ids.rows, 1, DType::I32);
  check_shape("gather_rows (out)", out, ids.rows, src.cols, src.dtype);
  k::gather_rows(src.data, src.rows, static_cast<size_t>(src.cols) * dtype_size(src.dtype), ptr<int32_t>(ids), ids.rows,
                 out.data, err_dev_, stream_);
}

void CudaBackend::rmsnorm(const Tensor& x, const Tensor& weight, const Tensor& out, float eps) {
  check_shape("rmsnorm (out)", out, x.rows, x.cols);
  if (!weight.empty()) check_shape("rmsnorm (weight)", weight, 1, x.cols);
  k::rmsnorm(ptr<float>(x), weight.empty() ? nullptr : ptr<float>(weight), ptr<float>(out), x.rows, x.cols, eps, stream_);
}

void CudaBackend::rope_table(const Tensor& pos, const Tensor& theta, const Tensor& out) {
  check_shape("rope_table (pos)", pos, pos.rows, 1, DType::I32);
  check_shape("rope_table (theta)", theta, 1, theta.cols, DType::F64);
  check_shape("rope_table (out)", out, pos.rows, 2 * theta.cols);
  k::rope_table(ptr<int32_t>(pos), ptr<double>(theta), pos.rows, theta.cols, ptr<float>(out), stream_);
}

void CudaBackend::rope(const Tensor& x, const Tensor& table, int head_dim) {
  check_shape("rope (table)", table, x.rows, table.cols);
  const int half = static_cast<int>(table.cols / 2);
  if (head_dim <= 0 || x.cols % head_dim != 0 || 2 * half > head_dim)
    throw std::logic_error("rope: head_dim does not fit the tensor");
  k::rope(ptr<float>(x), ptr<float>(table), x.rows, x.cols, head_dim, half, stream_);
}

void CudaBackend::attn_temperature(const Tensor& pos, double floor_scale, double scale, const Tensor& out) {
  check_shape("attn_temperature (pos)", pos, pos.rows, 1, DType::I32);
  check_shape("attn_temperature (out)", out, pos.rows, 1);
  k::attn_temperature(ptr<int32_t>(pos), pos.rows, floor_scale, scale, ptr<float>(out), stream_);
}

void CudaBackend::scale_rows(const Tensor& x, const Tensor& factor) {
  check_shape("scale_rows (factor)", factor, x.rows, 1);
  k::scale_rows(ptr<float>(x), ptr<float>(factor), x.rows, x.cols, stream_);
}

void CudaBackend::add(const Tensor& y, const Tensor& x) {
  check_shape("add", x, y.rows, y.cols);
  k::add(ptr<float>(y), ptr<float>(x), y.size(), stream_);
}

void CudaBackend::swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) {
  check_shape("swiglu (up)", up, gate.rows, gate.cols);
  check_shape("swiglu (out)", out, gate.rows, gate.cols);
  k::swiglu(ptr<float>(gate), ptr<float>(up), ptr<float>(out), gate.size(), stream_);
}

void CudaBackend::fill_zero(const Tensor& x) {
  if (x.bytes()) cuda_check(cudaMemsetAsync(x.data, 0, x.bytes(), stream_), "fill_zero");
}

void CudaBackend::route(const Tensor& logits, Gating gating, const Tensor& experts, const Tensor& weights) {
  const int64_t n = logits.rows, kk = experts.cols;
  const int E = static_cast<int>(logits.cols);
  check_shape("route (experts)", experts, n, kk, DType::I32);
  check_shape("route (weights)", weights, n, kk);
  if (kk < 1 || kk > E) throw std::logic_error(fmt::format("route: top {} of {} experts", kk, E));
  k::route(ptr<float>(logits), n, E, static_cast<int>(kk), gating == Gating::Sigmoid, ptr<int32_t>(experts),
           ptr<float>(weights), stream_);
}

}  // namespace scout::backend::cuda
