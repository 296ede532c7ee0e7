// The CPU backend's KV cache: blocks in host memory (kv_layout.h), one
// allocation each, taken as the engine's tables grow; and the view attention
// reads of one layer of one sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"

namespace scout::backend::cpu {

// Blocks in memory, one allocation each; or, given a directory (--kv-dir),
// in a file there (created, then unlinked at once), mapped in extents of
// kFileExtentBlocks blocks whose disk space is allocated as they are mapped,
// so a full disk is one error at reserve() and never a fault on a write.
class CpuKvPool final : public KvPool {
 public:
  explicit CpuKvPool(KvLayout layout, const std::string& dir = {});
  ~CpuKvPool() override;
  CpuKvPool(const CpuKvPool&) = delete;
  CpuKvPool& operator=(const CpuKvPool&) = delete;

  void reserve(int32_t n_blocks) override;
  int32_t capacity() const override { return static_cast<int32_t>(blocks_.size()); }
  std::byte* block(int32_t id) const { return blocks_[static_cast<size_t>(id)]; }
  void read_block(int32_t id, void* dst) const override { std::memcpy(dst, block(id), layout().block_bytes()); }
  void write_block(int32_t id, const void* src) override { std::memcpy(block(id), src, layout().block_bytes()); }

  static constexpr int32_t kFileExtentBlocks = 64;

 private:
  std::vector<std::byte*> blocks_;
  std::vector<std::unique_ptr<std::byte[]>> owned_;   // in memory
  std::vector<std::pair<void*, size_t>> extents_;     // mapped from the file
  std::string dir_;
  int fd_ = -1;
};

// What attention reads from the KV cache for one layer of one sequence: the
// positions [base_pos, base_pos + n_pos) in blocks[0..], block_size each.
struct KvLayerView {
  KvLayout layout;
  int64_t base_pos = 0;        // position stored in slot 0 of blocks[0]
  int64_t n_pos = 0;           // positions held
  const std::byte* const* blocks = nullptr;

  // Start of K ([dim 0][slot 0]) or V ([slot 0][dim 0]) of kv head `head` in block b.
  const std::byte* k_block(int64_t b, int head) const { return blocks[b] + layout.k_offset(head); }
  const std::byte* v_block(int64_t b, int head) const { return blocks[b] + layout.v_offset(head); }
};

// n cached values of type t (a run of one K or V row, or of consecutive rows)
// from src as f32 into dst; quantized types from a block boundary, n a
// multiple of the block. Exact for every float type.
// kv_decode_reference is the plain definition; kv_decode uses SIMD where
// the CPU has it and must give the same floats.
void kv_decode(KvType t, const std::byte* src, float* dst, int64_t n);
void kv_decode_reference(KvType t, const std::byte* src, float* dst, int64_t n);

// The view of one layer and segment of a pass; `ptrs` receives the block addresses.
KvLayerView kv_view(const KvPass& kv, int layer, size_t seg, std::vector<const std::byte*>& ptrs);

// Stores rows [row, row + n) of k ([n][n_head_kv * head_dim_k]) and v as
// positions [first_pos, first_pos + n) of one layer and segment, rounded to
// the cache's types (to nearest even; quantized as ggml's reference rows).
void kv_store(const KvPass& kv, int layer, size_t seg, const float* k, const float* v);

}  // namespace scout::backend::cpu
