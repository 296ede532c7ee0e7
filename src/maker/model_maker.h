// Writes random-weight Llama 4 / Llama GGUF files for tests and benchmarks.
// Every value depends only on (seed, tensor name, element index), so files are
// byte-identical across runs, thread counts and tensor orders.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "maker/model_config.h"
#include "tensor/types.h"
#include "tokenizer/tiktoken_import.h"

namespace scout::maker {

// How a tensor's values are drawn.
enum class InitKind {
  Embedding,  // token_embd: unit normal (scaled down when tied to the output)
  Output,     // output: normal * 4/sqrt(d), for clearly peaked logits
  Matrix,     // normal * 1/sqrt(row length)
  Norm,       // 1 + 0.1 * normal
  RopeFreqs,  // llama3-style frequency factors (not random)
};

struct PlannedTensor {
  std::string name;
  TensorType type;
  std::vector<uint64_t> ne;  // ne[0] is the row length
  InitKind init;
};

// The tensors of a model, in file order, with their final types (a weight
// whose row length does not fit the requested type's block falls back to
// q8_0, f16 or f32; logged at info level). n_vocab is the vocabulary size.
std::vector<PlannedTensor> plan_tensors(const ModelConfig& cfg, uint32_t n_vocab);

tokenizer::GgufVocab load_vocab(const VocabSource& src);

// Writes the model. With no_data the tensors are left as a hole in a sparse
// file: full-size headers and offsets, almost no disk, no time.
void make_model(const ModelConfig& cfg, uint64_t seed, const std::string& out_path, bool no_data = false);

}  // namespace scout::maker
