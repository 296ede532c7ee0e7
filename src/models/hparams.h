// Hyper-parameters of a transformer file, read from GGUF metadata, plus the
// per-layer kinds they imply (MoE or dense FFN, RoPE+chunked or NoPE+global).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/reader.h"

namespace scout {

enum class Arch { Llama4, Llama };

struct Hparams {
  Arch arch = Arch::Llama4;
  std::string arch_name;          // "llama4" or "llama"
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

// Reads and checks the hyper-parameters; throws gguf::GgufError
// ("FILE: missing key llama4.block_count", "unsupported architecture X", ...).
Hparams read_hparams(const gguf::GgufFile& file);

}  // namespace scout
