// The tensors of a llama / llama4 transformer, bound by name from the mapped
// GGUF file (used in place, never copied) and checked against the
// hyper-parameters: a missing tensor, a wrong shape or a type without a
// dequantizer is a gguf::GgufError at load, not a crash mid-forward.
#pragma once

#include <cstdint>
#include <vector>

#include "gguf/reader.h"
#include "models/hparams.h"
#include "runtime/weight.h"

namespace scout {

// A 1-D f32 vector (norm weights, RoPE frequency factors). F32 tensors are used
// in place; any other stored type is dequantized once at load (they are tiny).
struct VectorWeight {
  const float* data = nullptr;
  int64_t n = 0;
  std::vector<float> owned;

  VectorWeight() = default;
  // Movable only: data may point into owned, whose buffer a move keeps.
  VectorWeight(VectorWeight&&) = default;
  VectorWeight& operator=(VectorWeight&&) = default;
  VectorWeight(const VectorWeight&) = delete;
  VectorWeight& operator=(const VectorWeight&) = delete;

  bool empty() const { return data == nullptr; }
};

struct LayerWeights {
  VectorWeight attn_norm, ffn_norm;
  runtime::WeightView wq, wk, wv, wo;
  // MoE layers: router [d, E]; experts stacked as [d, F, E] (gate, up) and [F, d, E] (down),
  // viewed here as E*F (or E*d) rows.
  runtime::WeightView router, gate_exps, up_exps, down_exps;
  runtime::WeightView gate_shexp, up_shexp, down_shexp;  // llama4 shared expert
  // Dense layers.
  runtime::WeightView ffn_gate, ffn_up, ffn_down;
};

struct TransformerWeights {
  runtime::WeightView token_embd;
  runtime::WeightView output;     // = token_embd when tied
  bool tied_output = false;
  VectorWeight output_norm;
  VectorWeight rope_freqs;        // empty when the file has none
  std::vector<LayerWeights> layers;
};

TransformerWeights bind_weights(const gguf::GgufFile& file, const Hparams& hp);

}  // namespace scout
