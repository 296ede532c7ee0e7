// A GGUF metadata value: a scalar, a string, or a flat array of one of them.
// Numbers keep their stored type and bytes so a read -> write round trip is exact.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace scout::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
constexpr uint32_t kValueTypeCount = 13;

std::string_view value_type_name(ValueType t);
// Size in bytes of a fixed-size scalar type; 0 for STRING and ARRAY.
size_t value_type_size(ValueType t);
bool is_integer_type(ValueType t);
bool is_float_type(ValueType t);

class Value {
 public:
  Value() = default;

  // Scalars.
  static Value u8(uint8_t v) { return scalar(ValueType::UINT8, &v, 1); }
  static Value i8(int8_t v) { return scalar(ValueType::INT8, &v, 1); }
  static Value u16(uint16_t v) { return scalar(ValueType::UINT16, &v, 2); }
  static Value i16(int16_t v) { return scalar(ValueType::INT16, &v, 2); }
  static Value u32(uint32_t v) { return scalar(ValueType::UINT32, &v, 4); }
  static Value i32(int32_t v) { return scalar(ValueType::INT32, &v, 4); }
  static Value u64(uint64_t v) { return scalar(ValueType::UINT64, &v, 8); }
  static Value i64(int64_t v) { return scalar(ValueType::INT64, &v, 8); }
  static Value f32(float v) { return scalar(ValueType::FLOAT32, &v, 4); }
  static Value f64(double v) { return scalar(ValueType::FLOAT64, &v, 8); }
  static Value boolean(bool v) { uint8_t b = v ? 1 : 0; return scalar(ValueType::BOOL, &b, 1); }
  static Value string(std::string s);
  // Arrays: of strings, or of one fixed-size type given as raw little-endian bytes.
  static Value string_array(std::vector<std::string> items);
  static Value raw_array(ValueType elem, std::vector<uint8_t> bytes);
  template <typename N>
  static Value array(ValueType elem, const std::vector<N>& items) {
    std::vector<uint8_t> bytes(items.size() * sizeof(N));
    if (!items.empty()) std::memcpy(bytes.data(), items.data(), bytes.size());
    return raw_array(elem, std::move(bytes));
  }

  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::ARRAY; }
  bool is_string() const { return type_ == ValueType::STRING; }
  bool is_integer() const { return is_integer_type(type_); }
  bool is_float() const { return is_float_type(type_); }

  // Scalar accessors; calling one on the wrong kind throws std::logic_error.
  int64_t as_int() const;      // any integer type (UINT64 above INT64_MAX throws)
  uint64_t as_uint() const;    // any integer type; negative throws
  double as_float() const;     // float or integer types
  bool as_bool() const;
  const std::string& as_string() const;

  // Arrays.
  ValueType array_type() const { return elem_; }
  size_t array_size() const;
  const std::vector<std::string>& strings() const;   // array of STRING
  int64_t int_at(size_t i) const;                     // array of integers
  double float_at(size_t i) const;                    // array of floats or integers
  const std::vector<uint8_t>& raw() const { return raw_; }  // scalar or numeric array bytes

  // A short human-readable rendering ("[202048 strings]" for long arrays).
  std::string to_display(size_t max_items = 8) const;

  bool operator==(const Value& o) const = default;

 private:
  static Value scalar(ValueType t, const void* p, size_t n);
  double number_at(ValueType t, const uint8_t* p) const;

  ValueType type_ = ValueType::UINT8;
  ValueType elem_ = ValueType::UINT8;   // element type when ARRAY
  std::vector<uint8_t> raw_;            // scalar bytes, or numeric array bytes
  std::string str_;                     // STRING
  std::vector<std::string> strs_;       // array of STRING
};

}  // namespace scout::gguf
