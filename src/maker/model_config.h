// What `scout make-model` builds: the shapes and settings of a random-weight
// model, read strictly from JSON (a preset or a user file) so a typo in a
// field name or a wrong value type is an error, not a silently ignored default.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tensor/types.h"

namespace scout::maker {

struct VocabSource {
  bool builtin = true;     // {"builtin": true}: 256 bytes + the Llama 4 specials
  std::string tiktoken;    // {"tiktoken": "PATH", "max_ranks": N}; relative to the cwd
  uint64_t max_ranks = 0;  // 0 = all ranks
};

struct ModelConfig {
  std::string arch = "llama4";     // "llama4" or "llama"
  std::string name = "scout-random";
  uint32_t n_layer = 4;
  uint32_t d_model = 256;
  uint32_t n_head = 4;
  uint32_t n_head_kv = 2;
  uint32_t head_dim = 0;           // 0: d_model / n_head
  uint32_t n_expert = 16;          // 0: dense model
  uint32_t n_expert_used = 1;
  uint32_t expert_ff = 128;        // routed and shared expert width
  uint32_t dense_ff = 512;         // dense FFN width
  bool shared_expert = true;       // llama4 only
  uint32_t interleave_moe_layer_step = 1;  // llama4: layer il is MoE when (il+1) % step == 0
  uint32_t nope_period = 4;        // llama4: every Nth layer is NoPE/global; 0 = none
  uint32_t chunk_size = 8192;      // llama4: chunked attention width; 0 = none
  uint64_t context_length = 131072;
  float rope_base = 500000.0f;
  bool rope_freqs = false;         // write llama3-style rope_freqs.weight
  float norm_eps = 1e-5f;
  bool tie_embeddings = false;     // no output.weight
  // Zero the output-head rows of tokens a trained model rarely emits (special
  // tokens, control bytes, lone non-ASCII bytes), so that what a random model
  // samples is printable text: the embedded default model uses it.
  bool readable_output = false;
  TensorType weight_type = TensorType::F16;
  // Per-tensor types by base name ("output", "ffn_down_exps") or full name
  // without ".weight" ("blk.3.attn_q").
  std::map<std::string, TensorType> tensor_types;
  VocabSource vocab;

  uint32_t resolved_head_dim() const { return head_dim ? head_dim : d_model / n_head; }
  bool is_llama4() const { return arch == "llama4"; }
  bool is_moe_layer(uint32_t il) const;
};

// Parses and validates; throws std::runtime_error naming the offending field.
ModelConfig parse_model_config(const nlohmann::json& j);
// The JSON text of an embedded preset; throws listing the known names.
nlohmann::json preset_json(const std::string& name);
std::vector<std::string> preset_names();
// Reads a JSON config file; throws std::runtime_error "PATH: ..." on a parse error.
nlohmann::json read_config_file(const std::string& path);
// Applies "key=value" (--set): the value is JSON when it parses as JSON, else
// a plain string; a dotted key reaches into objects ("vocab.max_ranks=4096").
void apply_setting(nlohmann::json& j, const std::string& key_eq_value);

}  // namespace scout::maker
