// The GGUF tensor names of the transformer architectures (as llama.cpp's
// gguf-py defines them), written once: the binder (models/), the test-model
// maker, `scout info` and the profiler use these. A file names a tensor
// "<base>.weight", or "blk.<layer>.<base>.weight" for one layer's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace scout::names {

// Whole-model tensors.
inline constexpr std::string_view kTokenEmbd = "token_embd";
inline constexpr std::string_view kOutput = "output";
inline constexpr std::string_view kOutputNorm = "output_norm";
inline constexpr std::string_view kRopeFreqs = "rope_freqs";

// Per layer: attention.
inline constexpr std::string_view kAttnNorm = "attn_norm";
inline constexpr std::string_view kAttnQ = "attn_q";
inline constexpr std::string_view kAttnK = "attn_k";
inline constexpr std::string_view kAttnV = "attn_v";
inline constexpr std::string_view kAttnOut = "attn_output";
// Per layer: feed-forward. Dense, routed experts (stacked on the last axis), shared expert.
inline constexpr std::string_view kFfnNorm = "ffn_norm";
inline constexpr std::string_view kFfnGate = "ffn_gate";
inline constexpr std::string_view kFfnUp = "ffn_up";
inline constexpr std::string_view kFfnDown = "ffn_down";
inline constexpr std::string_view kRouter = "ffn_gate_inp";
inline constexpr std::string_view kGateExps = "ffn_gate_exps";
inline constexpr std::string_view kUpExps = "ffn_up_exps";
inline constexpr std::string_view kDownExps = "ffn_down_exps";
inline constexpr std::string_view kGateShexp = "ffn_gate_shexp";
inline constexpr std::string_view kUpShexp = "ffn_up_shexp";
inline constexpr std::string_view kDownShexp = "ffn_down_shexp";

inline std::string tensor_name(std::string_view base) { return std::string(base) + ".weight"; }
inline std::string layer_prefix(uint32_t layer) { return "blk." + std::to_string(layer) + "."; }
inline std::string layer_tensor_name(uint32_t layer, std::string_view base) {
  return layer_prefix(layer) + tensor_name(base);
}
// "blk.3.ffn_gate_exps.weight" -> "ffn_gate_exps": the role, whatever the layer.
inline std::string_view role_of(std::string_view name) {
  if (name.starts_with("blk.")) {
    const size_t dot = name.find('.', 4);
    if (dot != std::string_view::npos) name.remove_prefix(dot + 1);
  }
  if (name.ends_with(".weight")) name.remove_suffix(7);
  return name;
}

}  // namespace scout::names
