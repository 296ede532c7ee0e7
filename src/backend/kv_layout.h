// The KV cache's element types and the layout of one KV cache block: the keys
// and values of block_size consecutive positions of one layer of one
// sequence, for every kv head, in one allocation. K and V choose their types
// separately (-ctk / -ctv).
//   K, float types (f32, f16, bf16): [n_head_kv][head_dim_k][block_size],
//     transposed, so q.k for a run of positions is a sum of contiguous
//     vectors (vectorises across keys);
//   K, block-quantized types (q8_0, q4_0): [n_head_kv][block_size][row], each
//     position's key one row of ggml blocks along the head dimension, so a
//     query quantized the same way meets it in integer dot products;
//   V, every type: [n_head_kv][block_size][row]: a position's value row is
//     contiguous for the weighted sum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "tensor/types.h"

namespace scout::backend {

using scout::TensorType;

enum class KvType { F32, F16, BF16, Q8_0, Q4_0 };

struct KvTypeTraits {
  KvType type;
  std::string_view name;  // as the command line takes it (llama.cpp's names)
  TensorType tensor;      // the ggml type rows are stored in (quantize_row / dequantize_row)
  // The tensor type's block (tensor/types.h), here as constants: offsets into
  // blocks are computed in attention's inner loops (a test checks they agree).
  int block;              // elements per quantization block (1: a float type)
  int bytes;              // bytes per block
};

// Every KV type, in the order of the enum: one table for flags, plans and caches.
inline constexpr KvTypeTraits kKvTypes[] = {
    {KvType::F32, "f32", TensorType::F32, 1, 4},       {KvType::F16, "f16", TensorType::F16, 1, 2},
    {KvType::BF16, "bf16", TensorType::BF16, 1, 2},    {KvType::Q8_0, "q8_0", TensorType::Q8_0, 32, 34},
    {KvType::Q4_0, "q4_0", TensorType::Q4_0, 32, 18},
};

inline const KvTypeTraits& kv_traits(KvType t) { return kKvTypes[static_cast<int>(t)]; }
inline std::string_view kv_type_name(KvType t) { return kv_traits(t).name; }
inline TensorType kv_tensor_type(KvType t) { return kv_traits(t).tensor; }
inline int kv_block(KvType t) { return kv_traits(t).block; }
inline bool kv_quantized(KvType t) { return kv_block(t) > 1; }
// Bytes of n elements (n a multiple of the type's block).
inline size_t kv_row_bytes(KvType t, int64_t n) {
  return static_cast<size_t>(n / kv_traits(t).block) * static_cast<size_t>(kv_traits(t).bytes);
}
inline std::optional<KvType> parse_kv_type(std::string_view s) {
  for (const KvTypeTraits& t : kKvTypes)
    if (t.name == s) return t.type;
  return std::nullopt;
}

// The types of K and V; one type for both converts implicitly.
struct KvTypes {
  KvType k = KvType::F16;
  KvType v = KvType::F16;
  KvTypes() = default;
  KvTypes(KvType both) : k(both), v(both) {}  // NOLINT(google-explicit-constructor)
  KvTypes(KvType k_type, KvType v_type) : k(k_type), v(v_type) {}
  bool operator==(const KvTypes&) const = default;
  // "f16", or "q8_0/q4_0" when K and V differ.
  std::string name() const {
    return k == v ? std::string(kv_type_name(k)) : std::string(kv_type_name(k)) + "/" + std::string(kv_type_name(v));
  }
};

struct KvLayout {
  KvTypes types;
  int64_t block_size = 256;  // positions per block
  int n_head_kv = 0;
  int head_dim_k = 0;
  int head_dim_v = 0;

  bool k_transposed() const { return !kv_quantized(types.k); }
  // Bytes of one position's key (value) for one kv head.
  size_t k_row_bytes() const { return kv_row_bytes(types.k, head_dim_k); }
  size_t v_row_bytes() const { return kv_row_bytes(types.v, head_dim_v); }
  // One kv head's keys (values) in a block.
  size_t k_head_bytes() const { return static_cast<size_t>(block_size) * k_row_bytes(); }
  size_t v_head_bytes() const { return static_cast<size_t>(block_size) * v_row_bytes(); }
  size_t block_bytes() const { return static_cast<size_t>(n_head_kv) * (k_head_bytes() + v_head_bytes()); }
  // Byte offsets inside a block of kv head h's keys and values.
  size_t k_offset(int h) const { return static_cast<size_t>(h) * k_head_bytes(); }
  size_t v_offset(int h) const { return static_cast<size_t>(n_head_kv) * k_head_bytes() + h * v_head_bytes(); }
  // Bytes per position over all kv heads, K and V: what the cache costs per token and layer.
  size_t bytes_per_position() const { return static_cast<size_t>(n_head_kv) * (k_row_bytes() + v_row_bytes()); }

  // Empty, or why these types cannot hold these head dimensions (a
  // quantized type needs a multiple of its block).
  std::string problem() const {
    for (const auto& [t, d, what] : {std::tuple{types.k, head_dim_k, "K"}, std::tuple{types.v, head_dim_v, "V"}})
      if (d % kv_block(t) != 0)
        return std::string("a ") + std::string(kv_type_name(t)) + " " + what + " cache needs a head dimension that is a multiple of " +
               std::to_string(kv_block(t)) + ", and this model's is " + std::to_string(d);
    return {};
  }
};

}  // namespace scout::backend
