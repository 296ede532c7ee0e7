#include "engine/kv_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace scout::engine {

backend::KvLayout KvCacheConfig::layout() const {
  backend::KvLayout l;
  l.types = types;
  l.block_size = block_size;
  l.n_head_kv = static_cast<int>(n_head_kv);
  l.head_dim_k = static_cast<int>(head_dim_k);
  l.head_dim_v = static_cast<int>(head_dim_v);
  return l;
}

KvCache::KvCache(KvCacheConfig cfg, backend::Backend& be) : cfg_(std::move(cfg)) {
  if (cfg_.layer_chunk.empty()) cfg_.layer_chunk.assign(cfg_.n_layer, 0);
  if (cfg_.layer_chunk.size() != cfg_.n_layer) throw std::invalid_argument("KvCache: layer_chunk must have one entry per layer");
  if (cfg_.block_size == 0 || cfg_.n_seq == 0) throw std::invalid_argument("KvCache: block_size and n_seq must be non-zero");
  if (const std::string why = cfg_.layout().problem(); !why.empty()) throw std::invalid_argument(why);
  pool_ = be.make_kv_pool(cfg_.layout(), cfg_.storage);
  tables_.resize(static_cast<size_t>(cfg_.n_layer) * cfg_.n_seq);
  seq_len_.assign(cfg_.n_seq, 0);
}

int32_t KvCache::take_block() {
  if (!free_.empty()) {
    const int32_t id = free_.back();
    free_.pop_back();
    return id;
  }
  pool_->reserve(n_blocks_ + 1);
  return n_blocks_++;
}

void KvCache::release(Table& t) {
  free_.insert(free_.end(), t.ids.begin(), t.ids.end());
  t.ids.clear();
}

int64_t KvCache::next_chunk_boundary(int64_t pos) const {
  int64_t best = -1;
  for (uint32_t c : cfg_.layer_chunk)
    if (c > 0) {
      const int64_t b = (pos / c + 1) * c;
      if (best < 0 || b < best) best = b;
    }
  return best;
}

void KvCache::append(uint32_t seq, int64_t n) {
  const int64_t first = seq_len_.at(seq), end = first + n;
  for (uint32_t il = 0; il < cfg_.n_layer; ++il) {
    Table& t = table(il, seq);
    if (const int64_t chunk = cfg_.layer_chunk[il]; chunk > 0) {
      if (n > 0 && first / chunk != (end - 1) / chunk)
        throw std::logic_error(fmt::format("KvCache::append: positions [{}, {}) cross a chunk boundary of layer {}", first,
                                           end, il));
      if (first % chunk == 0) {  // a new chunk: the previous one is never read again
        release(t);
        t.base_pos = first;
      }
    }
    while (t.base_pos + static_cast<int64_t>(t.ids.size()) * cfg_.block_size < end) t.ids.push_back(take_block());
  }
  seq_len_[seq] = end;
}

void KvCache::describe(std::span<const SeqRows> rows, backend::KvPass& out) const {
  out.pool = pool_.get();
  out.n_layer = static_cast<int>(cfg_.n_layer);
  out.segs.clear();
  out.tables.clear();
  out.block_ids.clear();
  int64_t row = 0;
  for (const SeqRows& r : rows) {
    out.segs.push_back({row, r.n, seq_len_.at(r.seq) - r.n});
    row += r.n;
  }
  for (uint32_t il = 0; il < cfg_.n_layer; ++il)
    for (const SeqRows& r : rows) {
      const Table& t = table(il, r.seq);
      out.tables.push_back({t.base_pos, seq_len_[r.seq] - t.base_pos, static_cast<int32_t>(out.block_ids.size()),
                            static_cast<int32_t>(t.ids.size())});
      out.block_ids.insert(out.block_ids.end(), t.ids.begin(), t.ids.end());
    }
}

int64_t KvCache::live_base(uint32_t layer, int64_t n) const {
  return live_base_for(cfg_.layer_chunk[layer], n);
}

std::vector<int32_t> KvCache::live_blocks(uint32_t layer, uint32_t seq) const {
  const Table& t = table(layer, seq);
  const int64_t n = seq_len_.at(seq), live = live_base(layer, n);
  if (live >= n) return {};
  const int64_t first = (live - t.base_pos) / cfg_.block_size;
  const int64_t end = (n - t.base_pos + cfg_.block_size - 1) / cfg_.block_size;
  return {t.ids.begin() + first, t.ids.begin() + end};
}

void KvCache::restore(uint32_t seq, int64_t n) {
  clear(seq);
  for (uint32_t il = 0; il < cfg_.n_layer; ++il) {
    Table& t = table(il, seq);
    t.base_pos = live_base(il, n);
    while (t.base_pos + static_cast<int64_t>(t.ids.size()) * cfg_.block_size < n) t.ids.push_back(take_block());
  }
  seq_len_.at(seq) = n;
}

void KvCache::clear(uint32_t seq) {
  for (uint32_t il = 0; il < cfg_.n_layer; ++il) {
    Table& t = table(il, seq);
    release(t);
    t.base_pos = 0;
  }
  seq_len_.at(seq) = 0;
}

int64_t KvCache::keepable_prefix(uint32_t seq, int64_t n) const {
  n = std::min(n, seq_len_.at(seq));
  int64_t keep = n;
  for (uint32_t il = 0; il < cfg_.n_layer; ++il) {
    const int64_t chunk = cfg_.layer_chunk[il];
    if (chunk == 0) continue;
    const int64_t start = n - n % chunk;  // the chunk position n falls in
    // Held from the table's base: n keeps its chunk's rows, or needs none at a boundary.
    if (start != n && start < table(il, seq).base_pos) keep = std::min(keep, start);
  }
  return keep;
}

void KvCache::truncate(uint32_t seq, int64_t n) {
  if (n < 0 || n > seq_len_.at(seq) || keepable_prefix(seq, n) != n)
    throw std::logic_error(fmt::format("KvCache::truncate: sequence {} cannot be cut to {} positions", seq, n));
  for (uint32_t il = 0; il < cfg_.n_layer; ++il) {
    Table& t = table(il, seq);
    if (n < t.base_pos) {  // a chunked layer cut at an earlier chunk boundary: nothing of it is read again
      release(t);
      t.base_pos = n;
      continue;
    }
    const size_t keep = static_cast<size_t>((n - t.base_pos + cfg_.block_size - 1) / cfg_.block_size);
    if (keep < t.ids.size()) {
      free_.insert(free_.end(), t.ids.begin() + static_cast<std::ptrdiff_t>(keep), t.ids.end());
      t.ids.resize(keep);
    }
  }
  seq_len_[seq] = n;
}

size_t KvCache::bytes_for(int64_t n) const {
  size_t blocks = 0;
  for (uint32_t il = 0; il < cfg_.n_layer; ++il) {
    const int64_t chunk = cfg_.layer_chunk[il];
    const int64_t held = chunk > 0 ? std::min(n, chunk) : n;
    blocks += static_cast<size_t>((held + cfg_.block_size - 1) / cfg_.block_size);
  }
  return blocks * block_bytes();
}

size_t KvCache::bytes_in_use() const {
  size_t n = 0;
  for (const Table& t : tables_) n += t.ids.size();
  return n * block_bytes();
}

size_t KvCache::layer_bytes(uint32_t layer, uint32_t seq) const { return table(layer, seq).ids.size() * block_bytes(); }

}  // namespace scout::engine
