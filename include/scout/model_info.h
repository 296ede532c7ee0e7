// What a model file holds and what it costs to run: hyper-parameters, layer
// kinds, tokenizer summary, parameter counts (total and active per token,
// MoE-aware) and a memory plan for a context length. Backs `scout info`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace scout {

// Where a tensor's parameters go, for counting what one token touches.
enum class ParamGroup { Embedding, Attention, Router, RoutedExperts, SharedExpert, DenseFfn, Norms, OutputHead, Other };
const char* param_group_name(ParamGroup g);

struct ParamGroupCount {
  ParamGroup group;
  uint64_t params = 0, bytes = 0;                // whole file
  uint64_t active_params = 0, active_bytes = 0;  // read for one token
};

struct TensorSummary {
  std::string name;
  std::string type;               // ggml type name
  std::vector<uint64_t> shape;    // ne order: shape[0] is the row length
  uint64_t n_elements = 0;
  uint64_t bytes = 0;
  ParamGroup group = ParamGroup::Other;
};

struct LayerKind {
  bool moe = false;       // routed experts (+ shared expert) instead of a dense FFN
  bool rope = true;       // false: a NoPE layer
  bool chunked = false;   // attention limited to the current chunk
};

struct ModelInfo {
  std::string path;
  uint64_t file_bytes = 0;
  uint32_t gguf_version = 0;
  std::string name;                    // general.name
  std::string file_type;               // general.file_type as a name, e.g. "Q4_K_M"
  std::vector<std::pair<std::string, std::string>> metadata;  // every key, rendered

  // Hyper-parameters (see src/models/hparams.h for meanings).
  std::string arch;
  uint32_t n_layer = 0, d_model = 0, n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0, rope_dim = 0;
  uint32_t dense_ff = 0, expert_ff = 0, n_expert = 0, n_expert_used = 0, moe_layer_step = 0;
  uint32_t nope_period = 0, chunk_size = 0, n_vocab = 0;
  uint64_t context_length = 0;
  double rope_base = 0, norm_eps = 0;
  bool shared_expert = false, qk_norm = false, tied_output = false, rope_freqs = false;
  std::vector<LayerKind> layers;

  // Tokenizer.
  std::string tok_model, tok_pre;
  uint64_t tok_vocab = 0, tok_merges = 0, tok_special = 0;
  int64_t bos_id = -1, eos_id = -1;
  std::string bos_text, eos_text;
  bool add_bos = false, has_chat_template = false;

  // Parameters.
  uint64_t total_params = 0, total_bytes = 0;
  uint64_t active_params = 0, active_bytes = 0;  // per token; the embedding table counts one row
  std::vector<ParamGroupCount> groups;
  std::vector<std::pair<std::string, uint64_t>> tensors_per_type;  // type name -> tensor count
  std::vector<TensorSummary> tensors;
};

// Maps and reads a file (weights stay on disk: only the header is touched).
// Throws std::runtime_error with "FILE: what is wrong" for any bad file.
ModelInfo inspect_model(const std::string& path);

struct MemoryPlan {
  uint64_t ctx = 0;
  std::string kv_type;              // "f16" or "f32"
  uint32_t kv_block = 256;          // positions per KV page
  uint64_t weight_bytes = 0;        // resident weights (mapped from the file)
  uint64_t kv_bytes = 0;            // all layers
  uint64_t kv_bytes_chunked = 0;    // chunked layers: at most one chunk each
  uint64_t kv_bytes_global = 0;     // global layers: the whole context
  uint32_t n_chunked_layers = 0, n_global_layers = 0;
  uint64_t scratch_bytes = 0;       // activations for one batch (estimate)
  uint32_t batch = 512;
  uint64_t total_bytes() const { return weight_bytes + kv_bytes + scratch_bytes; }
};

MemoryPlan plan_memory(const ModelInfo& info, uint64_t ctx, const std::string& kv_type = "f16", uint32_t batch = 512);

}  // namespace scout
