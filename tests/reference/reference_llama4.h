// A plain reference forward pass for llama4 and llama files, used only by
// tests: whole tensors dequantized to f32 up front, scalar loops accumulating
// in double, no KV cache (every call recomputes the whole sequence), written
// straight from shared/docs/llama4-gguf.md without sharing code with
// src/models or src/runtime (only the GGUF reader, the dequantizers and the
// hyper-parameter reader).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gguf/reader.h"
#include "models/hparams.h"

namespace scout::reference {

class ReferenceModel {
 public:
  explicit ReferenceModel(const gguf::GgufFile& file);

  // Logits of every position of `tokens` (position 0 first): [n][n_vocab].
  std::vector<std::vector<double>> forward(const std::vector<int32_t>& tokens) { return forward_at(tokens, {}); }
  // Logits at `positions` only (every position when empty), in that order.
  // The last layer's attention and FFN run only there, so when the last
  // layer is the only global one (a llama4 model of 4 layers) the cost is
  // linear in the length: long contexts can be checked.
  std::vector<std::vector<double>> forward_at(const std::vector<int32_t>& tokens, const std::vector<int64_t>& positions);

  const Hparams& hparams() const { return hp_; }

 private:
  using Vec = std::vector<double>;
  // The whole tensor as f32, dequantized once.
  const std::vector<float>& tensor(const std::string& name);
  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
  // y = W x for a matrix stored as rows of x.size() elements, rows [row0, row0 + n_out).
  Vec matvec(const std::string& name, const Vec& x, int64_t row0 = 0, int64_t n_out = -1);
  Vec rmsnorm(const Vec& x, const std::string& weight);  // weight "" = none
  Vec swiglu(const std::string& gate, const std::string& up, const std::string& down, const Vec& x, int64_t row0_gu,
             int64_t row0_down, int64_t ff);

  const gguf::GgufFile& file_;
  Hparams hp_;
  std::map<std::string, std::vector<float>> cache_;
};

}  // namespace scout::reference
