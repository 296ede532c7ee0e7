#include "maker/random_values.h"

#include <exception>
#include <mutex>
#include <vector>

#include "tensor/quant.h"

namespace scout::maker {

void fill_rows(TensorType type, uint64_t row_len, uint8_t* dst, uint64_t nbytes,
               const std::function<void(int64_t r, float* row)>& fill) {
  const uint64_t rb = row_bytes(type, row_len);
  const int64_t rows = static_cast<int64_t>(nbytes / rb);
  std::exception_ptr error;
  std::mutex error_mutex;
#pragma omp parallel
  {
    std::vector<float> row(row_len);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      fill(r, row.data());
      try {
        quantize_row(type, row.data(), dst + static_cast<uint64_t>(r) * rb, static_cast<int64_t>(row_len));
      } catch (...) {  // exceptions must not leave an OpenMP region
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace scout::maker
