// The tensors of a llama-family transformer, bound by name from the GGUF file
// and placed on the model's backend once, at load: on the CPU the file's
// bytes are used in place, on a GPU they are uploaded (except what the
// Placement leaves in host memory). Shapes and types are checked against the
// hyper-parameters first: a missing tensor, a wrong shape or a type without a
// dequantizer is a gguf::GgufError at load, not a crash mid-forward.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.h"
#include "gguf/reader.h"
#include "models/hparams.h"

namespace scout {

// A SwiGLU feed-forward block: out = down(silu(gate x) * up x).
struct FfnWeights {
  backend::Weight gate, up, down;
};

struct LayerWeights {
  backend::Tensor attn_norm, ffn_norm;  // [1][d_model]
  backend::Weight wq, wk, wv, wo;
  // MoE layers: the router [d, E] and the routed experts (stacked [d, F, E]
  // gate/up, [F, d, E] down); llama4 adds a shared expert.
  backend::Weight router;
  backend::ExpertWeights experts;
  FfnWeights shared;
  // Dense layers.
  FfnWeights ffn;
};

// What holds a model's placed copies (GPU) and the vectors dequantized from
// other types than f32 (host): kept as long as the weights are used.
struct PlacedStorage {
  std::vector<backend::Buffer> placed;
  std::vector<std::vector<float>> host_vectors;
};

struct TransformerWeights {
  backend::Weight token_embd;
  backend::Weight output;         // = token_embd when tied
  bool tied_output = false;
  backend::Tensor output_norm;
  std::vector<float> rope_freqs;  // RoPE frequency factors (host); empty when the file has none
  std::vector<LayerWeights> layers;
  PlacedStorage storage;
};

// Where weights go on a GPU backend (the CPU backend ignores it). The
// embedding, the output head and the norms always go to the GPU.
struct Placement {
  int n_gpu_layers = -1;   // -ngl: the first N layers' weights on the GPU, the rest in host memory; -1: all
  bool cpu_moe = false;    // --cpu-moe: routed experts in host memory, run on the CPU

  // Whether the tensor of this GGUF name stays in host memory: the one rule
  // for the binder and for `scout info`'s plan.
  bool keeps_on_host(std::string_view tensor_name) const;
};

// Binds and places tensors one by one; the shared building blocks of every
// architecture's binding.
class WeightBinder {
 public:
  WeightBinder(const gguf::GgufFile& file, backend::Backend& be, Placement placement, TransformerWeights& out)
      : file_(file), be_(be), placement_(placement), store_(out.storage), out_(&out) {}
  // For other models' tensors (the vision projector): matrix() and vector() only.
  WeightBinder(const gguf::GgufFile& file, backend::Backend& be, PlacedStorage& store)
      : file_(file), be_(be), store_(store) {}

  [[noreturn]] void fail(const std::string& what) const;
  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
  // A matrix of the given shape (ne order), placed as the Placement says.
  backend::Weight matrix(const std::string& name, std::vector<uint64_t> shape);
  // A 1-D f32 vector of n (any stored type), placed as [1][n].
  backend::Tensor vector(const std::string& name, uint64_t n);
  // The same, kept on the host.
  std::vector<float> host_vector(const std::string& name, uint64_t n);

  // token_embd, output_norm, output (or tied), rope_freqs.
  void bind_globals(const Hparams& hp);
  // attn_norm, q, k, v, output projection, ffn_norm of layer il.
  void bind_attention(const Hparams& hp, uint32_t il, LayerWeights& L);
  void bind_dense_ffn(const Hparams& hp, uint32_t il, LayerWeights& L);
  // Router and routed experts, and the shared expert when hp.shared_expert.
  void bind_experts(const Hparams& hp, uint32_t il, LayerWeights& L);
 private:
  const gguf::TensorInfo& tensor(const std::string& name, const std::vector<uint64_t>& shape) const;
  const float* f32_data(const std::string& name, uint64_t n);

  const gguf::GgufFile& file_;
  backend::Backend& be_;
  Placement placement_;
  PlacedStorage& store_;
  TransformerWeights* out_ = nullptr;  // what the bind_* functions fill
};

// The whole llama-family layout: globals, then every layer's attention and
// its dense or MoE feed-forward, as the hyper-parameters say.
TransformerWeights bind_transformer(const gguf::GgufFile& file, const Hparams& hp, backend::Backend& be,
                                    Placement placement);

}  // namespace scout
