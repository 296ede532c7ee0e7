// A weight matrix as it lies in the mapped file: n_out rows of n_in elements
// in any ggml type. Nothing is copied; a backend dequantizes rows as it goes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tensor/types.h"

namespace scout::runtime {

struct WeightView {
  std::string_view name;      // the GGUF tensor name (owned by the file)
  TensorType type = TensorType::F32;
  int64_t n_in = 0;           // ne[0]: the row length, the input dimension
  int64_t n_out = 0;          // number of rows, the output dimension
  size_t row_bytes = 0;       // stored bytes of one row
  const uint8_t* data = nullptr;

  bool empty() const { return data == nullptr; }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
  // Rows [first, first + n): one expert's matrix inside a stacked [n_in, F, E] tensor.
  WeightView rows(int64_t first, int64_t n) const {
    WeightView v = *this;
    v.data = row(first);
    v.n_out = n;
    return v;
  }
};

}  // namespace scout::runtime
