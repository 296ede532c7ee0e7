// The metadata keys scout understands, with the kind of value each must hold.
// A file that stores a known key with the wrong kind is rejected at load, so
// later code can read it without re-checking.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gguf/value.h"

namespace scout::gguf {

enum class KeyKind {
  Integer,  // any integer type
  Uint32,   // exactly uint32 (general.alignment)
  Float,    // float32 or float64
  Bool,
  String,
  StringArray,
  IntegerArray,
  FloatArray,      // array of float or integer elements
  IntegerOrArray,  // an integer, or one integer per layer
};

// Kind expected for `key` in a file whose general.architecture is `arch`
// (empty when the file has none); nullopt for keys scout does not check.
std::optional<KeyKind> known_key_kind(std::string_view key, std::string_view arch);

bool value_matches(const Value& v, KeyKind kind);

// "an integer", "an array of strings", ... for error messages.
std::string_view key_kind_description(KeyKind kind);

// "uint32", "array of float32", ... for error messages.
std::string value_type_description(const Value& v);

}  // namespace scout::gguf
