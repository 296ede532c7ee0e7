#include "models/model.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <stdexcept>

#include "backend/device.h"
#include "models/registry.h"

namespace scout {

using backend::DType;
using backend::Tensor;

ExpertStats::ExpertStats(const Hparams& hp) : counts(hp.n_layer) {
  for (uint32_t il = 0; il < hp.n_layer; ++il)
    if (hp.n_expert > 0 && hp.is_moe_layer(il)) counts[il].assign(hp.n_expert, 0);
}

void ForwardPass::observe_routes(backend::Backend& be, uint32_t il, const Tensor& experts) const {
  if (!expert_stats) return;
  std::vector<int32_t> ids(static_cast<size_t>(experts.size()));
  be.download(ids.data(), experts);
  std::vector<uint64_t>& row = expert_stats->counts.at(il);
  for (int32_t e : ids)
    if (e >= 0 && static_cast<size_t>(e) < row.size()) row[static_cast<size_t>(e)]++;
}

namespace {

// Every activation buffer: its member, element type and columns per row.
struct ActivationSpec {
  Tensor ActivationRows::*member;
  DType dtype;
  uint64_t (*cols)(const Hparams&);
};

constexpr ActivationSpec kActivations[] = {
    {&ActivationRows::x, DType::F32, [](const Hparams& hp) -> uint64_t { return hp.d_model; }},
    {&ActivationRows::h, DType::F32, [](const Hparams& hp) -> uint64_t { return hp.d_model; }},
    {&ActivationRows::q, DType::F32, [](const Hparams& hp) -> uint64_t { return uint64_t{hp.n_head} * hp.head_dim_k; }},
    {&ActivationRows::k, DType::F32, [](const Hparams& hp) -> uint64_t { return uint64_t{hp.n_head_kv} * hp.head_dim_k; }},
    {&ActivationRows::v, DType::F32, [](const Hparams& hp) -> uint64_t { return uint64_t{hp.n_head_kv} * hp.head_dim_v; }},
    {&ActivationRows::attn, DType::F32, [](const Hparams& hp) -> uint64_t { return uint64_t{hp.n_head} * hp.head_dim_v; }},
    {&ActivationRows::y, DType::F32, [](const Hparams& hp) -> uint64_t { return hp.d_model; }},
    {&ActivationRows::gate, DType::F32, [](const Hparams& hp) -> uint64_t { return std::max(hp.dense_ff, hp.expert_ff); }},
    {&ActivationRows::up, DType::F32, [](const Hparams& hp) -> uint64_t { return std::max(hp.dense_ff, hp.expert_ff); }},
    {&ActivationRows::router, DType::F32, [](const Hparams& hp) -> uint64_t { return std::max(hp.n_expert, 1u); }},
    {&ActivationRows::experts, DType::I32, [](const Hparams& hp) -> uint64_t { return std::max(hp.n_expert_used, 1u); }},
    {&ActivationRows::expert_weights, DType::F32, [](const Hparams& hp) -> uint64_t { return std::max(hp.n_expert_used, 1u); }},
    {&ActivationRows::rope, DType::F32, [](const Hparams& hp) -> uint64_t { return std::max(hp.rope_dim, 2u); }},
    {&ActivationRows::temp, DType::F32, [](const Hparams&) -> uint64_t { return 1; }},
};

}  // namespace

void Activations::reserve(backend::Backend& be, const Hparams& hp, int64_t n_rows) {
  if (n_rows <= capacity_) return;
  bufs_.clear();
  for (const ActivationSpec& s : kActivations)
    bufs_.push_back(be.alloc(s.dtype, n_rows, static_cast<int64_t>(s.cols(hp))));
  capacity_ = n_rows;
}

ActivationRows Activations::rows(int64_t n) const {
  if (n > capacity_) throw std::logic_error(fmt::format("activations for {} rows, reserved {}", n, capacity_));
  ActivationRows a;
  for (size_t i = 0; i < bufs_.size(); ++i) a.*kActivations[i].member = bufs_[i].rows(n);
  return a;
}

uint64_t Activations::bytes_per_row(const Hparams& hp) {
  uint64_t b = 0;
  for (const ActivationSpec& s : kActivations) b += s.cols(hp) * backend::dtype_size(s.dtype);
  return b;
}

Model::Model(gguf::GgufFile file, Hparams hp, const LoadOptions& opts)
    : file_(std::move(file)),
      hp_(std::move(hp)),
      be_(opts.backend ? opts.backend : backend::shared_backend(backend::Device::Cpu)) {}

void Model::init_rope() {
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
  theta_host_.resize(std::max<size_t>(hp_.rope_dim / 2, 1));
  for (size_t i = 0; i < theta_host_.size(); ++i) {
    theta_host_[i] = std::pow(static_cast<double>(hp_.rope_base), -2.0 * static_cast<double>(i) / hp_.rope_dim) / linear;
    if (!w_.rope_freqs.empty()) theta_host_[i] /= w_.rope_freqs[i];
  }
  theta_ = be_->place_constant(DType::F64, theta_host_.data(), 1, static_cast<int64_t>(theta_host_.size()));
}

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  gguf::GgufFile file = gguf::GgufFile::open(path, opts.mode);
  spdlog::debug("{}: {} in {:.2f} s", path, file.copied() ? "read into memory" : "mapped",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  const Architecture& arch = find_architecture(file);
  Hparams hp = arch.read_hparams(file);
  return arch.load(std::move(file), std::move(hp), opts);
}

std::vector<uint32_t> Model::layer_chunks() const {
  std::vector<uint32_t> c;
  for (uint32_t il = 0; il < hp_.n_layer; ++il) c.push_back(hp_.is_chunked(il) ? hp_.chunk_size : 0);
  return c;
}

backend::AttentionParams Model::attention_params(uint32_t il) const {
  backend::AttentionParams ap;
  ap.n_head = static_cast<int>(hp_.n_head);
  ap.n_head_kv = static_cast<int>(hp_.n_head_kv);
  ap.head_dim_k = static_cast<int>(hp_.head_dim_k);
  ap.head_dim_v = static_cast<int>(hp_.head_dim_v);
  ap.scale = 1.0f / std::sqrt(static_cast<float>(hp_.head_dim_k));
  ap.chunk_size = hp_.is_chunked(il) ? hp_.chunk_size : 0;
  return ap;
}

void Model::input_rows(const ForwardPass& p, const ActivationRows& a) const {
  if (p.embeddings.empty()) return be_->embed(w_.token_embd, p.tokens, a.x);
  be_->fill_zero(a.x);
  be_->add(a.x, p.embeddings);  // image rows enter as they are: no scaling
}

void Model::output_head(const ForwardPass& p, const ActivationRows& a) const {
  if (p.logits.empty()) return;
  backend::Backend& be = *be_;
  Tensor h = a.h;
  if (!p.out_rows.empty()) {  // each sequence's last row, gathered
    h = a.h.slice_rows(0, p.out_rows.rows);
    be.gather_rows(a.x, p.out_rows, h);
    be.rmsnorm(h, w_.output_norm, h, hp_.norm_eps);
  } else {
    be.rmsnorm(a.x, w_.output_norm, h, hp_.norm_eps);
  }
  be.matmul(w_.output, h, p.logits);
}

}  // namespace scout
