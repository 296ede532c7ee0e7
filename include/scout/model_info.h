// What a model file holds and what it costs to run: hyper-parameters, layer
// kinds, tokenizer summary, parameter counts (total and active per token,
// MoE-aware) and a memory plan for a context length. Backs `scout info`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace scout {

namespace gguf {
class GgufFile;
}

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

  // Activation memory a forward pass needs per token of its batch (the same
  // table the engine allocates from).
  uint64_t activation_bytes_per_row = 0;

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
// The same for a file already open (its header only is read).
ModelInfo inspect_model(const gguf::GgufFile& file);

// Where a GPU run would put the model (`scout info --device cuda`, and the
// check before a GPU load). The embedding, output head and norms always go to
// the GPU; -ngl N keeps layers N.. in host memory, --cpu-moe the routed experts.
struct GpuPlacement {
  bool enabled = false;          // plan for a GPU at all
  int n_gpu_layers = -1;         // -1: every layer
  bool cpu_moe = false;
  uint64_t gpu_free_bytes = 0;   // what the GPU has to give (its free memory, or --gpu-mem)
  std::string gpu_name;
};

// The KV cache's element types for K and V, by the names -ctk / -ctv take
// ("f16", "q8_0", ...: backend/kv_layout.h's table). One name sets both.
struct KvCacheTypes {
  std::string k = "f16";
  std::string v = "f16";
  KvCacheTypes() = default;
  KvCacheTypes(std::string both) : k(both), v(std::move(both)) {}  // NOLINT(google-explicit-constructor)
  KvCacheTypes(const char* both) : KvCacheTypes(std::string(both)) {}  // NOLINT(google-explicit-constructor)
  KvCacheTypes(std::string k_type, std::string v_type) : k(std::move(k_type)), v(std::move(v_type)) {}
  // "f16", or "q8_0/q4_0" when K and V differ.
  std::string name() const { return k == v ? k : k + "/" + v; }
};

struct MemoryPlan {
  uint64_t ctx = 0;
  KvCacheTypes kv_type;
  uint32_t kv_block = 256;          // positions per KV page
  uint64_t weight_bytes = 0;        // resident weights (read or mapped from the file)
  uint64_t kv_bytes = 0;            // all layers
  uint64_t kv_bytes_chunked = 0;    // chunked layers: at most one chunk each
  uint64_t kv_bytes_global = 0;     // global layers: the whole context
  uint32_t n_chunked_layers = 0, n_global_layers = 0;
  uint64_t scratch_bytes = 0;       // activations of one batch and one row of logits
  uint32_t batch = 512;
  uint64_t total_bytes() const { return weight_bytes + kv_bytes + scratch_bytes; }

  // With a GpuPlacement: what goes where.
  GpuPlacement gpu;
  uint64_t gpu_weight_bytes = 0;    // weights uploaded to the GPU
  uint64_t host_weight_bytes = 0;   // weights left in host memory (multiplied on the CPU)
  uint32_t gpu_layers = 0;          // layers whose attention and dense/shared FFN are on the GPU
  uint64_t gpu_reserve_bytes = 0;   // the CUDA context, kernels' workspace, recorded steps: a margin
  // Everything the GPU holds: its weights, the KV cache, activations, the margin.
  uint64_t gpu_total_bytes() const { return gpu_weight_bytes + kv_bytes + scratch_bytes + gpu_reserve_bytes; }
  bool fits_gpu() const { return gpu_total_bytes() <= gpu.gpu_free_bytes; }
};

// kv_type's names must be backend/kv_layout.h's, and fit the head dimensions
// (std::invalid_argument otherwise).
MemoryPlan plan_memory(const ModelInfo& info, uint64_t ctx, const KvCacheTypes& kv_type = {}, uint32_t batch = 512,
                       const GpuPlacement& gpu = {});

// What a CPU run has to fit in: the memory the system reports available and,
// with --kv-dir, the free space of that directory's disk.
struct HostLimits {
  uint64_t ram_available = 0;
  std::string kv_dir;       // empty: the KV cache in memory
  uint64_t disk_free = 0;   // bytes free in kv_dir
};

// Empty when the plan's KV cache and activations fit (the weights are mapped
// or copied as memory allows: not counted); otherwise one line naming the
// bytes needed and available and suggesting smaller KV types (with their
// bytes) or --kv-dir.
std::string host_plan_problem(const ModelInfo& info, const MemoryPlan& plan, const HostLimits& lim);

// One line saying why a GPU plan does not fit and what would: the bytes
// needed and available, and --cpu-moe / -ngl suggestions that would fit.
std::string gpu_plan_problem(const ModelInfo& info, const MemoryPlan& plan);

}  // namespace scout
