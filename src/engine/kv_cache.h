// The KV cache's bookkeeping: which blocks of the backend's KV pool hold
// which positions, per layer and sequence (block tables), with a free list
// shared by all. Blocks are block_size (256) positions; layers with chunked
// attention keep only the current chunk: when a sequence reaches a chunk
// boundary their blocks go back to the free list and are reused, so only
// global layers grow with the context. The blocks' bytes live in the backend
// (backend::KvPool); this class only hands out ids and describes passes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"

namespace scout::engine {

using backend::KvType;
using backend::KvTypes;

struct KvCacheConfig {
  uint32_t n_layer = 0;
  uint32_t n_head_kv = 0;
  uint32_t head_dim_k = 0;
  uint32_t head_dim_v = 0;
  std::vector<uint32_t> layer_chunk;  // per layer: chunk size, 0 = global (keeps everything)
  KvTypes types;  // K and V element types
  backend::KvStorage storage;  // memory, or a file in a directory (--kv-dir)
  uint32_t block_size = 256;
  uint32_t n_seq = 1;

  backend::KvLayout layout() const;
};

// Rows of one sequence in a pass: n rows appended to sequence seq.
struct SeqRows {
  uint32_t seq = 0;
  int64_t n = 0;
};

// Where a layer of a sequence holding n positions starts keeping KV: 0 for a
// global layer (chunk 0); for a chunked one the current chunk's first
// position, or n itself at a chunk boundary (the next token starts a new
// chunk: nothing of the old one is read again, so nothing needs keeping).
inline int64_t live_base_for(int64_t chunk, int64_t n) { return chunk > 0 ? n - n % chunk : 0; }

class KvCache {
 public:
  KvCache(KvCacheConfig cfg, backend::Backend& be);

  const KvCacheConfig& config() const { return cfg_; }
  // Positions stored so far for seq (the next position to append).
  int64_t seq_len(uint32_t seq) const { return seq_len_.at(seq); }
  // The first position layer `layer` of seq still holds (chunked layers drop earlier chunks).
  int64_t base_pos(uint32_t layer, uint32_t seq) const { return table(layer, seq).base_pos; }

  // Makes room for positions [seq_len, seq_len + n) of seq in every layer and
  // advances seq_len. Entering a new chunk first recycles a chunked layer's
  // blocks, so a call must not cross a chunk boundary (callers split batches
  // there; std::logic_error otherwise).
  void append(uint32_t seq, int64_t n);
  // Describes a pass whose rows are `rows` in order, already appended: for
  // every layer and sequence, the positions held and their block ids.
  void describe(std::span<const SeqRows> rows, backend::KvPass& out) const;

  // For saved sequences (engine/kv_snapshot.h): live_base_for(layer's chunk, n).
  int64_t live_base(uint32_t layer, int64_t n) const;
  // Blocks of `layer` of seq covering [live_base(seq_len), seq_len), in order.
  std::vector<int32_t> live_blocks(uint32_t layer, uint32_t seq) const;
  // Forgets seq, then makes it hold n positions, every layer from its
  // live_base, with fresh blocks whose bytes the caller writes (pool()).
  void restore(uint32_t seq, int64_t n);
  backend::KvPool& pool() const { return *pool_; }

  // Forgets a sequence; its blocks go back to the free list.
  void clear(uint32_t seq);
  // The longest prefix of seq, at most n positions, that truncate() can keep:
  // a chunked layer keeps only its current chunk, so a cut below that chunk's
  // start is possible only at a chunk boundary (nothing before it is read again).
  int64_t keepable_prefix(uint32_t seq, int64_t n) const;
  // Keeps positions [0, n) of seq and frees the blocks past them (prompt-prefix
  // reuse: the next append continues at n). n must be keepable_prefix(seq, n);
  // std::logic_error otherwise.
  void truncate(uint32_t seq, int64_t n);
  // The most bytes one sequence of n positions holds (a chunked layer at most
  // one chunk's blocks): what `scout serve --kv-budget` reserves for a request.
  size_t bytes_for(int64_t n) const;
  // The first position in any chunked layer's next chunk after `pos`, or -1
  // when no layer is chunked: where batches must be split.
  int64_t next_chunk_boundary(int64_t pos) const;

  size_t block_bytes() const { return cfg_.layout().block_bytes(); }
  // Bytes of blocks held by block tables now.
  size_t bytes_in_use() const;
  // Bytes the pool has allocated (in use + free for reuse); never shrinks.
  size_t bytes_allocated() const { return pool_->bytes_allocated(); }
  // Bytes held by one layer of one sequence.
  size_t layer_bytes(uint32_t layer, uint32_t seq) const;

 private:
  struct Table {
    int64_t base_pos = 0;       // position in slot 0 of ids[0]
    std::vector<int32_t> ids;   // pool block ids
  };

  Table& table(uint32_t layer, uint32_t seq) { return tables_[seq * cfg_.n_layer + layer]; }
  const Table& table(uint32_t layer, uint32_t seq) const { return tables_[seq * cfg_.n_layer + layer]; }
  int32_t take_block();
  void release(Table& t);

  KvCacheConfig cfg_;
  std::unique_ptr<backend::KvPool> pool_;
  int32_t n_blocks_ = 0;  // ids handed out so far (the pool holds at least these)
  std::vector<int32_t> free_;
  std::vector<Table> tables_;
  std::vector<int64_t> seq_len_;
};

}  // namespace scout::engine
