// Device and pinned host memory for the CUDA backend: grow-only buffers (the
// pass tables, the ops' scratch arena, download staging) and the KV pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "kernels/cuda/cuda_kernels.h"

namespace scout::backend::cuda {

// One device allocation that only grows (contents not kept when it does).
// Growing frees the old allocation after the stream is idle: nothing queued
// may still read it.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  // At least `bytes`; `slack` times more when it has to grow. Returns whether it moved.
  bool reserve(size_t bytes, cudaStream_t stream, const char* what, double slack = 1.0);
  void* data() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Page-locked host memory that only grows: the source of asynchronous
// uploads and the landing place of downloads.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer();

  // At least `bytes` (contents not kept); the caller makes sure no copy still reads it.
  void reserve(size_t bytes);
  void* data() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// cudaMalloc that explains itself: out of memory names `what` and the GiB
// asked, placed and free, and what to do about it.
void* device_alloc(size_t bytes, const std::string& what, size_t placed_bytes);

// The KV cache's blocks in device memory. Blocks come in slabs, allocated as
// reserve() grows the pool and never moved, so a block's address is fixed
// for its life; block id -> address is mirrored in a device array that
// doubles when it fills. That array may move: kernels find it through the
// pass header (device_types.h PassDev::blocks), which begin_pass() rewrites
// before every pass, so recorded graphs never hold its address.
class CudaKvPool final : public KvPool {
 public:
  CudaKvPool(const KvLayout& layout, cudaStream_t stream);
  ~CudaKvPool() override;
  void reserve(int32_t n_blocks) override;
  int32_t capacity() const override { return static_cast<int32_t>(blocks_.size()); }
  void read_block(int32_t id, void* dst) const override;
  void write_block(int32_t id, const void* src) override;
  void* const* device_table() const { return table_; }

 private:
  cudaStream_t stream_;
  std::vector<void*> slabs_;
  std::vector<void*> blocks_;   // block id -> device address (host mirror)
  void** table_ = nullptr;      // the same on the device
  size_t table_capacity_ = 0;
};

}  // namespace scout::backend::cuda
