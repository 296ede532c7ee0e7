#include "maker/model_config.h"

#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "maker/config_fields.h"
#include "maker/presets.h"

namespace scout::maker {

using nlohmann::json;

namespace {

const ConfigFields kFields{"model config"};

VocabSource parse_vocab(const json& v) {
  if (!v.is_object()) kFields.fail(fmt::format("field 'vocab' must be an object, got {}", ConfigFields::show(v)));
  VocabSource src;
  bool has_builtin = false, has_tiktoken = false;
  for (const auto& [k, x] : v.items()) {
    if (k == "builtin") {
      has_builtin = kFields.get_bool(x, "vocab.builtin");
      if (!has_builtin) kFields.fail("field 'vocab.builtin' can only be true (give 'tiktoken' instead)");
    } else if (k == "tiktoken") {
      src.tiktoken = kFields.get_string(x, "vocab.tiktoken");
      has_tiktoken = true;
    } else if (k == "max_ranks") {
      src.max_ranks = kFields.get_uint(x, "vocab.max_ranks", std::numeric_limits<uint32_t>::max());
    } else {
      kFields.fail(fmt::format("unknown field 'vocab.{}' (known: builtin, tiktoken, max_ranks)", k));
    }
  }
  if (has_builtin == has_tiktoken) kFields.fail("field 'vocab' needs exactly one of 'builtin' and 'tiktoken'");
  if (has_builtin && src.max_ranks) kFields.fail("field 'vocab.max_ranks' needs 'tiktoken'");
  src.builtin = has_builtin;
  return src;
}

using Setter = std::function<void(const json&, ModelConfig&)>;

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> table = {
      {"arch", [](const json& v, ModelConfig& c) { c.arch = kFields.get_string(v, "arch"); }},
      {"name", [](const json& v, ModelConfig& c) { c.name = kFields.get_string(v, "name"); }},
      {"n_layer", [](const json& v, ModelConfig& c) { c.n_layer = kFields.get_u32(v, "n_layer"); }},
      {"d_model", [](const json& v, ModelConfig& c) { c.d_model = kFields.get_u32(v, "d_model"); }},
      {"n_head", [](const json& v, ModelConfig& c) { c.n_head = kFields.get_u32(v, "n_head"); }},
      {"n_head_kv", [](const json& v, ModelConfig& c) { c.n_head_kv = kFields.get_u32(v, "n_head_kv"); }},
      {"head_dim", [](const json& v, ModelConfig& c) { c.head_dim = kFields.get_u32(v, "head_dim"); }},
      {"n_expert", [](const json& v, ModelConfig& c) { c.n_expert = kFields.get_u32(v, "n_expert"); }},
      {"n_expert_used", [](const json& v, ModelConfig& c) { c.n_expert_used = kFields.get_u32(v, "n_expert_used"); }},
      {"expert_ff", [](const json& v, ModelConfig& c) { c.expert_ff = kFields.get_u32(v, "expert_ff"); }},
      {"dense_ff", [](const json& v, ModelConfig& c) { c.dense_ff = kFields.get_u32(v, "dense_ff"); }},
      {"shared_expert", [](const json& v, ModelConfig& c) { c.shared_expert = kFields.get_bool(v, "shared_expert"); }},
      {"interleave_moe_layer_step",
       [](const json& v, ModelConfig& c) {
         c.interleave_moe_layer_step = kFields.get_u32(v, "interleave_moe_layer_step");
       }},
      {"nope_period", [](const json& v, ModelConfig& c) { c.nope_period = kFields.get_u32(v, "nope_period"); }},
      {"chunk_size", [](const json& v, ModelConfig& c) { c.chunk_size = kFields.get_u32(v, "chunk_size"); }},
      {"context_length",
       [](const json& v, ModelConfig& c) { c.context_length = kFields.get_u32(v, "context_length"); }},
      {"rope_base", [](const json& v, ModelConfig& c) { c.rope_base = kFields.get_float(v, "rope_base"); }},
      {"rope_freqs", [](const json& v, ModelConfig& c) { c.rope_freqs = kFields.get_bool(v, "rope_freqs"); }},
      {"norm_eps", [](const json& v, ModelConfig& c) { c.norm_eps = kFields.get_float(v, "norm_eps"); }},
      {"tie_embeddings",
       [](const json& v, ModelConfig& c) { c.tie_embeddings = kFields.get_bool(v, "tie_embeddings"); }},
      {"readable_output",
       [](const json& v, ModelConfig& c) { c.readable_output = kFields.get_bool(v, "readable_output"); }},
      {"weight_type", [](const json& v, ModelConfig& c) { c.weight_type = kFields.get_type(v, "weight_type"); }},
      {"tensor_types",
       [](const json& v, ModelConfig& c) {
         if (!v.is_object())
           kFields.fail(fmt::format("field 'tensor_types' must be an object, got {}", ConfigFields::show(v)));
         c.tensor_types.clear();
         for (const auto& [k, t] : v.items()) c.tensor_types[k] = kFields.get_type(t, "tensor_types." + k);
       }},
      {"vocab", [](const json& v, ModelConfig& c) { c.vocab = parse_vocab(v); }},
  };
  return table;
}

// Settings that only mean something for llama4; a llama config may not set them.
const char* const kLlama4Only[] = {"shared_expert", "interleave_moe_layer_step", "nope_period", "chunk_size"};

void validate(const ModelConfig& c) {
  if (c.arch != "llama4" && c.arch != "llama")
    kFields.fail(fmt::format("field 'arch' must be \"llama4\" or \"llama\", got \"{}\"", c.arch));
  if (c.n_layer == 0 || c.d_model == 0 || c.n_head == 0 || c.n_head_kv == 0)
    kFields.fail("n_layer, d_model, n_head and n_head_kv must be non-zero");
  if (c.n_head % c.n_head_kv != 0)
    kFields.fail(fmt::format("n_head {} is not a multiple of n_head_kv {}", c.n_head, c.n_head_kv));
  if (c.head_dim == 0 && c.d_model % c.n_head != 0)
    kFields.fail(fmt::format("d_model {} is not a multiple of n_head {} (set head_dim)", c.d_model, c.n_head));
  if (c.resolved_head_dim() % 2 != 0)
    kFields.fail(fmt::format("head_dim {} must be even for RoPE", c.resolved_head_dim()));
  if (c.n_expert > 0) {
    if (c.n_expert_used == 0 || c.n_expert_used > c.n_expert)
      kFields.fail(fmt::format("n_expert_used {} is not in 1..n_expert ({})", c.n_expert_used, c.n_expert));
    if (c.expert_ff == 0) kFields.fail("expert_ff must be non-zero for a MoE model");
    if (c.interleave_moe_layer_step == 0) kFields.fail("interleave_moe_layer_step must be non-zero");
  }
  bool any_dense = false;
  for (uint32_t il = 0; il < c.n_layer; ++il) any_dense |= !c.is_moe_layer(il);
  if (any_dense && c.dense_ff == 0) kFields.fail("dense_ff must be non-zero when some layer is dense");
  if (!c.vocab.builtin && c.vocab.tiktoken.empty()) kFields.fail("field 'vocab.tiktoken' is empty");
}

}  // namespace

bool ModelConfig::is_moe_layer(uint32_t il) const {
  if (n_expert == 0) return false;
  if (!is_llama4()) return true;  // Mixtral-style: every layer
  return (il + 1) % interleave_moe_layer_step == 0;
}

ModelConfig parse_model_config(const json& j) {
  if (!j.is_object()) kFields.fail("the config must be a JSON object");
  ModelConfig c;
  const auto& table = setters();
  for (const auto& [k, v] : j.items()) {
    auto it = table.find(k);
    if (it == table.end()) kFields.fail(fmt::format("unknown field '{}'", k));
    it->second(v, c);
  }
  if (c.arch == "llama") {
    for (const char* k : kLlama4Only)
      if (j.contains(k)) kFields.fail(fmt::format("field '{}' is llama4-only (arch is \"llama\")", k));
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
  if (eq == std::string::npos || eq == 0)
    throw std::runtime_error(fmt::format("--set '{}': expected KEY=VALUE", key_eq_value));
  const std::string key = key_eq_value.substr(0, eq);
  const std::string text = key_eq_value.substr(eq + 1);
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // a bare word: arch=llama, weight_type=q4_K

  json* node = &j;
  size_t start = 0;
  for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1) {
    json& child = (*node)[key.substr(start, dot - start)];
    if (child.is_null()) child = json::object();
    if (!child.is_object())
      throw std::runtime_error(fmt::format("--set {}: '{}' is not an object", key, key.substr(0, dot)));
    node = &child;
  }
  (*node)[key.substr(start)] = std::move(value);
}

}  // namespace scout::maker
