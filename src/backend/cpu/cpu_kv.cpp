#include "backend/cpu/cpu_kv.h"

#include <fmt/format.h>

#include <stdexcept>

namespace scout::backend::cpu {

void CpuKvPool::reserve(int32_t n_blocks) {
  // No zeroing: slots are written before they are read.
  while (capacity() < n_blocks) blocks_.push_back(std::make_unique_for_overwrite<std::byte[]>(layout().block_bytes()));
}

KvLayerView kv_view(const KvPass& kv, int layer, size_t seg, std::vector<const std::byte*>& ptrs) {
  const auto& pool = static_cast<const CpuKvPool&>(*kv.pool);
  const KvTable& t = kv.table(layer, seg);
  ptrs.resize(static_cast<size_t>(t.n_blocks));
  for (int32_t b = 0; b < t.n_blocks; ++b) ptrs[static_cast<size_t>(b)] = pool.block(kv.block_ids[static_cast<size_t>(t.first_id + b)]);
  KvLayerView v;
  v.layout = pool.layout();
  v.base_pos = t.base_pos;
  v.n_pos = t.n_pos;
  v.blocks = ptrs.data();
  return v;
}

namespace {

// Writes count values of src to dst with a stride, as f32 or rounded to f16 (nearest even).
void put(std::byte* dst, KvType type, size_t stride, const float* src, int64_t count) {
  if (type == KvType::F32) {
    auto* f = reinterpret_cast<float*>(dst);
    for (int64_t i = 0; i < count; ++i) f[i * stride] = src[i];
  } else {
    auto* h = reinterpret_cast<_Float16*>(dst);
    for (int64_t i = 0; i < count; ++i) h[i * stride] = static_cast<_Float16>(src[i]);
  }
}

}  // namespace

void kv_store(const KvPass& kv, int layer, size_t seg, const float* k, const float* v) {
  const auto& pool = static_cast<const CpuKvPool&>(*kv.pool);
  const KvLayout& L = pool.layout();
  const KvSegment& s = kv.segs[seg];
  const KvTable& t = kv.table(layer, seg);
  if (s.first_pos < t.base_pos || s.first_pos + s.n_rows > t.base_pos + t.n_pos)
    throw std::logic_error(fmt::format("kv_write: positions [{}, {}) are not in the cache", s.first_pos, s.first_pos + s.n_rows));
  const int64_t bs = L.block_size, dk = L.head_dim_k, dv = L.head_dim_v;
  const size_t es = L.elem();
  for (int64_t i = 0; i < s.n_rows; ++i) {
    const int64_t rel = s.first_pos + i - t.base_pos, b = rel / bs, slot = rel % bs;
    std::byte* block = pool.block(kv.block_ids[static_cast<size_t>(t.first_id + b)]);
    const int64_t r = s.row + i;
    for (int h = 0; h < L.n_head_kv; ++h) {
      put(block + L.k_offset(h) + slot * es, L.type, static_cast<size_t>(bs), k + (r * L.n_head_kv + h) * dk, dk);  // transposed
      put(block + L.v_offset(h) + slot * dv * es, L.type, 1, v + (r * L.n_head_kv + h) * dv, dv);
    }
  }
}

}  // namespace scout::backend::cpu
