// The KV cache: keys and values of past positions, per layer and sequence, in
// fixed-size blocks (256 positions) taken from a shared pool. Each sequence has
// a block table per layer. Layers with chunked attention keep only the current
// chunk: when a sequence reaches a chunk boundary their blocks go back to the
// pool and are reused, so only global layers grow with the context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/kv_view.h"

namespace scout::runtime {

struct KvCacheConfig {
  uint32_t n_layer = 0;
  uint32_t n_head_kv = 0;
  uint32_t head_dim_k = 0;
  uint32_t head_dim_v = 0;
  std::vector<uint32_t> layer_chunk;  // per layer: chunk size, 0 = global (keeps everything)
  KvType type = KvType::F16;
  uint32_t block_size = 256;
  uint32_t n_seq = 1;
};

class KvCache {
 public:
  explicit KvCache(KvCacheConfig cfg);

  const KvCacheConfig& config() const { return cfg_; }
  // Positions stored so far for seq (the next position to append).
  int64_t seq_len(uint32_t seq) const { return seq_len_.at(seq); }

  // Makes room for positions [seq_len, seq_len + n) of seq in every layer and
  // advances seq_len. Entering a new chunk first recycles a chunked layer's
  // blocks, so a call must not cross a chunk boundary (callers split batches
  // there; std::logic_error otherwise).
  void append(uint32_t seq, int64_t n);
  // Writes K and V for positions [first, first + n) of one layer; k is
  // [n][n_head_kv][head_dim_k], v is [n][n_head_kv][head_dim_v], f32.
  void store(uint32_t layer, uint32_t seq, int64_t first, int64_t n, const float* k, const float* v);
  KvLayerView view(uint32_t layer, uint32_t seq) const;

  // Forgets a sequence; its blocks go back to the pool.
  void clear(uint32_t seq);
  // The first position in any chunked layer's next chunk after `pos`, or -1
  // when no layer is chunked: where batches must be split.
  int64_t next_chunk_boundary(int64_t pos) const;

  size_t block_bytes() const { return block_bytes_; }
  // Bytes of blocks held by block tables now.
  size_t bytes_in_use() const;
  // Bytes the pool has allocated (in use + free for reuse); never shrinks.
  size_t bytes_allocated() const { return pool_.size() * block_bytes_; }
  // Bytes held by one layer of one sequence.
  size_t layer_bytes(uint32_t layer, uint32_t seq) const;

 private:
  struct Table {
    int64_t base_pos = 0;                  // position in slot 0 of blocks[0]
    std::vector<int32_t> ids;              // pool indices
    std::vector<const std::byte*> ptrs;    // the same blocks as pointers (for views)
  };

  Table& table(uint32_t layer, uint32_t seq) { return tables_[seq * cfg_.n_layer + layer]; }
  const Table& table(uint32_t layer, uint32_t seq) const { return tables_[seq * cfg_.n_layer + layer]; }
  int32_t take_block();
  void release(Table& t);

  KvCacheConfig cfg_;
  size_t block_bytes_ = 0;
  std::vector<std::unique_ptr<std::byte[]>> pool_;
  std::vector<int32_t> free_;
  std::vector<Table> tables_;
  std::vector<int64_t> seq_len_;
};

}  // namespace scout::runtime
