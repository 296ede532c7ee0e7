// Readers of the makers' JSON config fields (model_config.cpp for text
// models, mmproj_maker.cpp for vision projectors): each checks one value and
// throws std::runtime_error "<config>: field 'F' must be ..., got <value>".
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

#include "tensor/types.h"

namespace scout::maker {

class ConfigFields {
 public:
  explicit ConfigFields(std::string config) : config_(std::move(config)) {}

  [[noreturn]] void fail(const std::string& what) const;
  uint64_t get_uint(const nlohmann::json& v, const std::string& field, uint64_t max) const;
  uint32_t get_u32(const nlohmann::json& v, const std::string& field) const;
  float get_float(const nlohmann::json& v, const std::string& field) const;
  bool get_bool(const nlohmann::json& v, const std::string& field) const;
  std::string get_string(const nlohmann::json& v, const std::string& field) const;
  TensorType get_type(const nlohmann::json& v, const std::string& field) const;

  // A value as messages quote it: its JSON, cut to 60 characters.
  static std::string show(const nlohmann::json& v);

 private:
  std::string config_;  // "model config", "mmproj config"
};

}  // namespace scout::maker
