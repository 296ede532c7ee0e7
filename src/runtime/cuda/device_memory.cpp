#include "runtime/cuda/device_memory.h"

#include <fmt/format.h>

#include <stdexcept>

namespace scout::runtime::cuda {

using scout::cuda::cuda_check;

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

void* DeviceBuffer::reserve(size_t bytes) {
  if (bytes <= bytes_ && ptr_) return ptr_;
  if (ptr_) cudaFree(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
  cuda_check(cudaMalloc(&ptr_, bytes ? bytes : 1), "cudaMalloc (activations)");
  bytes_ = bytes;
  return ptr_;
}

WeightCache::~WeightCache() {
  for (auto& [host, e] : entries_) cudaFree(e.dev);
}

const void* WeightCache::get(const void* host, size_t bytes, std::string_view name, cudaStream_t stream) {
  auto it = entries_.find(host);
  if (it != entries_.end() && it->second.bytes >= bytes) return it->second.dev;
  if (it != entries_.end()) {  // a longer view of the same start: upload again, whole
    cudaFree(it->second.dev);
    total_ -= it->second.bytes;
    entries_.erase(it);
  }
  void* dev = nullptr;
  const cudaError_t err = cudaMalloc(&dev, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear it
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw std::runtime_error(fmt::format(
        "CUDA: out of GPU memory uploading {} ({:.1f} MiB; {:.2f} GiB of weights uploaded, {:.2f} of {:.2f} GiB "
        "free): the model does not fit this GPU, run it with --device cpu",
        name, bytes / 1048576.0, total_ / 1073741824.0, free_b / 1073741824.0, total_b / 1073741824.0));
  }
  cuda_check(err, "cudaMalloc (weights)");
  // Straight from the (mapped or copied) file: the driver stages pageable
  // memory through its own pinned buffers, so no second host copy is made.
  const cudaError_t copied = cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, stream);
  if (copied != cudaSuccess) {
    cudaFree(dev);
    cuda_check(copied, "uploading weights");
  }
  entries_[host] = {dev, bytes};
  total_ += bytes;
  return dev;
}

}  // namespace scout::runtime::cuda
