#include "gguf/known_keys.h"

#include <array>
#include <utility>

namespace scout::gguf {

namespace {

using K = KeyKind;

// Keys with a fixed name.
constexpr std::array<std::pair<std::string_view, KeyKind>, 42> kGlobalKeys = {{
    {"general.architecture", K::String},
    {"general.alignment", K::Uint32},
    {"general.file_type", K::Integer},
    {"general.quantization_version", K::Integer},
    {"general.type", K::String},
    {"general.name", K::String},
    {"general.author", K::String},
    {"general.version", K::String},
    {"general.organization", K::String},
    {"general.basename", K::String},
    {"general.finetune", K::String},
    {"general.description", K::String},
    {"general.quantized_by", K::String},
    {"general.size_label", K::String},
    {"general.license", K::String},
    {"general.license.name", K::String},
    {"general.license.link", K::String},
    {"general.url", K::String},
    {"general.doi", K::String},
    {"general.uuid", K::String},
    {"general.repo_url", K::String},
    {"general.source.url", K::String},
    {"general.source.doi", K::String},
    {"general.source.uuid", K::String},
    {"general.source.repo_url", K::String},
    {"tokenizer.ggml.model", K::String},
    {"tokenizer.ggml.pre", K::String},
    {"tokenizer.ggml.tokens", K::StringArray},
    {"tokenizer.ggml.merges", K::StringArray},
    {"tokenizer.ggml.token_type", K::IntegerArray},
    {"tokenizer.ggml.scores", K::FloatArray},
    {"tokenizer.ggml.bos_token_id", K::Integer},
    {"tokenizer.ggml.eos_token_id", K::Integer},
    {"tokenizer.ggml.unknown_token_id", K::Integer},
    {"tokenizer.ggml.padding_token_id", K::Integer},
    {"tokenizer.ggml.eot_token_id", K::Integer},
    {"tokenizer.ggml.eom_token_id", K::Integer},
    {"tokenizer.ggml.add_bos_token", K::Bool},
    {"tokenizer.ggml.add_eos_token", K::Bool},
    {"tokenizer.chat_template", K::String},
    {"tokenizer.ggml.seperator_token_id", K::Integer},  // sic: llama.cpp's spelling
    {"tokenizer.ggml.cls_token_id", K::Integer},
}};

// Keys named "<arch>.SUFFIX" after the file's own general.architecture.
constexpr std::array<std::pair<std::string_view, KeyKind>, 18> kArchKeys = {{
    {"context_length", K::Integer},
    {"embedding_length", K::Integer},
    {"block_count", K::Integer},
    // Some real files store these three per layer.
    {"feed_forward_length", K::IntegerOrArray},
    {"attention.head_count", K::IntegerOrArray},
    {"attention.head_count_kv", K::IntegerOrArray},
    {"expert_feed_forward_length", K::Integer},
    {"attention.key_length", K::Integer},
    {"attention.value_length", K::Integer},
    {"rope.dimension_count", K::Integer},
    {"expert_count", K::Integer},
    {"expert_used_count", K::Integer},
    {"interleave_moe_layer_step", K::Integer},
    {"vocab_size", K::Integer},
    {"attention.sliding_window", K::Integer},
    {"no_rope_layer_step", K::Integer},
    {"attention.layer_norm_rms_epsilon", K::Float},
    {"rope.freq_base", K::Float},
}};

}  // namespace

std::optional<KeyKind> known_key_kind(std::string_view key, std::string_view arch) {
  for (const auto& [name, kind] : kGlobalKeys)
    if (name == key) return kind;
  if (arch.empty() || key.size() <= arch.size() + 1 || !key.starts_with(arch) || key[arch.size()] != '.')
    return std::nullopt;
  const std::string_view suffix = key.substr(arch.size() + 1);
  for (const auto& [name, kind] : kArchKeys)
    if (name == suffix) return kind;
  return std::nullopt;
}

bool value_matches(const Value& v, KeyKind kind) {
  const bool array = v.is_array();
  const ValueType elem = array ? v.array_type() : v.type();
  switch (kind) {
    case K::Integer: return !array && is_integer_type(elem);
    case K::Uint32: return !array && elem == ValueType::UINT32;
    case K::Float: return !array && is_float_type(elem);
    case K::Bool: return !array && elem == ValueType::BOOL;
    case K::String: return !array && elem == ValueType::STRING;
    case K::StringArray: return array && elem == ValueType::STRING;
    case K::IntegerArray: return array && is_integer_type(elem);
    case K::FloatArray: return array && (is_float_type(elem) || is_integer_type(elem));
    case K::IntegerOrArray: return is_integer_type(elem);
  }
  return false;
}

std::string_view key_kind_description(KeyKind kind) {
  switch (kind) {
    case K::Integer: return "an integer";
    case K::Uint32: return "uint32";
    case K::Float: return "float32 or float64";
    case K::Bool: return "bool";
    case K::String: return "a string";
    case K::StringArray: return "an array of strings";
    case K::IntegerArray: return "an array of integers";
    case K::FloatArray: return "an array of numbers";
    case K::IntegerOrArray: return "an integer or an array of integers";
  }
  return "?";
}

std::string value_type_description(const Value& v) {
  if (!v.is_array()) return std::string(value_type_name(v.type()));
  return "array of " + std::string(value_type_name(v.array_type()));
}

}  // namespace scout::gguf
