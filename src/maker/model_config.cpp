#include "maker/model_config.h"

#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "maker/presets.h"

namespace scout::maker {

using nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("model config: " + what); }

std::string show(const json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

uint64_t get_uint(const json& v, const std::string& field, uint64_t max) {
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
    fail(fmt::format("field '{}' must be a non-negative integer, got {}", field, show(v)));
  const uint64_t x = v.get<uint64_t>();
  if (x > max) fail(fmt::format("field '{}' = {} is too large (max {})", field, x, max));
  return x;
}
uint32_t get_u32(const json& v, const std::string& field) {
  return static_cast<uint32_t>(get_uint(v, field, std::numeric_limits<uint32_t>::max()));
}
float get_float(const json& v, const std::string& field) {
  if (!v.is_number()) fail(fmt::format("field '{}' must be a number, got {}", field, show(v)));
  return v.get<float>();
}
bool get_bool(const json& v, const std::string& field) {
  if (!v.is_boolean()) fail(fmt::format("field '{}' must be true or false, got {}", field, show(v)));
  return v.get<bool>();
}
std::string get_string(const json& v, const std::string& field) {
  if (!v.is_string()) fail(fmt::format("field '{}' must be a string, got {}", field, show(v)));
  return v.get<std::string>();
}
TensorType get_type(const json& v, const std::string& field) {
  const std::string s = get_string(v, field);
  auto t = type_from_name(s);
  if (!t) fail(fmt::format("field '{}': unknown tensor type '{}'", field, s));
  return *t;
}

VocabSource parse_vocab(const json& v) {
  if (!v.is_object()) fail(fmt::format("field 'vocab' must be an object, got {}", show(v)));
  VocabSource src;
  bool has_builtin = false, has_tiktoken = false;
  for (const auto& [k, x] : v.items()) {
    if (k == "builtin") {
      has_builtin = get_bool(x, "vocab.builtin");
      if (!has_builtin) fail("field 'vocab.builtin' can only be true (give 'tiktoken' instead)");
    } else if (k == "tiktoken") {
      src.tiktoken = get_string(x, "vocab.tiktoken");
      has_tiktoken = true;
    } else if (k == "max_ranks") {
      src.max_ranks = get_uint(x, "vocab.max_ranks", std::numeric_limits<uint32_t>::max());
    } else {
      fail(fmt::format("unknown field 'vocab.{}' (known: builtin, tiktoken, max_ranks)", k));
    }
  }
  if (has_builtin == has_tiktoken) fail("field 'vocab' needs exactly one of 'builtin' and 'tiktoken'");
  if (has_builtin && src.max_ranks) fail("field 'vocab.max_ranks' needs 'tiktoken'");
  src.builtin = has_builtin;
  return src;
}

using Setter = std::function<void(const json&, ModelConfig&)>;

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> table = {
      {"arch", [](const json& v, ModelConfig& c) { c.arch = get_string(v, "arch"); }},
      {"name", [](const json& v, ModelConfig& c) { c.name = get_string(v, "name"); }},
      {"n_layer", [](const json& v, ModelConfig& c) { c.n_layer = get_u32(v, "n_layer"); }},
      {"d_model", [](const json& v, ModelConfig& c) { c.d_model = get_u32(v, "d_model"); }},
      {"n_head", [](const json& v, ModelConfig& c) { c.n_head = get_u32(v, "n_head"); }},
      {"n_head_kv", [](const json& v, ModelConfig& c) { c.n_head_kv = get_u32(v, "n_head_kv"); }},
      {"head_dim", [](const json& v, ModelConfig& c) { c.head_dim = get_u32(v, "head_dim"); }},
      {"n_expert", [](const json& v, ModelConfig& c) { c.n_expert = get_u32(v, "n_expert"); }},
      {"n_expert_used", [](const json& v, ModelConfig& c) { c.n_expert_used = get_u32(v, "n_expert_used"); }},
      {"expert_ff", [](const json& v, ModelConfig& c) { c.expert_ff = get_u32(v, "expert_ff"); }},
      {"dense_ff", [](const json& v, ModelConfig& c) { c.dense_ff = get_u32(v, "dense_ff"); }},
      {"shared_expert", [](const json& v, ModelConfig& c) { c.shared_expert = get_bool(v, "shared_expert"); }},
      {"interleave_moe_layer_step",
       [](const json& v, ModelConfig& c) { c.interleave_moe_layer_step = get_u32(v, "interleave_moe_layer_step"); }},
      {"nope_period", [](const json& v, ModelConfig& c) { c.nope_period = get_u32(v, "nope_period"); }},
      {"chunk_size", [](const json& v, ModelConfig& c) { c.chunk_size = get_u32(v, "chunk_size"); }},
      {"context_length", [](const json& v, ModelConfig& c) { c.context_length = get_u32(v, "context_length"); }},
      {"rope_base", [](const json& v, ModelConfig& c) { c.rope_base = get_float(v, "rope_base"); }},
      {"rope_freqs", [](const json& v, ModelConfig& c) { c.rope_freqs = get_bool(v, "rope_freqs"); }},
      {"norm_eps", [](const json& v, ModelConfig& c) { c.norm_eps = get_float(v, "norm_eps"); }},
      {"tie_embeddings", [](const json& v, ModelConfig& c) { c.tie_embeddings = get_bool(v, "tie_embeddings"); }},
      {"readable_output", [](const json& v, ModelConfig& c) { c.readable_output = get_bool(v, "readable_output"); }},
      {"weight_type", [](const json& v, ModelConfig& c) { c.weight_type = get_type(v, "weight_type"); }},
      {"tensor_types",
       [](const json& v, ModelConfig& c) {
         if (!v.is_object()) fail(fmt::format("field 'tensor_types' must be an object, got {}", show(v)));
         c.tensor_types.clear();
         for (const auto& [k, t] : v.items()) c.tensor_types[k] = get_type(t, "tensor_types." + k);
       }},
      {"vocab", [](const json& v, ModelConfig& c) { c.vocab = parse_vocab(v); }},
  };
  return table;
}

// Settings that only mean something for llama4; a llama config may not set them.
const char* const kLlama4Only[] = {"shared_expert", "interleave_moe_layer_step", "nope_period", "chunk_size"};

void validate(const ModelConfig& c) {
  if (c.arch != "llama4" && c.arch != "llama") fail(fmt::format("field 'arch' must be \"llama4\" or \"llama\", got \"{}\"", c.arch));
  if (c.n_layer == 0 || c.d_model == 0 || c.n_head == 0 || c.n_head_kv == 0)
    fail("n_layer, d_model, n_head and n_head_kv must be non-zero");
  if (c.n_head % c.n_head_kv != 0) fail(fmt::format("n_head {} is not a multiple of n_head_kv {}", c.n_head, c.n_head_kv));
  if (c.head_dim == 0 && c.d_model % c.n_head != 0)
    fail(fmt::format("d_model {} is not a multiple of n_head {} (set head_dim)", c.d_model, c.n_head));
  if (c.resolved_head_dim() % 2 != 0) fail(fmt::format("head_dim {} must be even for RoPE", c.resolved_head_dim()));
  if (c.n_expert > 0) {
    if (c.n_expert_used == 0 || c.n_expert_used > c.n_expert)
      fail(fmt::format("n_expert_used {} is not in 1..n_expert ({})", c.n_expert_used, c.n_expert));
    if (c.expert_ff == 0) fail("expert_ff must be non-zero for a MoE model");
    if (c.interleave_moe_layer_step == 0) fail("interleave_moe_layer_step must be non-zero");
  }
  bool any_dense = false;
  for (uint32_t il = 0; il < c.n_layer; ++il) any_dense |= !c.is_moe_layer(il);
  if (any_dense && c.dense_ff == 0) fail("dense_ff must be non-zero when some layer is dense");
  if (!c.vocab.builtin && c.vocab.tiktoken.empty()) fail("field 'vocab.tiktoken' is empty");
}

}  // namespace

bool ModelConfig::is_moe_layer(uint32_t il) const {
  if (n_expert == 0) return false;
  if (!is_llama4()) return true;  // Mixtral-style: every layer
  return (il + 1) % interleave_moe_layer_step == 0;
}

ModelConfig parse_model_config(const json& j) {
  if (!j.is_object()) fail("the config must be a JSON object");
  ModelConfig c;
  const auto& table = setters();
  for (const auto& [k, v] : j.items()) {
    auto it = table.find(k);
    if (it == table.end()) fail(fmt::format("unknown field '{}'", k));
    it->second(v, c);
  }
  if (c.arch == "llama") {
    for (const char* k : kLlama4Only)
      if (j.contains(k)) fail(fmt::format("field '{}' is llama4-only (arch is \"llama\")", k));
    c.shared_expert = false;
    c.nope_period = 0;
    c.chunk_size = 0;
    c.interleave_moe_layer_step = 1;
  }
  validate(c);
  return c;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const EmbeddedPreset& p : embedded_presets()) names.emplace_back(p.name);
  return names;
}

json preset_json(const std::string& name) {
  for (const EmbeddedPreset& p : embedded_presets()) {
    if (p.name != name) continue;
    try {
      return json::parse(p.json);
    } catch (const json::exception& e) {
      throw std::runtime_error(fmt::format("preset {}: {}", name, e.what()));
    }
  }
  throw std::runtime_error(fmt::format("unknown preset '{}' (known: {})", name, fmt::join(preset_names(), ", ")));
}

json read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open config file", path));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
}

void apply_setting(json& j, const std::string& key_eq_value) {
  const size_t eq = key_eq_value.find('=');
  if (eq == std::string::npos || eq == 0) throw std::runtime_error(fmt::format("--set '{}': expected KEY=VALUE", key_eq_value));
  const std::string key = key_eq_value.substr(0, eq);
  const std::string text = key_eq_value.substr(eq + 1);
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // a bare word: arch=llama, weight_type=q4_K

  json* node = &j;
  size_t start = 0;
  for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1) {
    json& child = (*node)[key.substr(start, dot - start)];
    if (child.is_null()) child = json::object();
    if (!child.is_object()) throw std::runtime_error(fmt::format("--set {}: '{}' is not an object", key, key.substr(0, dot)));
    node = &child;
  }
  (*node)[key.substr(start)] = std::move(value);
}

}  // namespace scout::maker
