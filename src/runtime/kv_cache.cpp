#include "runtime/kv_cache.h"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

namespace scout::runtime {

KvCache::KvCache(KvCacheConfig cfg) : cfg_(std::move(cfg)) {
  if (cfg_.layer_chunk.empty()) cfg_.layer_chunk.assign(cfg_.n_layer, 0);
  if (cfg_.layer_chunk.size() != cfg_.n_layer) throw std::invalid_argument("KvCache: layer_chunk must have one entry per layer");
  if (cfg_.block_size == 0 || cfg_.n_seq == 0) throw std::invalid_argument("KvCache: block_size and n_seq must be non-zero");
  block_bytes_ = static_cast<size_t>(cfg_.n_head_kv) * cfg_.block_size * (cfg_.head_dim_k + cfg_.head_dim_v) *
                 kv_type_size(cfg_.type);
  tables_.resize(static_cast<size_t>(cfg_.n_layer) * cfg_.n_seq);
  seq_len_.assign(cfg_.n_seq, 0);
}

int32_t KvCache::take_block() {
  if (!free_.empty()) {
    const int32_t id = free_.back();
    free_.pop_back();
    return id;
  }
  pool_.push_back(std::make_unique_for_overwrite<std::byte[]>(block_bytes_));  // no zeroing: slots are written before read
  return static_cast<int32_t>(pool_.size() - 1);
}

void KvCache::release(Table& t) {
  free_.insert(free_.end(), t.ids.begin(), t.ids.end());
  t.ids.clear();
  t.ptrs.clear();
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
    while (t.base_pos + static_cast<int64_t>(t.ids.size()) * cfg_.block_size < end) {
      const int32_t id = take_block();
      t.ids.push_back(id);
      t.ptrs.push_back(pool_[id].get());
    }
  }
  seq_len_[seq] = end;
}

void KvCache::store(uint32_t layer, uint32_t seq, int64_t first, int64_t n, const float* k, const float* v) {
  const Table& t = table(layer, seq);
  if (first < t.base_pos || first + n > seq_len_.at(seq))
    throw std::logic_error(fmt::format("KvCache::store: positions [{}, {}) are not in the cache", first, first + n));
  const KvLayerView view = this->view(layer, seq);
  const int64_t bs = cfg_.block_size, dk = cfg_.head_dim_k, dv = cfg_.head_dim_v;
  const size_t es = kv_type_size(cfg_.type);
  auto put = [&](const std::byte* dst_c, size_t stride, const float* src, int64_t count) {
    auto* dst = const_cast<std::byte*>(dst_c);
    if (cfg_.type == KvType::F32) {
      auto* f = reinterpret_cast<float*>(dst);
      for (int64_t i = 0; i < count; ++i) f[i * stride] = src[i];
    } else {
      auto* h = reinterpret_cast<_Float16*>(dst);
      for (int64_t i = 0; i < count; ++i) h[i * stride] = static_cast<_Float16>(src[i]);  // round to nearest even
    }
  };
  for (int64_t i = 0; i < n; ++i) {
    const int64_t rel = first + i - t.base_pos, b = rel / bs, slot = rel % bs;
    for (uint32_t h = 0; h < cfg_.n_head_kv; ++h) {
      put(view.k_block(b, h) + slot * es, static_cast<size_t>(bs), k + (i * cfg_.n_head_kv + h) * dk, dk);  // transposed
      put(view.v_block(b, h) + slot * dv * es, 1, v + (i * cfg_.n_head_kv + h) * dv, dv);
    }
  }
}

KvLayerView KvCache::view(uint32_t layer, uint32_t seq) const {
  const Table& t = table(layer, seq);
  KvLayerView v;
  v.type = cfg_.type;
  v.block_size = cfg_.block_size;
  v.base_pos = t.base_pos;
  v.n_pos = seq_len_.at(seq) - t.base_pos;
  v.n_head_kv = static_cast<int>(cfg_.n_head_kv);
  v.head_dim_k = static_cast<int>(cfg_.head_dim_k);
  v.head_dim_v = static_cast<int>(cfg_.head_dim_v);
  v.blocks = t.ptrs.data();
  return v;
}

void KvCache::clear(uint32_t seq) {
  for (uint32_t il = 0; il < cfg_.n_layer; ++il) {
    Table& t = table(il, seq);
    release(t);
    t.base_pos = 0;
  }
  seq_len_.at(seq) = 0;
}

size_t KvCache::bytes_in_use() const {
  size_t n = 0;
  for (const Table& t : tables_) n += t.ids.size();
  return n * block_bytes_;
}

size_t KvCache::layer_bytes(uint32_t layer, uint32_t seq) const { return table(layer, seq).ids.size() * block_bytes_; }

}  // namespace scout::runtime
