// Device memory for the CUDA backend: grow-only scratch buffers for the
// activations of one op, and the weights, uploaded once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "kernels/cuda/cuda_kernels.h"

namespace scout::runtime::cuda {

// One device allocation that only grows; reused op after op.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  // At least `bytes` of device memory (contents not kept when it grows).
  void* reserve(size_t bytes);
  template <class T>
  T* reserve_n(size_t n) { return static_cast<T*>(reserve(n * sizeof(T))); }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Host arrays that live as long as the model (weights, norm vectors: they lie
// in the model file) copied to the device the first time an op uses them and
// found again by their host address. The contents at an address must not
// change while this cache lives.
class WeightCache {
 public:
  WeightCache() = default;
  WeightCache(const WeightCache&) = delete;
  WeightCache& operator=(const WeightCache&) = delete;
  ~WeightCache();

  // The device copy of [host, host + bytes); `name` labels the out-of-memory error.
  const void* get(const void* host, size_t bytes, std::string_view name, cudaStream_t stream);
  size_t uploaded_bytes() const { return total_; }

 private:
  struct Entry {
    void* dev = nullptr;
    size_t bytes = 0;
  };
  std::unordered_map<const void*, Entry> entries_;
  size_t total_ = 0;
};

}  // namespace scout::runtime::cuda
