#include "models/model.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <stdexcept>

namespace scout {

void ForwardBuffers::reserve(const Hparams& hp, int64_t n) {
  const auto sz = [n](uint64_t per_token) { return static_cast<size_t>(n) * per_token; };
  const uint64_t ff = std::max(hp.dense_ff, hp.expert_ff);
  x.resize(sz(hp.d_model));
  h.resize(sz(hp.d_model));
  q.resize(sz(uint64_t{hp.n_head} * hp.head_dim_k));
  k.resize(sz(uint64_t{hp.n_head_kv} * hp.head_dim_k));
  v.resize(sz(uint64_t{hp.n_head_kv} * hp.head_dim_v));
  attn.resize(sz(uint64_t{hp.n_head} * hp.head_dim_v));
  y.resize(sz(hp.d_model));
  gate.resize(sz(ff));
  up.resize(sz(ff));
  router.resize(sz(hp.n_expert));
  moe_in.resize(sz(hp.d_model));
  moe_out.resize(sz(hp.d_model));
  rope_cs.resize(sz(hp.rope_dim));
  factor.resize(sz(1));
  pos.resize(sz(1));
}

Model::Model(gguf::GgufFile file, Hparams hp) : file_(std::move(file)), hp_(std::move(hp)) {
  w_ = bind_weights(file_, hp_);
  // Linear RoPE scaling (some Llama 2 fine-tunes) divides every angle by the
  // factor; other scaling schemes would silently give wrong logits, so refuse them.
  double linear = 1.0;
  const std::string key = hp_.arch_name + ".rope.scaling.type";
  if (const auto type = file_.get_string(key); type && *type != "none") {
    const auto factor = file_.get_float(hp_.arch_name + ".rope.scaling.factor");
    if (*type != "linear" || !factor || *factor <= 0)
      throw gguf::GgufError(fmt::format("{}: unsupported RoPE scaling '{}' ({})", file_.path(), *type, key));
    linear = *factor;
  }
  theta_.resize(hp_.rope_dim / 2);
  for (size_t i = 0; i < theta_.size(); ++i) {
    theta_[i] = std::pow(static_cast<double>(hp_.rope_base), -2.0 * static_cast<double>(i) / hp_.rope_dim) / linear;
    if (!w_.rope_freqs.empty()) theta_[i] /= w_.rope_freqs.data[i];
  }
}

std::unique_ptr<Model> Model::load(const std::string& path, gguf::LoadMode mode) {
  const auto t0 = std::chrono::steady_clock::now();
  gguf::GgufFile file = gguf::GgufFile::open(path, mode);
  spdlog::debug("{}: {} in {:.2f} s", path, file.copied() ? "read into memory" : "mapped",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  Hparams hp = read_hparams(file);
  if (hp.arch == Arch::Llama4) return make_llama4_model(std::move(file), std::move(hp));
  return make_llama_model(std::move(file), std::move(hp));
}

runtime::KvCacheConfig Model::kv_config(runtime::KvType type, uint32_t n_seq) const {
  runtime::KvCacheConfig c;
  c.n_layer = hp_.n_layer;
  c.n_head_kv = hp_.n_head_kv;
  c.head_dim_k = hp_.head_dim_k;
  c.head_dim_v = hp_.head_dim_v;
  for (uint32_t il = 0; il < hp_.n_layer; ++il) c.layer_chunk.push_back(hp_.is_chunked(il) ? hp_.chunk_size : 0);
  c.type = type;
  c.n_seq = n_seq;
  return c;
}

std::vector<SegmentRows> Model::place_rows(const ForwardBatch& batch, runtime::KvCache& kv, ForwardBuffers& buf) const {
  std::vector<BatchSegment> parts = batch.segments;
  if (parts.empty()) parts.push_back({batch.seq, batch.n});
  // Everything is checked before the cache changes.
  std::vector<SegmentRows> segs;
  int64_t row = 0;
  for (const BatchSegment& p : parts) {
    if (p.seq >= kv.config().n_seq || p.n <= 0)
      throw std::logic_error(fmt::format("forward: bad segment (sequence {} of {}, {} rows)", p.seq, kv.config().n_seq, p.n));
    for (const SegmentRows& s : segs)
      if (s.seq == p.seq) throw std::logic_error(fmt::format("forward: sequence {} appears twice in one batch", p.seq));
    const int64_t first = kv.seq_len(p.seq);
    if (const int64_t b = kv.next_chunk_boundary(first); b >= 0 && first + p.n > b)
      throw std::logic_error(fmt::format("forward: positions [{}, {}) of sequence {} cross a chunk boundary", first,
                                         first + p.n, p.seq));
    segs.push_back({p.seq, row, p.n, first});
    row += p.n;
  }
  if (row != batch.n) throw std::logic_error(fmt::format("forward: segments hold {} rows, the batch {}", row, batch.n));

  for (const SegmentRows& s : segs) {
    for (int64_t t = 0; t < s.n; ++t) buf.pos[s.row + t] = static_cast<int32_t>(s.first_pos + t);
    kv.append(s.seq, s.n);
  }
  return segs;
}

void Model::output_head(const std::vector<SegmentRows>& segs, bool all_logits, runtime::Backend& be,
                        ForwardBuffers& buf, float* logits) const {
  if (!logits) return;
  const int64_t d = hp_.d_model;
  int64_t n_out = 0;
  if (all_logits) {
    n_out = segs.back().row + segs.back().n;
    be.rmsnorm(buf.x.data(), w_.output_norm.data, buf.h.data(), n_out, d, hp_.norm_eps);
  } else {
    for (const SegmentRows& s : segs)  // each sequence's last row, gathered
      be.rmsnorm(buf.x.data() + (s.row + s.n - 1) * d, w_.output_norm.data, buf.h.data() + n_out++ * d, 1, d,
                 hp_.norm_eps);
  }
  be.matmul(w_.output, buf.h.data(), logits, n_out);
}

void Model::rope_angles(const int32_t* pos, int64_t n, std::vector<float>& cos_sin) const {
  const size_t half = theta_.size();
  cos_sin.resize(static_cast<size_t>(n) * half * 2);
  for (int64_t t = 0; t < n; ++t)
    for (size_t i = 0; i < half; ++i) {
      const double angle = pos[t] * theta_[i];  // in double: exact enough at any position
      cos_sin[(t * half + i) * 2] = static_cast<float>(std::cos(angle));
      cos_sin[(t * half + i) * 2 + 1] = static_cast<float>(std::sin(angle));
    }
}

}  // namespace scout
