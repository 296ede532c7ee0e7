#include "backend/cuda/device_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace scout::backend::cuda {

using scout::cuda::cuda_check;

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

}  // namespace

void* device_alloc(size_t bytes, const std::string& what, size_t placed_bytes) {
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, std::max<size_t>(bytes, 1));
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear it
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw std::runtime_error(fmt::format(
        "CUDA: out of GPU memory for {} ({:.2f} GiB; {:.2f} GiB placed so far, {:.2f} of {:.2f} GiB free): the model "
        "does not fit this GPU; keep the routed experts in host memory with --cpu-moe, put fewer layers on the GPU "
        "with -ngl N, or run it with --device cpu",
        what, bytes / kGiB, placed_bytes / kGiB, free_b / kGiB, total_b / kGiB));
  }
  cuda_check(err, "cudaMalloc");
  return p;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

bool DeviceBuffer::reserve(size_t bytes, cudaStream_t stream, const char* what, double slack) {
  if (bytes <= bytes_ && ptr_) return false;
  const size_t want = std::max(bytes, static_cast<size_t>(static_cast<double>(bytes) * slack));
  if (ptr_) {
    cuda_check(cudaStreamSynchronize(stream), what);  // queued work may still use it
    cudaFree(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  ptr_ = device_alloc(want, what, 0);
  bytes_ = want;
  return true;
}

PinnedBuffer::~PinnedBuffer() {
  if (ptr_) cudaFreeHost(ptr_);
}

void PinnedBuffer::reserve(size_t bytes) {
  if (bytes <= bytes_ && ptr_) return;
  if (ptr_) cudaFreeHost(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
  const size_t want = std::max<size_t>(bytes + bytes / 2, 4096);
  cuda_check(cudaHostAlloc(&ptr_, want, cudaHostAllocDefault), "cudaHostAlloc (staging)");
  bytes_ = want;
}

CudaKvPool::CudaKvPool(const KvLayout& layout, cudaStream_t stream) : KvPool(layout), stream_(stream) {}

CudaKvPool::~CudaKvPool() {
  // Passes using these blocks have been waited for by their session's last download.
  cudaStreamSynchronize(stream_);
  for (void* s : slabs_) cudaFree(s);
  if (table_) cudaFree(table_);
}

void CudaKvPool::read_block(int32_t id, void* dst) const {
  cuda_check(cudaMemcpyAsync(dst, blocks_.at(static_cast<size_t>(id)), layout().block_bytes(), cudaMemcpyDeviceToHost, stream_),
             "KV block read");
  cuda_check(cudaStreamSynchronize(stream_), "KV block read");
}

void CudaKvPool::write_block(int32_t id, const void* src) {
  cuda_check(cudaMemcpyAsync(blocks_.at(static_cast<size_t>(id)), src, layout().block_bytes(), cudaMemcpyHostToDevice, stream_),
             "KV block write");
  cuda_check(cudaStreamSynchronize(stream_), "KV block write");
}

void CudaKvPool::reserve(int32_t n_blocks) {
  const size_t have = blocks_.size();
  if (n_blocks <= static_cast<int32_t>(have)) return;
  const size_t bb = std::max<size_t>(layout().block_bytes(), 256);
  // A slab: what is asked, at least half again the pool (at most 256 MiB
  // beyond the need), so that growing one block at a time stays cheap.
  const size_t need = static_cast<size_t>(n_blocks) - have;
  const size_t cap_extra = std::max<size_t>(1, (size_t{256} << 20) / bb);
  const size_t n_new = std::max(need, std::min(std::max<size_t>(have / 2, 8), cap_extra));
  auto* slab = static_cast<uint8_t*>(device_alloc(n_new * bb, fmt::format("the KV cache ({} more blocks)", n_new), 0));
  slabs_.push_back(slab);
  for (size_t i = 0; i < n_new; ++i) blocks_.push_back(slab + i * bb);

  if (blocks_.size() > table_capacity_) {
    const size_t cap = std::max<size_t>(blocks_.size() * 2, 64);
    void** t = static_cast<void**>(device_alloc(cap * sizeof(void*), "the KV block table", 0));
    cuda_check(cudaStreamSynchronize(stream_), "KV pool");  // no queued pass reads the old table any more
    if (table_) cudaFree(table_);
    table_ = t;
    table_capacity_ = cap;
    cuda_check(cudaMemcpyAsync(table_, blocks_.data(), blocks_.size() * sizeof(void*), cudaMemcpyHostToDevice, stream_),
               "KV block table");
  } else {
    cuda_check(cudaMemcpyAsync(table_ + have, blocks_.data() + have, n_new * sizeof(void*), cudaMemcpyHostToDevice,
                               stream_),
               "KV block table");
  }
  cuda_check(cudaStreamSynchronize(stream_), "KV block table");  // the host mirror's pages may move
}

}  // namespace scout::backend::cuda
