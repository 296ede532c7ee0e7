// A loaded model: the mapped file, its hyper-parameters, its bound weights and
// a forward pass. One subclass per architecture (llama4.cpp, llama.cpp), each
// written top to bottom against the runtime::Backend interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gguf/reader.h"
#include "models/hparams.h"
#include "models/transformer_weights.h"
#include "runtime/backend.h"
#include "runtime/kv_cache.h"

namespace scout {

// Optional routing statistics (`scout bench --expert-stats`): how often each
// routed expert was chosen, counts[layer][expert] (dense layers stay empty).
// moe_ffn() knows no layer index, but a forward pass calls it once per MoE
// layer in order, so call i of a pass counts into moe_layers[i]; Session::eval
// rewinds `next` before each pass.
struct ExpertStats {
  std::vector<std::vector<uint64_t>> counts;  // [n_layer][n_expert]
  std::vector<uint32_t> moe_layers;           // the MoE layers, in forward order
  size_t next = 0;                            // moe_ffn calls so far in this pass

  explicit ExpertStats(const Hparams& hp);
};

// Activation buffers for one batch, reused from batch to batch.
struct ForwardBuffers {
  std::vector<float> x;        // [n][d] the residual stream
  std::vector<float> h;        // [n][d] normalised input of a sub-block
  std::vector<float> q, k, v;  // [n][heads][head_dim]
  std::vector<float> attn;     // [n][n_head][head_dim_v]
  std::vector<float> y;        // [n][d] a sub-block's output
  std::vector<float> gate, up; // [n][ffn width]
  std::vector<float> router;   // [n][n_expert]
  std::vector<float> moe_in, moe_out;  // [n][d] tokens gathered for one expert
  std::vector<float> rope_cs;  // [n][rope_dim/2][2]
  std::vector<float> factor;   // [n] per-token scales
  std::vector<int32_t> pos;    // [n]
  ExpertStats* expert_stats = nullptr;  // counts routing when set; off by default

  void reserve(const Hparams& hp, int64_t n);
};

// Rows of one sequence inside a batch of several.
struct BatchSegment {
  uint32_t seq = 0;
  int64_t n = 0;
};

// The tokens of one forward pass. One sequence: tokens, n, seq. Several
// sequences at once (`scout batch --parallel`): segments lists them in row
// order, their tokens back to back in `tokens`; every matmul then runs once
// over all rows, so the weights are read once for all the sequences.
struct ForwardBatch {
  const int32_t* tokens = nullptr;
  int64_t n = 0;                       // rows in all
  uint32_t seq = 0;                    // the sequence, when segments is empty
  std::vector<BatchSegment> segments;  // several sequences (each at most once); their n sum to n
  bool all_logits = false;  // logits for every row, not only the last of each sequence
};

// Where one segment of a batch sits: its rows [row, row + n) and the position
// of its first row in its sequence.
struct SegmentRows {
  uint32_t seq = 0;
  int64_t row = 0;
  int64_t n = 0;
  int64_t first_pos = 0;
};

class Model {
 public:
  // Loads the file (gguf/file_bytes.h), reads the hyper-parameters and binds
  // every tensor; throws gguf::GgufError naming the file and the problem.
  static std::unique_ptr<Model> load(const std::string& path, gguf::LoadMode mode = gguf::LoadMode::Auto);
  virtual ~Model() = default;

  const gguf::GgufFile& file() const { return file_; }
  const Hparams& hparams() const { return hp_; }
  const TransformerWeights& weights() const { return w_; }

  // A KV cache layout for this model (chunk sizes per layer).
  runtime::KvCacheConfig kv_config(runtime::KvType type, uint32_t n_seq = 1) const;

  // Runs one batch of tokens at the next positions of each of its sequences:
  // appends their K/V to kv (no segment may cross its sequence's chunk
  // boundary: see KvCache::next_chunk_boundary) and writes logits of the last
  // row of each segment, [n_segments][n_vocab], or of every row, [n][n_vocab],
  // with all_logits; logits == nullptr skips the output head.
  virtual void forward(const ForwardBatch& batch, runtime::KvCache& kv, runtime::Backend& be, ForwardBuffers& buf,
                       float* logits) const = 0;

 protected:
  Model(gguf::GgufFile file, Hparams hp);

  // The start of every forward pass: checks the batch's segments, gives each
  // row its position (continuing its own sequence) in buf.pos and reserves the
  // rows' KV slots. Throws std::logic_error, the cache unchanged, on a bad batch.
  std::vector<SegmentRows> place_rows(const ForwardBatch& batch, runtime::KvCache& kv, ForwardBuffers& buf) const;

  // The final norm and output head over buf.x: the last row of each segment,
  // or every row with all_logits.
  void output_head(const std::vector<SegmentRows>& segs, bool all_logits, runtime::Backend& be, ForwardBuffers& buf,
                   float* logits) const;

  // cos/sin of p * theta_i for each position: RoPE's rotation angles.
  void rope_angles(const int32_t* pos, int64_t n, std::vector<float>& cos_sin) const;

  gguf::GgufFile file_;
  Hparams hp_;
  TransformerWeights w_;
  std::vector<double> theta_;  // base^(-2i/rope_dim) / f_i, i < rope_dim/2
};

std::unique_ptr<Model> make_llama4_model(gguf::GgufFile file, Hparams hp);
std::unique_ptr<Model> make_llama_model(gguf::GgufFile file, Hparams hp);

}  // namespace scout
