#include "models/hparams.h"

#include <fmt/format.h>

#include "gguf/tensor_names.h"

namespace scout {

void KeyReader::fail(const std::string& what) const { throw gguf::GgufError(fmt::format("{}: {}", f.path(), what)); }

std::optional<uint64_t> KeyReader::uint_or_uniform_array(const std::string& key) const {
  const gguf::Value* v = f.find(key);
  if (!v || !v->is_array()) return f.get_uint(key);
  if (v->array_size() == 0) fail(fmt::format("key {} is an empty array", key));
  const int64_t first = v->int_at(0);
  for (size_t i = 1; i < v->array_size(); ++i)
    if (v->int_at(i) != first) fail(fmt::format("key {} differs between layers; per-layer shapes are not supported", key));
  if (first < 0) fail(fmt::format("key {} is negative", key));
  return static_cast<uint64_t>(first);
}

uint32_t KeyReader::required(const std::string& name) const {
  auto v = uint_or_uniform_array(prefix + name);
  if (!v) fail(fmt::format("missing key {}{}", prefix, name));
  if (*v > UINT32_MAX) fail(fmt::format("key {}{} = {} is too large", prefix, name, *v));
  return static_cast<uint32_t>(*v);
}

uint32_t KeyReader::optional(const std::string& name, uint32_t fallback) const {
  auto v = uint_or_uniform_array(prefix + name);
  if (v && *v > UINT32_MAX) fail(fmt::format("key {}{} = {} is too large", prefix, name, *v));
  return v ? static_cast<uint32_t>(*v) : fallback;
}

bool Hparams::is_moe_layer(uint32_t il) const {
  return n_expert > 0 && moe_layer_step > 0 && (il + 1) % moe_layer_step == 0;
}

bool Hparams::uses_rope(uint32_t il) const { return nope_period == 0 || (il + 1) % nope_period != 0; }

Hparams read_common_hparams(const gguf::GgufFile& file) {
  Hparams hp;
  hp.arch_name = file.architecture();
  KeyReader k{file, hp.arch_name + "."};
  hp.n_layer = k.required("block_count");
  hp.d_model = k.required("embedding_length");
  hp.n_head = k.required("attention.head_count");
  hp.n_head_kv = k.optional("attention.head_count_kv", hp.n_head);
  hp.dense_ff = k.required("feed_forward_length");
  hp.expert_ff = hp.dense_ff;
  hp.context_length = k.optional("context_length", 2048);
  if (hp.n_layer == 0 || hp.d_model == 0 || hp.n_head == 0 || hp.n_head_kv == 0)
    k.fail("block_count, embedding_length and the head counts must be non-zero");
  if (hp.n_head % hp.n_head_kv != 0)
    k.fail(fmt::format("head_count {} is not a multiple of head_count_kv {}", hp.n_head, hp.n_head_kv));
  hp.head_dim_k = k.optional("attention.key_length", hp.d_model / hp.n_head);
  hp.head_dim_v = k.optional("attention.value_length", hp.d_model / hp.n_head);
  hp.rope_dim = k.optional("rope.dimension_count", hp.head_dim_k);
  hp.n_expert = k.optional("expert_count", 0);
  hp.n_expert_used = k.optional("expert_used_count", hp.n_expert > 0 ? 1 : 0);
  if (hp.n_expert > 0 && (hp.n_expert_used == 0 || hp.n_expert_used > hp.n_expert))
    k.fail(fmt::format("expert_used_count {} is not in 1..expert_count ({})", hp.n_expert_used, hp.n_expert));
  if (auto v = file.get_float(k.prefix + "rope.freq_base")) hp.rope_base = static_cast<float>(*v);
  if (auto v = file.get_float(k.prefix + "attention.layer_norm_rms_epsilon")) hp.norm_eps = static_cast<float>(*v);
  hp.n_vocab = k.optional("vocab_size", 0);
  if (hp.n_vocab == 0) {
    if (const gguf::Value* tokens = file.find("tokenizer.ggml.tokens"); tokens && tokens->is_array())
      hp.n_vocab = static_cast<uint32_t>(tokens->array_size());
    else if (const gguf::TensorInfo* embd = file.find_tensor(names::tensor_name(names::kTokenEmbd)))
      hp.n_vocab = static_cast<uint32_t>(embd->ne[1]);
  }
  return hp;
}

}  // namespace scout
