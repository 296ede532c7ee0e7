// Hyper-parameters of a transformer file, read from GGUF metadata, plus the
// per-layer kinds they imply (MoE or dense FFN, RoPE+chunked or NoPE+global).
// The keys every architecture shares are read here (read_common_hparams);
// each architecture's file reads its own on top (models/<arch>.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gguf/reader.h"

namespace scout {

struct Hparams {
  std::string arch_name;          // general.architecture: "llama4", "llama"
  uint32_t n_layer = 0;
  uint32_t d_model = 0;
  uint32_t n_head = 0;
  uint32_t n_head_kv = 0;
  uint32_t head_dim_k = 0;        // attention.key_length (or d_model / n_head)
  uint32_t head_dim_v = 0;        // attention.value_length (or d_model / n_head)
  uint32_t rope_dim = 0;
  uint32_t dense_ff = 0;          // feed_forward_length
  uint32_t expert_ff = 0;         // expert_feed_forward_length (llama4) or dense_ff (Mixtral)
  uint32_t n_expert = 0;          // 0: no MoE layers
  uint32_t n_expert_used = 0;
  uint32_t moe_layer_step = 1;    // interleave_moe_layer_step
  uint32_t nope_period = 0;       // every nope_period-th layer is NoPE/global; 0 = none
  uint32_t chunk_size = 0;        // chunked attention on RoPE layers; 0 = plain causal
  uint32_t n_vocab = 0;
  uint64_t context_length = 0;
  float rope_base = 10000.0f;
  float norm_eps = 1e-5f;
  bool shared_expert = false;     // llama4 MoE layers
  bool qk_norm = false;           // llama4 RoPE layers when n_expert != 128

  bool is_moe_layer(uint32_t il) const;
  bool uses_rope(uint32_t il) const;
  bool is_chunked(uint32_t il) const { return chunk_size > 0 && uses_rope(il); }
};

// Reads "<arch>.<name>" keys of a file; every failure is a gguf::GgufError
// naming the file and the key.
struct KeyReader {
  const gguf::GgufFile& f;
  std::string prefix;  // "llama4."

  [[noreturn]] void fail(const std::string& what) const;
  // Some files store per-layer arrays for head counts and FFN widths; scout
  // needs them uniform, so an array is accepted only when all entries agree.
  std::optional<uint64_t> uint_or_uniform_array(const std::string& key) const;
  uint32_t required(const std::string& name) const;
  uint32_t optional(const std::string& name, uint32_t fallback) const;
};

// The keys every architecture has (layers, widths, heads, experts, RoPE base,
// norm epsilon, vocabulary); architecture-specific fields keep their defaults.
Hparams read_common_hparams(const gguf::GgufFile& file);

}  // namespace scout
