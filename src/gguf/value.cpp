#include "gguf/value.h"

#include <fmt/format.h>

#include <limits>
#include <stdexcept>

namespace scout::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "uint8";
    case ValueType::INT8: return "int8";
    case ValueType::UINT16: return "uint16";
    case ValueType::INT16: return "int16";
    case ValueType::UINT32: return "uint32";
    case ValueType::INT32: return "int32";
    case ValueType::FLOAT32: return "float32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "uint64";
    case ValueType::INT64: return "int64";
    case ValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

size_t value_type_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    case ValueType::STRING: case ValueType::ARRAY: return 0;
  }
  return 0;
}

bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
    case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
      return true;
    default: return false;
  }
}

bool is_float_type(ValueType t) { return t == ValueType::FLOAT32 || t == ValueType::FLOAT64; }

Value Value::scalar(ValueType t, const void* p, size_t n) {
  Value v;
  v.type_ = t;
  v.raw_.assign(static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.type_ = ValueType::STRING;
  v.str_ = std::move(s);
  return v;
}

Value Value::string_array(std::vector<std::string> items) {
  Value v;
  v.type_ = ValueType::ARRAY;
  v.elem_ = ValueType::STRING;
  v.strs_ = std::move(items);
  return v;
}

Value Value::raw_array(ValueType elem, std::vector<uint8_t> bytes) {
  const size_t size = value_type_size(elem);
  if (size == 0) throw std::logic_error("raw_array: element type must be a fixed-size scalar");
  if (bytes.size() % size != 0) throw std::logic_error("raw_array: byte count not a multiple of the element size");
  Value v;
  v.type_ = ValueType::ARRAY;
  v.elem_ = elem;
  v.raw_ = std::move(bytes);
  return v;
}

double Value::number_at(ValueType t, const uint8_t* p) const {
  auto load = [p](auto zero) { decltype(zero) x; std::memcpy(&x, p, sizeof x); return x; };
  switch (t) {
    case ValueType::UINT8: return load(uint8_t{});
    case ValueType::INT8: return load(int8_t{});
    case ValueType::UINT16: return load(uint16_t{});
    case ValueType::INT16: return load(int16_t{});
    case ValueType::UINT32: return load(uint32_t{});
    case ValueType::INT32: return load(int32_t{});
    case ValueType::UINT64: return static_cast<double>(load(uint64_t{}));
    case ValueType::INT64: return static_cast<double>(load(int64_t{}));
    case ValueType::FLOAT32: return load(float{});
    case ValueType::FLOAT64: return load(double{});
    case ValueType::BOOL: return p[0] != 0;
    default: throw std::logic_error("gguf value is not a number");
  }
}

namespace {
// Exact integer read, wide enough for every integer type.
template <typename Out>
bool read_integer(ValueType t, const uint8_t* p, Out& out) {
  auto load = [p](auto zero) { decltype(zero) x; std::memcpy(&x, p, sizeof x); return x; };
  switch (t) {
    case ValueType::UINT8: out = static_cast<Out>(load(uint8_t{})); return true;
    case ValueType::INT8: out = static_cast<Out>(load(int8_t{})); return load(int8_t{}) >= 0 || std::is_signed_v<Out>;
    case ValueType::UINT16: out = static_cast<Out>(load(uint16_t{})); return true;
    case ValueType::INT16: out = static_cast<Out>(load(int16_t{})); return load(int16_t{}) >= 0 || std::is_signed_v<Out>;
    case ValueType::UINT32: out = static_cast<Out>(load(uint32_t{})); return true;
    case ValueType::INT32: out = static_cast<Out>(load(int32_t{})); return load(int32_t{}) >= 0 || std::is_signed_v<Out>;
    case ValueType::UINT64: {
      uint64_t x = load(uint64_t{});
      out = static_cast<Out>(x);
      return std::is_unsigned_v<Out> || x <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    }
    case ValueType::INT64: out = static_cast<Out>(load(int64_t{})); return load(int64_t{}) >= 0 || std::is_signed_v<Out>;
    default: return false;
  }
}
}  // namespace

int64_t Value::as_int() const {
  int64_t out = 0;
  if (!is_integer() || !read_integer(type_, raw_.data(), out))
    throw std::logic_error(fmt::format("gguf value of type {} is not a signed 64-bit integer", value_type_name(type_)));
  return out;
}

uint64_t Value::as_uint() const {
  uint64_t out = 0;
  if (!is_integer() || !read_integer(type_, raw_.data(), out))
    throw std::logic_error(fmt::format("gguf value of type {} is not a non-negative integer", value_type_name(type_)));
  return out;
}

double Value::as_float() const {
  if (!is_integer() && !is_float()) throw std::logic_error("gguf value is not a number");
  return number_at(type_, raw_.data());
}

bool Value::as_bool() const {
  if (type_ != ValueType::BOOL) throw std::logic_error("gguf value is not a bool");
  return raw_[0] != 0;
}

const std::string& Value::as_string() const {
  if (type_ != ValueType::STRING) throw std::logic_error("gguf value is not a string");
  return str_;
}

size_t Value::array_size() const {
  if (!is_array()) throw std::logic_error("gguf value is not an array");
  return elem_ == ValueType::STRING ? strs_.size() : raw_.size() / value_type_size(elem_);
}

const std::vector<std::string>& Value::strings() const {
  if (!is_array() || elem_ != ValueType::STRING) throw std::logic_error("gguf value is not an array of strings");
  return strs_;
}

int64_t Value::int_at(size_t i) const {
  if (!is_array() || !is_integer_type(elem_)) throw std::logic_error("gguf value is not an array of integers");
  if (i >= array_size()) throw std::out_of_range("gguf array index out of range");
  int64_t out = 0;
  if (!read_integer(elem_, raw_.data() + i * value_type_size(elem_), out))
    throw std::logic_error("gguf array element does not fit a signed 64-bit integer");
  return out;
}

double Value::float_at(size_t i) const {
  if (!is_array() || elem_ == ValueType::STRING) throw std::logic_error("gguf value is not an array of numbers");
  if (i >= array_size()) throw std::out_of_range("gguf array index out of range");
  return number_at(elem_, raw_.data() + i * value_type_size(elem_));
}

std::string Value::to_display(size_t max_items) const {
  switch (type_) {
    case ValueType::STRING: return str_.size() > 120 ? fmt::format("\"{}...\" ({} bytes)", str_.substr(0, 100), str_.size()) : "\"" + str_ + "\"";
    case ValueType::BOOL: return as_bool() ? "true" : "false";
    case ValueType::FLOAT32: case ValueType::FLOAT64: return fmt::format("{}", as_float());
    case ValueType::ARRAY: {
      const size_t n = array_size();
      if (n > max_items) return fmt::format("[{} {}]", n, value_type_name(elem_));
      std::string out = "[";
      for (size_t i = 0; i < n; ++i) {
        if (i) out += ", ";
        if (elem_ == ValueType::STRING) out += "\"" + strs_[i] + "\"";
        else if (elem_ == ValueType::BOOL) out += raw_[i] ? "true" : "false";
        else if (is_float_type(elem_)) out += fmt::format("{}", float_at(i));
        else if (elem_ == ValueType::UINT64) { uint64_t x; std::memcpy(&x, raw_.data() + i * 8, 8); out += std::to_string(x); }
        else out += std::to_string(int_at(i));
      }
      return out + "]";
    }
    default:
      return type_ == ValueType::UINT64 ? std::to_string(as_uint()) : std::to_string(as_int());
  }
}

}  // namespace scout::gguf
