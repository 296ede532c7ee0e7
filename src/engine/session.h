// A session: the evaluation state on a loaded model (KV cache, activation
// buffers in the model's backend) of one sequence, or of several
// (SessionOptions::n_seq, `scout batch --parallel`) sharing the cache's block
// pool. eval() appends tokens to one sequence and returns logits, processing
// long inputs in batches that never cross a chunked-attention boundary;
// decode() appends one token to each of several sequences in a single
// forward pass. Sessions on one model share its weights and its backend.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "engine/kv_cache.h"
#include "models/model.h"

namespace scout::engine {

struct SessionOptions {
  uint64_t n_ctx = 0;        // context limit in tokens; 0: the model's context_length
  uint32_t n_batch = 512;    // tokens per forward pass
  KvTypes kv_type;           // K and V element types (-ctk / -ctv)
  std::string kv_dir;        // non-empty: the KV cache lives in a file there, mapped (--kv-dir)
  int n_threads = 0;         // 0: all cores (OpenMP's default)
  // Quantized weights are multiplied against activations rounded to 8 bits
  // per block (as llama.cpp does; fast integer dot products). false: dequantize
  // to f32 and multiply exactly (`--exact`, how the oracle's exact logits are met).
  bool quantize_activations = true;
  uint32_t n_seq = 1;        // sequences held at once, each with its own n_ctx
};

// One new token of one sequence, for Session::decode.
struct SeqToken {
  uint32_t seq = 0;
  int32_t token = 0;
};

// Tokens of one sequence, for Session::eval_batch.
struct SeqTokens {
  uint32_t seq = 0;
  std::span<const int32_t> tokens;
};

// Each row's k most likely next tokens, largest logit first (ties: the lower
// id), [rows][k]: what sampling needs when it cuts to the top k, so only these
// leave the backend (Session::eval_top, decode_top).
struct TopTokens {
  int k = 0;
  std::vector<int32_t> ids;
  std::vector<float> logits;

  std::span<const int32_t> row_ids(size_t r) const { return std::span(ids).subspan(r * k, k); }
  std::span<const float> row_logits(size_t r) const { return std::span(logits).subspan(r * k, k); }
};

// The KV cache layout of a model: its chunk sizes per layer, its heads.
KvCacheConfig kv_config(const Model& model, KvTypes types, uint32_t n_seq = 1, const std::string& kv_dir = {});

class Session {
 public:
  explicit Session(const Model& model, SessionOptions opts = {});

  // Appends tokens at the next positions. Returns the logits of the last token
  // ([n_vocab]), or of every token ([n][n_vocab]) when all_logits. Throws
  // std::runtime_error when the tokens do not fit the context or an id is out
  // of the vocabulary (the session is unchanged then).
  std::vector<float> eval(std::span<const int32_t> tokens, bool all_logits = false) {
    return eval_seq(0, tokens, all_logits);
  }
  // The same for sequence `seq` (< n_seq); the others are left alone.
  std::vector<float> eval_seq(uint32_t seq, std::span<const int32_t> tokens, bool all_logits = false);

  // Appends one token to each of several distinct sequences in one forward
  // pass (each weight read once for all of them); returns their next-token
  // logits, [steps.size()][n_vocab] in the order given. Per row the math is
  // eval_seq's. Throws like eval (nothing evaluated then).
  std::vector<float> decode(std::span<const SeqToken> steps);

  // eval_seq and decode, returning each row's top k (at most the vocabulary)
  // instead of every logit: the backend picks them (on a GPU, only they are read back).
  TopTokens eval_top(std::span<const int32_t> tokens, int k, uint32_t seq = 0);
  TopTokens decode_top(std::span<const SeqToken> steps, int k);

  // The general pass: appends each part's tokens to its sequence, every part
  // in ONE forward pass (distinct sequences, at most max(n_batch, n_seq) tokens,
  // none crossing a chunked-attention boundary: kv_cache().next_chunk_boundary).
  // Returns the logits of each part's last token, [parts][n_vocab], or of every
  // token, [total][n_vocab], with all_logits. Throws like eval.
  std::vector<float> eval_batch(std::span<const SeqTokens> parts, bool all_logits = false);

  // Appends rows given as input embeddings ([n][d_model], row-major: an
  // image's rows from the vision encoder) at the next positions of `seq`,
  // attended exactly as tokens are. Returns the last row's logits when
  // want_logits, else nothing (the output head is skipped). Throws like eval.
  std::vector<float> eval_embeddings(std::span<const float> rows, uint32_t seq = 0, bool want_logits = false);

  // Whether each sequence's rows come out as in a pass of their own, whatever
  // shares the pass (Backend::rounds_groups_alone: the CPU). Else only parts
  // large enough to pick the large-batch kernels alone may share a pass exactly.
  bool mixed_passes_exact() const { return be_.rounds_groups_alone(); }

  uint64_t n_past(uint32_t seq = 0) const { return static_cast<uint64_t>(kv_.seq_len(seq)); }
  uint64_t n_ctx() const { return n_ctx_; }  // per sequence
  uint32_t n_seq() const { return kv_.config().n_seq; }
  void reset(uint32_t seq = 0) { kv_.clear(seq); }

  const Model& model() const { return model_; }
  const KvCache& kv_cache() const { return kv_; }
  KvCache& kv_cache() { return kv_; }  // engine/kv_snapshot.cpp restores into it
  // Counts expert routing of later evals into stats (nullptr: off, the
  // default). stats must outlive its use; it is not owned.
  void set_expert_stats(ExpertStats* stats) { stats_ = stats; }

 private:
  // Throw std::runtime_error unless n more tokens fit seq's context / the id is in the vocabulary.
  void check_room(uint32_t seq, uint64_t n) const;
  void check_id(int32_t id) const;
  // What a pass hands back: nothing (the output head is skipped), logits of
  // each sequence's last row or of every row, or the last rows' top k.
  struct Output {
    float* logits = nullptr;
    bool all_logits = false;
    TopTokens* top = nullptr;  // with top->k set
  };
  // One forward pass: tokens (rows back to back) appended to the sequences
  // of `rows`, none crossing a chunk boundary.
  // With embd ([n][d_model]) the rows' input is embd and tokens only fill the ids' place.
  void run_pass(std::span<const int32_t> tokens, std::span<const SeqRows> rows, const Output& out,
                std::span<const float> embd = {});
  // eval_seq's batches, the last one writing `last` (embd: eval_embeddings').
  void eval_batches(uint32_t seq, std::span<const int32_t> tokens, const Output& last, std::vector<float>* all,
                    std::span<const float> embd = {});
  // The checks and rows of eval_batch / decode.
  std::vector<SeqRows> batch_rows(std::span<const SeqTokens> parts, std::vector<int32_t>& tokens) const;
  // Grows the input/output buffers to hold n rows (n_out of logits, top k of each).
  void reserve(int64_t n, int64_t n_out, int k = 0);

  const Model& model_;
  backend::Backend& be_;
  SessionOptions opts_;
  uint64_t n_ctx_;
  KvCache kv_;
  Activations act_;
  backend::Buffer tokens_, positions_, out_rows_, logits_, top_ids_, top_logits_;
  backend::Buffer embd_;  // eval_embeddings' rows, allocated on first use
  backend::KvPass pass_kv_;
  uint64_t id_;            // tells this session's recorded passes from another's
  uint64_t generation_ = 0;  // bumped when buffers move: recorded passes are stale then
  ExpertStats* stats_ = nullptr;
};

}  // namespace scout::engine
