// The model makers' random numbers (model_maker.cpp, mmproj_maker.cpp):
// counter-based, so any element of any tensor is computed on its own, in any
// order or thread, and the same seed writes the same bytes; and the parallel
// loop that turns them into a tensor's stored rows.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "tensor/types.h"

namespace scout::maker {

// splitmix64's finaliser: a good 64-bit mix, cheap enough to call per element.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A tensor's key: the seed mixed with an FNV-1a hash of its name.
inline uint64_t tensor_key(uint64_t seed, const std::string& name) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ULL;
  return mix64(mix64(seed) ^ h);
}

// An approximately standard normal value for element `i`: the sum of four
// 16-bit uniforms (Irwin-Hall), centred and scaled to unit variance. Cheaper
// than Box-Muller by an order of magnitude (multi-GB models stay fast), and
// its bounded tails (|z| < 3.47) spare the quantizers pathological outliers.
inline float normal_at(uint64_t key, uint64_t i) {
  const uint64_t r = mix64(key + (i + 1) * 0x9E3779B97F4A7C15ULL);
  const uint32_t sum = static_cast<uint32_t>(r & 0xFFFF) + static_cast<uint32_t>((r >> 16) & 0xFFFF) +
                       static_cast<uint32_t>((r >> 32) & 0xFFFF) + static_cast<uint32_t>(r >> 48);
  constexpr float kScale = 1.7320508f / 65536.0f;  // sqrt(3) / 2^16: variance 4/12 -> 1
  return (static_cast<float>(sum) - 4.0f * 32767.5f) * kScale;  // mean of each uniform: 32767.5
}

// Fills nbytes of dst with rows of `type`, each of row_len values: fill(r,
// row) writes row r's floats, which are then quantized; rows in parallel.
// A quantizer's exception is rethrown after the parallel region.
void fill_rows(TensorType type, uint64_t row_len, uint8_t* dst, uint64_t nbytes,
               const std::function<void(int64_t r, float* row)>& fill);

}  // namespace scout::maker
