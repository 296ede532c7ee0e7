#include "maker/config_fields.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <limits>
#include <stdexcept>

namespace scout::maker {

using nlohmann::json;

void ConfigFields::fail(const std::string& what) const { throw std::runtime_error(config_ + ": " + what); }

std::string ConfigFields::show(const json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

uint64_t ConfigFields::get_uint(const json& v, const std::string& field, uint64_t max) const {
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
    fail(fmt::format("field '{}' must be a non-negative integer, got {}", field, show(v)));
  const uint64_t x = v.get<uint64_t>();
  if (x > max) fail(fmt::format("field '{}' = {} is too large (max {})", field, x, max));
  return x;
}

uint32_t ConfigFields::get_u32(const json& v, const std::string& field) const {
  return static_cast<uint32_t>(get_uint(v, field, std::numeric_limits<uint32_t>::max()));
}

float ConfigFields::get_float(const json& v, const std::string& field) const {
  if (!v.is_number()) fail(fmt::format("field '{}' must be a number, got {}", field, show(v)));
  return v.get<float>();
}

bool ConfigFields::get_bool(const json& v, const std::string& field) const {
  if (!v.is_boolean()) fail(fmt::format("field '{}' must be true or false, got {}", field, show(v)));
  return v.get<bool>();
}

std::string ConfigFields::get_string(const json& v, const std::string& field) const {
  if (!v.is_string()) fail(fmt::format("field '{}' must be a string, got {}", field, show(v)));
  return v.get<std::string>();
}

TensorType ConfigFields::get_type(const json& v, const std::string& field) const {
  const std::string s = get_string(v, field);
  const auto t = type_from_name(s);
  if (!t) fail(fmt::format("field '{}': unknown tensor type '{}'", field, s));
  return *t;
}

}  // namespace scout::maker
