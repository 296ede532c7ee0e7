#include "tensor/tensor_convert.h"

#include <stdexcept>
#include <string>

#include "tensor/dequant.h"
#include "tensor/quant.h"

namespace scout {

std::vector<float> dequantize(TensorType t, const void* src, int64_t n) {
  if (n < 0) throw std::invalid_argument("dequantize: negative element count");
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(t, src, out.data(), n);
  return out;
}

std::vector<uint8_t> quantize(TensorType t, const float* src, int64_t n) {
  if (n < 0) throw std::invalid_argument("quantize: negative element count");
  if (!can_quantize(t))
    throw std::invalid_argument("quantize: no quantizer for type id " + std::to_string(static_cast<uint32_t>(t)));
  std::vector<uint8_t> out(row_bytes(t, static_cast<uint64_t>(n)));
  quantize_row(t, src, out.data(), n);
  return out;
}

}  // namespace scout
