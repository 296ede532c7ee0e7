// A loaded model: the file, its hyper-parameters, its weights placed on a
// backend, and a forward pass. One subclass per architecture (llama4.cpp,
// llama.cpp), each written top to bottom as the math against the backend
// interface; registry.cpp lists them. The engine (src/engine) runs passes:
// it owns the sequences, the KV cache's block tables and the batching.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "gguf/file_bytes.h"
#include "gguf/reader.h"
#include "models/hparams.h"
#include "models/transformer_weights.h"

namespace scout {

// Optional routing statistics (`scout bench --expert-stats`): how often each
// routed expert was chosen, counts[layer][expert] (dense layers stay empty).
struct ExpertStats {
  std::vector<std::vector<uint64_t>> counts;  // [n_layer][n_expert]

  explicit ExpertStats(const Hparams& hp);
};

// The activation tensors of one pass: the first n rows of Activations' buffers.
struct ActivationRows {
  backend::Tensor x;               // [n][d] the residual stream
  backend::Tensor h;               // [n][d] normalised input of a sub-block
  backend::Tensor q, k, v;         // [n][heads * head_dim]
  backend::Tensor attn;            // [n][n_head * head_dim_v]
  backend::Tensor y;               // [n][d] a sub-block's output
  backend::Tensor gate, up;        // [n][ffn width]
  backend::Tensor router;          // [n][n_expert] router logits
  backend::Tensor experts;         // I32 [n][n_expert_used] chosen experts
  backend::Tensor expert_weights;  // [n][n_expert_used] their weights
  backend::Tensor rope;            // [n][rope_dim] RoPE cos/sin table
  backend::Tensor temp;            // [n][1] attention temperature
};

// The activation buffers of a session, in the backend's memory, sized for
// its largest batch and reused by every pass.
class Activations {
 public:
  void reserve(backend::Backend& be, const Hparams& hp, int64_t n_rows);
  ActivationRows rows(int64_t n) const;
  // Bytes reserve() takes per row: `scout info`'s scratch estimate.
  static uint64_t bytes_per_row(const Hparams& hp);

 private:
  std::vector<backend::Buffer> bufs_;
  int64_t capacity_ = 0;
};

// One forward pass, as the engine hands it to the model: n_rows tokens at
// their positions, where they sit in the KV cache, which rows want logits.
struct ForwardPass {
  int64_t n_rows = 0;
  backend::Tensor tokens;      // I32 [n][1]
  backend::Tensor embeddings;  // [n][d_model]: the rows' input given directly (image rows); empty: from tokens
  backend::Tensor positions;   // I32 [n][1]: each row's position in its sequence
  const backend::KvPass* kv = nullptr;
  backend::Tensor out_rows;    // I32 [n_out][1]: the rows whose logits are wanted; empty: every row
  backend::Tensor logits;      // [n_out][n_vocab]; empty: no output head
  const Activations* act = nullptr;
  ExpertStats* expert_stats = nullptr;  // counts routing when set

  // Counts MoE layer il's chosen experts when expert stats are on (reads them back).
  void observe_routes(backend::Backend& be, uint32_t il, const backend::Tensor& experts) const;
};

struct LoadOptions {
  gguf::LoadMode mode = gguf::LoadMode::Auto;
  // The backend the weights are placed on; nullptr: the process's CPU backend.
  std::shared_ptr<backend::Backend> backend;
  Placement placement;  // GPU backends: -ngl, --cpu-moe
};

class Model {
 public:
  // Loads the file (gguf/file_bytes.h), reads the hyper-parameters, binds
  // every tensor and places it on the backend; throws gguf::GgufError naming
  // the file and the problem.
  static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& opts = {});
  virtual ~Model() = default;

  const gguf::GgufFile& file() const { return file_; }
  const Hparams& hparams() const { return hp_; }
  const TransformerWeights& weights() const { return w_; }
  backend::Backend& backend() const { return *be_; }
  std::shared_ptr<backend::Backend> shared_backend() const { return be_; }

  // Chunk size per layer (0: global attention), for the KV cache.
  std::vector<uint32_t> layer_chunks() const;

  // Runs one pass: appends every row's K/V to the cache and writes the logits
  // of pass.out_rows (or of every row) to pass.logits. Ops are issued on the
  // backend; the engine reads the logits back.
  virtual void forward(const ForwardPass& pass) const = 0;

 protected:
  // Takes the file, the hyper-parameters and the backend; the architecture's
  // constructor then binds its tensors (w_) and calls init_rope().
  Model(gguf::GgufFile file, Hparams hp, const LoadOptions& opts);
  // RoPE's frequencies from the hyper-parameters and w_.rope_freqs, placed on the backend.
  void init_rope();

  // Layer il's attention shape: heads, 1/sqrt(head_dim) scaling, its chunk (0: global).
  backend::AttentionParams attention_params(uint32_t il) const;

  // a.x = the rows' input: the token embeddings, or the pass's own embeddings.
  void input_rows(const ForwardPass& pass, const ActivationRows& a) const;
  // The final norm and output head over a.x: the rows pass.out_rows names, or every row.
  void output_head(const ForwardPass& pass, const ActivationRows& a) const;

  gguf::GgufFile file_;
  Hparams hp_;
  std::shared_ptr<backend::Backend> be_;
  TransformerWeights w_;
  std::vector<double> theta_host_;  // base^(-2i/rope_dim) / f_i, i < rope_dim/2
  backend::Buffer theta_;           // the same, placed: [1][rope_dim/2] f64
};

}  // namespace scout
