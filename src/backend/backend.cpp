#include "backend/backend.h"

#include <fmt/format.h>

#include <stdexcept>

namespace scout::backend {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::I32: return 4;
    case DType::F64: return 8;
  }
  return 4;
}

namespace {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::I32: return "i32";
    case DType::F64: return "f64";
  }
  return "?";
}

}  // namespace

Tensor Tensor::slice_rows(int64_t first, int64_t n) const {
  if (first < 0 || n < 0 || first + n > rows)
    throw std::logic_error(fmt::format("rows [{}, {}) of a tensor of {}", first, first + n, rows));
  Tensor t = *this;
  t.data = static_cast<std::byte*>(data) + static_cast<size_t>(first * cols) * dtype_size(dtype);
  t.rows = n;
  return t;
}

Tensor Tensor::view_as(int64_t new_cols) const {
  if (new_cols <= 0 || size() % new_cols != 0)
    throw std::logic_error(fmt::format("a [{}][{}] tensor cannot be seen as rows of {}", rows, cols, new_cols));
  Tensor t = *this;
  t.rows = size() / new_cols;
  t.cols = new_cols;
  return t;
}

Tensor Tensor::prefix(int64_t r, int64_t c) const {
  if (r < 0 || c < 0 || r * c > size())
    throw std::logic_error(fmt::format("[{}][{}] of a tensor of {} elements", r, c, size()));
  Tensor t = *this;
  t.rows = r;
  t.cols = c;
  return t;
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    owner_ = o.owner_;
    t_ = o.t_;
    o.owner_ = nullptr;
    o.t_ = {};
  }
  return *this;
}

void Buffer::reset() {
  if (owner_ && t_.data) owner_->free(t_.data);
  owner_ = nullptr;
  t_ = {};
}

Weight Weight::rows(int64_t first, int64_t n) const {
  Weight w = *this;
  w.data = row(first);
  if (host) w.host = host + static_cast<size_t>(first) * row_bytes;
  w.n_out = n;
  return w;
}

void check_shape(const char* op, const Tensor& t, int64_t rows, int64_t cols, DType dtype) {
  if (t.rows == rows && t.cols == cols && t.dtype == dtype && (t.data || t.size() == 0)) return;
  throw std::logic_error(fmt::format("{}: a {} [{}][{}] tensor where [{}][{}] {} is needed", op, dtype_name(t.dtype),
                                     t.rows, t.cols, rows, cols, dtype_name(dtype)));
}

}  // namespace scout::backend
