// A session: one sequence's state on a loaded model (its KV cache, position,
// activation buffers). eval() appends tokens and returns logits, processing
// long inputs in batches that never cross a chunked-attention boundary.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "models/model.h"
#include "runtime/backend.h"
#include "runtime/kv_cache.h"

namespace scout::runtime {

struct SessionOptions {
  uint64_t n_ctx = 0;        // context limit in tokens; 0: the model's context_length
  uint32_t n_batch = 512;    // tokens per forward pass
  KvType kv_type = KvType::F16;
  int n_threads = 0;         // 0: OpenMP's default
  // Quantized weights are multiplied against activations rounded to 8 bits
  // per block (as llama.cpp does; fast integer dot products). false: dequantize
  // to f32 and multiply exactly (`--exact`, how the oracle's exact logits are met).
  bool quantize_activations = true;
};

class Session {
 public:
  explicit Session(const Model& model, SessionOptions opts = {});

  // Appends tokens at the next positions. Returns the logits of the last token
  // ([n_vocab]), or of every token ([n][n_vocab]) when all_logits. Throws
  // std::runtime_error when the tokens do not fit the context or an id is out
  // of the vocabulary (the session is unchanged then).
  std::vector<float> eval(std::span<const int32_t> tokens, bool all_logits = false);

  uint64_t n_past() const { return static_cast<uint64_t>(kv_.seq_len(0)); }
  uint64_t n_ctx() const { return n_ctx_; }
  void reset() { kv_.clear(0); }

  const Model& model() const { return model_; }
  const KvCache& kv_cache() const { return kv_; }
  Backend& backend() { return *backend_; }
  // Counts expert routing of later evals into stats (nullptr: off, the
  // default). stats must outlive its use; it is not owned.
  void set_expert_stats(ExpertStats* stats) { buf_.expert_stats = stats; }

 private:
  const Model& model_;
  SessionOptions opts_;
  uint64_t n_ctx_;
  std::unique_ptr<Backend> backend_;
  KvCache kv_;
  ForwardBuffers buf_;
};

}  // namespace scout::runtime
