#include "maker/model_maker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <numbers>
#include <set>
#include <stdexcept>

#include "maker/random_values.h"
#include "gguf/tensor_names.h"
#include "gguf/writer.h"
#include "tensor/file_type.h"
#include "tensor/quant.h"
#include "tokenizer/gpt2_bytes.h"

namespace scout::maker {

namespace {

// llama3-style RoPE frequency factors (factor 16, low 1, high 4, original
// context 8192), as Llama 3.1+ and Llama 4 checkpoints carry them.
std::vector<float> llama3_rope_factors(uint32_t head_dim, float base) {
  constexpr double kFactor = 16, kLow = 1, kHigh = 4, kOriginal = 8192;
  std::vector<float> f(head_dim / 2);
  for (uint32_t i = 0; i < f.size(); ++i) {
    const double freq = 1.0 / std::pow(static_cast<double>(base), 2.0 * i / head_dim);
    const double wavelen = 2 * std::numbers::pi / freq;
    if (wavelen < kOriginal / kHigh) {
      f[i] = 1.0f;
    } else if (wavelen > kOriginal / kLow) {
      f[i] = static_cast<float>(kFactor);
    } else {
      const double smooth = (kOriginal / wavelen - kLow) / (kHigh - kLow);
      f[i] = static_cast<float>(1.0 / ((1 - smooth) / kFactor + smooth));
    }
  }
  return f;
}

// ---- Tensor types -------------------------------------------------------------

// The requested type for a weight, or the first fallback whose block fits the
// row length. `base` is the name without "blk.N." and ".weight".
TensorType weight_type_for(const ModelConfig& cfg, const std::string& base, const std::string& full,
                           uint64_t row_len, std::set<std::string>& logged) {
  TensorType want = cfg.weight_type;
  if (auto it = cfg.tensor_types.find(full); it != cfg.tensor_types.end()) want = it->second;
  else if (auto it2 = cfg.tensor_types.find(base); it2 != cfg.tensor_types.end()) want = it2->second;
  if (row_len % type_traits(want).block_size == 0) return want;
  for (TensorType t : {TensorType::Q8_0, TensorType::F16, TensorType::F32}) {
    if (row_len % type_traits(t).block_size != 0) continue;
    if (logged.insert(base).second)
      spdlog::info("{}: row length {} is not a multiple of {}'s block size {}; using {}", base, row_len,
                   type_name(want), type_traits(want).block_size, type_name(t));
    return t;
  }
  return TensorType::F32;  // unreachable: F32's block is 1
}

// ---- Metadata -----------------------------------------------------------------

void write_hparams(gguf::GgufWriter& w, const ModelConfig& c, uint32_t n_vocab) {
  using gguf::Value;
  const std::string p = c.arch + ".";
  const uint32_t hd = c.resolved_head_dim();
  const bool moe = c.n_expert > 0;
  w.set("general.architecture", Value::string(c.arch));
  w.set("general.name", Value::string(c.name));
  w.set(p + "context_length", Value::u32(static_cast<uint32_t>(c.context_length)));
  w.set(p + "embedding_length", Value::u32(c.d_model));
  w.set(p + "block_count", Value::u32(c.n_layer));
  // Mixtral-style llama files name the expert width feed_forward_length.
  w.set(p + "feed_forward_length", Value::u32(!c.is_llama4() && moe ? c.expert_ff : c.dense_ff));
  if (c.is_llama4() && moe) w.set(p + "expert_feed_forward_length", Value::u32(c.expert_ff));
  w.set(p + "attention.head_count", Value::u32(c.n_head));
  w.set(p + "attention.head_count_kv", Value::u32(c.n_head_kv));
  w.set(p + "rope.dimension_count", Value::u32(hd));
  w.set(p + "attention.key_length", Value::u32(hd));
  w.set(p + "attention.value_length", Value::u32(hd));
  w.set(p + "rope.freq_base", Value::f32(c.rope_base));
  w.set(p + "attention.layer_norm_rms_epsilon", Value::f32(c.norm_eps));
  if (moe) {
    w.set(p + "expert_count", Value::u32(c.n_expert));
    w.set(p + "expert_used_count", Value::u32(c.n_expert_used));
  }
  if (c.is_llama4()) {
    w.set(p + "interleave_moe_layer_step", Value::u32(c.interleave_moe_layer_step));
    // Both keys are optional; readers default to 4 and 8192 (the real models).
    if (c.nope_period != 4) w.set(p + "no_rope_layer_step", Value::u32(c.nope_period));
    if (c.chunk_size != 8192) w.set(p + "attention.sliding_window", Value::u32(c.chunk_size));
  }
  w.set(p + "vocab_size", Value::u32(n_vocab));
  if (auto ft = file_type_for(c.weight_type)) w.set("general.file_type", Value::u32(*ft));
  w.set("general.quantization_version", Value::u32(2));
}

// Fills one tensor: rows generated and encoded in parallel straight into the
// writer's buffer, with one row of floats per thread.
gguf::GgufWriter::Fill make_fill(const PlannedTensor& t, uint64_t seed, const ModelConfig& cfg,
                                 const std::vector<uint8_t>& zero_rows) {
  const uint64_t key = tensor_key(seed, t.name);
  float scale = 1.0f;
  const float d = static_cast<float>(cfg.d_model);
  switch (t.init) {
    case InitKind::Embedding: scale = cfg.tie_embeddings ? 4.0f / std::sqrt(d) : 1.0f; break;
    case InitKind::Output: scale = 4.0f / std::sqrt(d); break;
    case InitKind::Matrix: scale = 1.0f / std::sqrt(static_cast<float>(t.ne[0])); break;
    case InitKind::Norm: scale = 0.1f; break;
    case InitKind::RopeFreqs: break;
  }
  std::vector<float> rope;
  if (t.init == InitKind::RopeFreqs) rope = llama3_rope_factors(cfg.resolved_head_dim(), cfg.rope_base);
  const TensorType type = t.type;
  const InitKind init = t.init;
  const uint64_t row_len = t.ne[0];
  std::vector<uint8_t> zero;  // rows to leave at zero (readable_output)
  if (init == InitKind::Output) zero = zero_rows;

  return [=](uint8_t* dst, uint64_t nbytes) {
    fill_rows(type, row_len, dst, nbytes, [&](int64_t r, float* row) {
      const uint64_t first = static_cast<uint64_t>(r) * row_len;
      const bool zero_row = static_cast<size_t>(r) < zero.size() && zero[static_cast<size_t>(r)];
      for (uint64_t i = 0; i < row_len; ++i) {
        if (zero_row) row[i] = 0.0f;
        else if (init == InitKind::RopeFreqs) row[i] = rope[i];
        else if (init == InitKind::Norm) row[i] = 1.0f + scale * normal_at(key, first + i);
        else row[i] = scale * normal_at(key, first + i);
      }
    });
  };
}

}  // namespace

std::vector<PlannedTensor> plan_tensors(const ModelConfig& c, uint32_t n_vocab) {
  std::vector<PlannedTensor> out;
  std::set<std::string> logged;
  const uint64_t d = c.d_model, hd = c.resolved_head_dim();
  const uint64_t q_dim = c.n_head * hd, kv_dim = c.n_head_kv * hd;
  auto weight = [&](const std::string& prefix, std::string_view base_name, std::vector<uint64_t> ne, InitKind init) {
    const std::string base(base_name), full = prefix + base;
    out.push_back({names::tensor_name(full), weight_type_for(c, base, full, ne[0], logged), std::move(ne), init});
  };
  auto f32 = [&](std::string_view name, std::vector<uint64_t> ne, InitKind init) {
    out.push_back({names::tensor_name(name), TensorType::F32, std::move(ne), init});
  };

  using namespace names;
  weight("", kTokenEmbd, {d, n_vocab}, InitKind::Embedding);
  f32(kOutputNorm, {d}, InitKind::Norm);
  if (!c.tie_embeddings) weight("", kOutput, {d, n_vocab}, InitKind::Output);
  if (c.rope_freqs) f32(kRopeFreqs, {hd / 2}, InitKind::RopeFreqs);

  for (uint32_t il = 0; il < c.n_layer; ++il) {
    const std::string b = layer_prefix(il);
    f32(b + std::string(kAttnNorm), {d}, InitKind::Norm);
    weight(b, kAttnQ, {d, q_dim}, InitKind::Matrix);
    weight(b, kAttnK, {d, kv_dim}, InitKind::Matrix);
    weight(b, kAttnV, {d, kv_dim}, InitKind::Matrix);
    weight(b, kAttnOut, {q_dim, d}, InitKind::Matrix);
    f32(b + std::string(kFfnNorm), {d}, InitKind::Norm);
    if (c.is_moe_layer(il)) {
      const uint64_t f = c.expert_ff, e = c.n_expert;
      // The router stays F32, as in real quantized downloads.
      out.push_back({b + tensor_name(kRouter), TensorType::F32, {d, e}, InitKind::Matrix});
      weight(b, kGateExps, {d, f, e}, InitKind::Matrix);
      weight(b, kUpExps, {d, f, e}, InitKind::Matrix);
      weight(b, kDownExps, {f, d, e}, InitKind::Matrix);
      if (c.is_llama4() && c.shared_expert) {
        weight(b, kGateShexp, {d, f}, InitKind::Matrix);
        weight(b, kUpShexp, {d, f}, InitKind::Matrix);
        weight(b, kDownShexp, {f, d}, InitKind::Matrix);
      }
    } else {
      const uint64_t f = c.dense_ff;
      weight(b, kFfnGate, {d, f}, InitKind::Matrix);
      weight(b, kFfnUp, {d, f}, InitKind::Matrix);
      weight(b, kFfnDown, {f, d}, InitKind::Matrix);
    }
  }
  return out;
}

tokenizer::GgufVocab load_vocab(const VocabSource& src) {
  if (src.builtin) return tokenizer::builtin_byte_vocab();
  const auto t0 = std::chrono::steady_clock::now();
  tokenizer::GgufVocab v = tokenizer::import_tiktoken(src.tiktoken, src.max_ranks);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("vocabulary {}: {} tokens, {} merges ({:.2f} s)", src.tiktoken, v.tokens.size(), v.merges.size(), s);
  return v;
}

namespace {
// The vocabulary ids readable_output silences: specials, and single-byte
// tokens that are not printable ASCII, a newline or a tab.
std::vector<uint8_t> unreadable_tokens(const tokenizer::GgufVocab& vocab) {
  std::vector<uint8_t> out(vocab.tokens.size(), 0);
  for (size_t id = 0; id < vocab.tokens.size(); ++id) {
    if (id >= vocab.n_bpe) {
      out[id] = 1;
      continue;
    }
    const std::string bytes = tokenizer::gpt2_decode_string(vocab.tokens[id]).value_or("");
    if (bytes.size() == 1) {
      const auto b = static_cast<unsigned char>(bytes[0]);
      out[id] = !(b == '\n' || b == '\t' || (b >= 0x20 && b < 0x7f));
    }
  }
  return out;
}
}  // namespace

void make_model(const ModelConfig& cfg, uint64_t seed, const std::string& out_path, bool no_data) {
  const auto t0 = std::chrono::steady_clock::now();
  const tokenizer::GgufVocab vocab = load_vocab(cfg.vocab);
  const auto n_vocab = static_cast<uint32_t>(vocab.tokens.size());
  const std::vector<PlannedTensor> plan = plan_tensors(cfg, n_vocab);

  if (!no_data) {
    for (const PlannedTensor& t : plan)
      if (!can_quantize(t.type))
        throw std::runtime_error(fmt::format("{}: scout cannot generate {} data (choose another type, or --no-data)",
                                             t.name, type_name(t.type)));
  }
  if (cfg.is_llama4() && cfg.n_expert > 0 && !cfg.shared_expert)
    spdlog::warn("llama4 without a shared expert: readers that assume Llama 4's shared expert will reject it");

  gguf::GgufWriter w;
  write_hparams(w, cfg, n_vocab);
  tokenizer::write_vocab(w, vocab);

  const std::vector<uint8_t> zero_rows = cfg.readable_output ? unreadable_tokens(vocab) : std::vector<uint8_t>();
  uint64_t n_params = 0, n_bytes = 0;
  for (const PlannedTensor& t : plan) {
    uint64_t n = 1;
    for (uint64_t x : t.ne) n *= x;
    n_params += n;
    n_bytes += row_bytes(t.type, n);
    w.add_tensor(t.name, t.type, t.ne, no_data ? gguf::GgufWriter::Fill{} : make_fill(t, seed, cfg, zero_rows));
  }
  spdlog::info("writing {}: {} {} layers, {:.3f} B parameters, {:.2f} GiB of tensor data{}", out_path, cfg.arch,
               cfg.n_layer, static_cast<double>(n_params) * 1e-9, static_cast<double>(n_bytes) / (1ull << 30),
               no_data ? " (left as a hole: --no-data)" : "");
  w.write(out_path);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("wrote {} in {:.2f} s", out_path, s);
}

}  // namespace scout::maker
