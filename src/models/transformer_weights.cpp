#include "models/transformer_weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tensor/dequant.h"

namespace scout {

namespace {

struct Binder {
  const gguf::GgufFile& file;

  [[noreturn]] void fail(const std::string& what) const {
    throw gguf::GgufError(fmt::format("{}: {}", file.path(), what));
  }

  // The tensor, after checking its shape (ne order) and that scout can read its type.
  const gguf::TensorInfo& tensor(const std::string& name, std::vector<uint64_t> shape) const {
    const gguf::TensorInfo* t = file.find_tensor(name);
    if (!t) fail(fmt::format("missing tensor {}", name));
    bool same = true;
    for (size_t i = 0; i < gguf::kMaxDims; ++i) same = same && t->ne[i] == (i < shape.size() ? shape[i] : 1);
    if (!same) fail(fmt::format("tensor {} has shape {}, expected [{}]", name, t->shape_string(), fmt::join(shape, ", ")));
    if (!can_dequantize(t->type))
      fail(fmt::format("unsupported tensor type {} in tensor {}", type_name(t->type), name));
    return *t;
  }

  runtime::WeightView matrix(const std::string& name, std::vector<uint64_t> shape) const {
    const gguf::TensorInfo& t = tensor(name, shape);
    runtime::WeightView w;
    w.name = t.name;
    w.type = t.type;
    w.n_in = static_cast<int64_t>(t.ne[0]);
    w.n_out = static_cast<int64_t>(t.n_rows());
    w.row_bytes = row_bytes(t.type, t.ne[0]);
    w.data = t.data;
    return w;
  }

  VectorWeight vector(const std::string& name, uint64_t n) const {
    const gguf::TensorInfo& t = tensor(name, {n});
    VectorWeight v;
    v.n = static_cast<int64_t>(n);
    if (t.type == TensorType::F32) {
      v.data = reinterpret_cast<const float*>(t.data);
    } else {
      v.owned.resize(n);
      dequantize_row(t.type, t.data, v.owned.data(), static_cast<int64_t>(n));
      v.data = v.owned.data();
    }
    return v;
  }
};

}  // namespace

TransformerWeights bind_weights(const gguf::GgufFile& file, const Hparams& hp) {
  const Binder b{file};
  const uint64_t d = hp.d_model, V = hp.n_vocab;
  const uint64_t q_dim = uint64_t{hp.n_head} * hp.head_dim_k, k_dim = uint64_t{hp.n_head_kv} * hp.head_dim_k;
  const uint64_t v_dim = uint64_t{hp.n_head_kv} * hp.head_dim_v, o_dim = uint64_t{hp.n_head} * hp.head_dim_v;
  if (V == 0) b.fail("the vocabulary size is unknown (no vocab_size key, tokens or token_embd.weight)");
  if (hp.rope_dim % 2 != 0 || hp.rope_dim > hp.head_dim_k)
    b.fail(fmt::format("rope dimension {} must be even and at most the head dimension {}", hp.rope_dim, hp.head_dim_k));

  TransformerWeights w;
  w.token_embd = b.matrix("token_embd.weight", {d, V});
  w.output_norm = b.vector("output_norm.weight", d);
  w.tied_output = file.find_tensor("output.weight") == nullptr;
  w.output = w.tied_output ? w.token_embd : b.matrix("output.weight", {d, V});
  if (file.find_tensor("rope_freqs.weight")) w.rope_freqs = b.vector("rope_freqs.weight", hp.rope_dim / 2);

  w.layers.reserve(hp.n_layer);
  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    const std::string p = fmt::format("blk.{}.", il);
    LayerWeights& L = w.layers.emplace_back();
    L.attn_norm = b.vector(p + "attn_norm.weight", d);
    L.wq = b.matrix(p + "attn_q.weight", {d, q_dim});
    L.wk = b.matrix(p + "attn_k.weight", {d, k_dim});
    L.wv = b.matrix(p + "attn_v.weight", {d, v_dim});
    L.wo = b.matrix(p + "attn_output.weight", {o_dim, d});
    L.ffn_norm = b.vector(p + "ffn_norm.weight", d);
    if (hp.is_moe_layer(il)) {
      const uint64_t E = hp.n_expert, F = hp.expert_ff;
      L.router = b.matrix(p + "ffn_gate_inp.weight", {d, E});
      L.gate_exps = b.matrix(p + "ffn_gate_exps.weight", {d, F, E});
      L.up_exps = b.matrix(p + "ffn_up_exps.weight", {d, F, E});
      L.down_exps = b.matrix(p + "ffn_down_exps.weight", {F, d, E});
      if (hp.shared_expert) {
        L.gate_shexp = b.matrix(p + "ffn_gate_shexp.weight", {d, F});
        L.up_shexp = b.matrix(p + "ffn_up_shexp.weight", {d, F});
        L.down_shexp = b.matrix(p + "ffn_down_shexp.weight", {F, d});
      }
    } else {
      const uint64_t F = hp.dense_ff;
      L.ffn_gate = b.matrix(p + "ffn_gate.weight", {d, F});
      L.ffn_up = b.matrix(p + "ffn_up.weight", {d, F});
      L.ffn_down = b.matrix(p + "ffn_down.weight", {F, d});
    }
  }
  return w;
}

}  // namespace scout
