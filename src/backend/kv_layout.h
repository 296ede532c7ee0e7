// The layout of one KV cache block: the keys and values of block_size
// consecutive positions of one layer of one sequence, for every kv head, in
// one allocation. Elements are f16 or f32.
//   K as [n_head_kv][head_dim_k][block_size]: transposed, so q.k for a run of
//     positions is a sum of contiguous vectors (vectorises across keys);
//   V as [n_head_kv][block_size][head_dim_v]: a position's value row is
//     contiguous for the weighted sum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace scout::backend {

enum class KvType { F16, F32 };

inline size_t kv_type_size(KvType t) { return t == KvType::F16 ? 2 : 4; }
inline std::string_view kv_type_name(KvType t) { return t == KvType::F16 ? "f16" : "f32"; }
// The names the command line takes ("f16", "f32"): one list for every flag and plan.
inline constexpr std::string_view kKvTypeNames[] = {"f16", "f32"};
inline std::optional<KvType> parse_kv_type(std::string_view s) {
  if (s == "f16") return KvType::F16;
  if (s == "f32") return KvType::F32;
  return std::nullopt;
}

struct KvLayout {
  KvType type = KvType::F16;
  int64_t block_size = 256;  // positions per block
  int n_head_kv = 0;
  int head_dim_k = 0;
  int head_dim_v = 0;

  size_t elem() const { return kv_type_size(type); }
  size_t block_bytes() const {
    return static_cast<size_t>(n_head_kv) * block_size * (head_dim_k + head_dim_v) * elem();
  }
  // Byte offsets inside a block of kv head h's keys ([dim 0][slot 0]) and values ([slot 0][dim 0]).
  size_t k_offset(int h) const { return static_cast<size_t>(h) * block_size * head_dim_k * elem(); }
  size_t v_offset(int h) const {
    return static_cast<size_t>(n_head_kv) * block_size * head_dim_k * elem() +
           static_cast<size_t>(h) * block_size * head_dim_v * elem();
  }
};

}  // namespace scout::backend
