// The ggml tensor type table: every type id a GGUF file may name, with its
// block geometry, so any real file validates even where scout cannot compute.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace scout {

// Values are the ggml type ids stored in GGUF tensor infos. Gaps are ids
// ggml has retired (Q4_2, Q4_3, the Q4_0_4_4 family, IQ4_NL_4_4 family).
enum class TensorType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21,
  IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct TypeTraits {
  TensorType type;
  std::string_view name;   // ggml's lower-case name: "q4_K", "bf16"
  uint32_t block_size;     // elements per block (1 for plain types)
  uint32_t block_bytes;    // bytes per block
  bool quantized;
};

// nullptr for an id ggml does not define.
const TypeTraits* find_type_traits(uint32_t id);
const TypeTraits& type_traits(TensorType t);
inline std::string_view type_name(TensorType t) { return type_traits(t).name; }
// Case-insensitive: "Q4_K", "q4_k" and "q4_K" all name Q4_K.
std::optional<TensorType> type_from_name(std::string_view name);
const std::vector<TypeTraits>& all_type_traits();

// Bytes of a row of n elements; n must be a multiple of the block size.
inline uint64_t row_bytes(TensorType t, uint64_t n) {
  const TypeTraits& tt = type_traits(t);
  return n / tt.block_size * tt.block_bytes;
}

}  // namespace scout
