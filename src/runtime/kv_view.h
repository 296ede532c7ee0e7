// What attention reads from the KV cache for one layer of one sequence: the
// positions [base_pos, base_pos + n_pos) stored in fixed-size blocks.
//
// Block layout (one allocation per block), elements f16 or f32:
//   K as [n_head_kv][head_dim_k][block_size]: transposed, so q.k for a run of
//     positions is a sum of contiguous vectors (vectorises across keys);
//   V as [n_head_kv][block_size][head_dim_v]: a position's value row is
//     contiguous for the weighted sum.
#pragma once

#include <cstddef>
#include <cstdint>

namespace scout::runtime {

enum class KvType { F16, F32 };

inline size_t kv_type_size(KvType t) { return t == KvType::F16 ? 2 : 4; }

struct KvLayerView {
  KvType type = KvType::F16;
  int64_t block_size = 256;
  int64_t base_pos = 0;        // position stored in slot 0 of blocks[0]
  int64_t n_pos = 0;           // positions held
  int n_head_kv = 0;
  int head_dim_k = 0;
  int head_dim_v = 0;
  const std::byte* const* blocks = nullptr;

  // Start of K (element [dim 0][slot 0]) or V ([slot 0][dim 0]) for kv head `head` of block b.
  const std::byte* k_block(int64_t b, int head) const {
    return blocks[b] + static_cast<size_t>(head) * block_size * head_dim_k * kv_type_size(type);
  }
  const std::byte* v_block(int64_t b, int head) const {
    const size_t k_bytes = static_cast<size_t>(n_head_kv) * block_size * head_dim_k * kv_type_size(type);
    return blocks[b] + k_bytes + static_cast<size_t>(head) * block_size * head_dim_v * kv_type_size(type);
  }
};

}  // namespace scout::runtime
