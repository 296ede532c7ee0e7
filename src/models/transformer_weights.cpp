#include "models/transformer_weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gguf/tensor_names.h"
#include "tensor/dequant.h"

namespace scout {

using backend::DType;
using backend::Weight;

void WeightBinder::fail(const std::string& what) const {
  throw gguf::GgufError(fmt::format("{}: {}", file_.path(), what));
}

const gguf::TensorInfo& WeightBinder::tensor(const std::string& name, const std::vector<uint64_t>& shape) const {
  const gguf::TensorInfo& t = file_.require_tensor(name, shape);
  if (!can_dequantize(t.type)) fail(fmt::format("unsupported tensor type {} in tensor {}", type_name(t.type), name));
  return t;
}

bool Placement::keeps_on_host(std::string_view name) const {
  const std::string_view role = names::role_of(name);
  if (cpu_moe && (role == names::kGateExps || role == names::kUpExps || role == names::kDownExps)) return true;
  if (n_gpu_layers < 0 || !name.starts_with("blk.")) return false;
  uint32_t layer = 0;
  for (size_t i = 4; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) layer = layer * 10 + (name[i] - '0');
  return layer >= static_cast<uint32_t>(n_gpu_layers);
}

Weight WeightBinder::matrix(const std::string& name, std::vector<uint64_t> shape) {
  const gguf::TensorInfo& t = tensor(name, shape);
  Weight w;
  w.name = t.name;
  w.type = t.type;
  w.n_in = static_cast<int64_t>(t.ne[0]);
  w.n_out = static_cast<int64_t>(t.n_rows());
  w.row_bytes = row_bytes(t.type, t.ne[0]);
  w.host = t.data;
  if (backend::Buffer b = be_.place_weight(w, placement_.keeps_on_host(name)); !b.tensor().empty())
    store_.placed.push_back(std::move(b));
  return w;
}

const float* WeightBinder::f32_data(const std::string& name, uint64_t n) {
  const gguf::TensorInfo& t = tensor(name, {n});
  if (t.type == TensorType::F32) return reinterpret_cast<const float*>(t.data);
  std::vector<float>& v = store_.host_vectors.emplace_back(n);  // tiny: dequantized once
  dequantize_row(t.type, t.data, v.data(), static_cast<int64_t>(n));
  return v.data();
}

backend::Tensor WeightBinder::vector(const std::string& name, uint64_t n) {
  backend::Buffer b = be_.place_constant(DType::F32, f32_data(name, n), 1, static_cast<int64_t>(n));
  const backend::Tensor t = b.tensor();
  store_.placed.push_back(std::move(b));
  return t;
}

std::vector<float> WeightBinder::host_vector(const std::string& name, uint64_t n) {
  const float* p = f32_data(name, n);
  return std::vector<float>(p, p + n);
}

void WeightBinder::bind_globals(const Hparams& hp) {
  using namespace names;
  const uint64_t d = hp.d_model, V = hp.n_vocab;
  if (V == 0) fail("the vocabulary size is unknown (no vocab_size key, tokens or token_embd.weight)");
  if (hp.rope_dim % 2 != 0 || hp.rope_dim > hp.head_dim_k)
    fail(fmt::format("rope dimension {} must be even and at most the head dimension {}", hp.rope_dim, hp.head_dim_k));
  out_->token_embd = matrix(tensor_name(kTokenEmbd), {d, V});
  out_->output_norm = vector(tensor_name(kOutputNorm), d);
  out_->tied_output = !has(tensor_name(kOutput));
  out_->output = out_->tied_output ? out_->token_embd : matrix(tensor_name(kOutput), {d, V});
  if (has(tensor_name(kRopeFreqs))) out_->rope_freqs = host_vector(tensor_name(kRopeFreqs), hp.rope_dim / 2);
}

void WeightBinder::bind_attention(const Hparams& hp, uint32_t il, LayerWeights& L) {
  using namespace names;
  const uint64_t d = hp.d_model;
  const uint64_t q_dim = uint64_t{hp.n_head} * hp.head_dim_k, k_dim = uint64_t{hp.n_head_kv} * hp.head_dim_k;
  const uint64_t v_dim = uint64_t{hp.n_head_kv} * hp.head_dim_v, o_dim = uint64_t{hp.n_head} * hp.head_dim_v;
  L.attn_norm = vector(layer_tensor_name(il, kAttnNorm), d);
  L.wq = matrix(layer_tensor_name(il, kAttnQ), {d, q_dim});
  L.wk = matrix(layer_tensor_name(il, kAttnK), {d, k_dim});
  L.wv = matrix(layer_tensor_name(il, kAttnV), {d, v_dim});
  L.wo = matrix(layer_tensor_name(il, kAttnOut), {o_dim, d});
  L.ffn_norm = vector(layer_tensor_name(il, kFfnNorm), d);
}

void WeightBinder::bind_dense_ffn(const Hparams& hp, uint32_t il, LayerWeights& L) {
  using namespace names;
  const uint64_t d = hp.d_model, F = hp.dense_ff;
  L.ffn.gate = matrix(layer_tensor_name(il, kFfnGate), {d, F});
  L.ffn.up = matrix(layer_tensor_name(il, kFfnUp), {d, F});
  L.ffn.down = matrix(layer_tensor_name(il, kFfnDown), {F, d});
}

void WeightBinder::bind_experts(const Hparams& hp, uint32_t il, LayerWeights& L) {
  using namespace names;
  const uint64_t d = hp.d_model, E = hp.n_expert, F = hp.expert_ff;
  L.router = matrix(layer_tensor_name(il, kRouter), {d, E});
  L.experts.gate = matrix(layer_tensor_name(il, kGateExps), {d, F, E});
  L.experts.up = matrix(layer_tensor_name(il, kUpExps), {d, F, E});
  L.experts.down = matrix(layer_tensor_name(il, kDownExps), {F, d, E});
  L.experts.n_expert = static_cast<int>(E);
  if (hp.shared_expert) {
    L.shared.gate = matrix(layer_tensor_name(il, kGateShexp), {d, F});
    L.shared.up = matrix(layer_tensor_name(il, kUpShexp), {d, F});
    L.shared.down = matrix(layer_tensor_name(il, kDownShexp), {F, d});
  }
}

TransformerWeights bind_transformer(const gguf::GgufFile& file, const Hparams& hp, backend::Backend& be,
                                    Placement placement) {
  TransformerWeights w;
  WeightBinder b(file, be, placement, w);
  b.bind_globals(hp);
  w.layers.resize(hp.n_layer);
  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    b.bind_attention(hp, il, w.layers[il]);
    if (hp.is_moe_layer(il)) b.bind_experts(hp, il, w.layers[il]);
    else b.bind_dense_ffn(hp, il, w.layers[il]);
  }
  return w;
}

}  // namespace scout
