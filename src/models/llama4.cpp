// The Llama 4 text model (arch `llama4`), following shared/docs/llama4-gguf.md:
// interleaved RoPE + chunked-attention layers and NoPE + global-attention
// layers, QK norm, attention temperature tuning, sigmoid top-k routed experts
// (weight on the expert input) plus a shared expert.
#include <cmath>

#include "models/ffn.h"
#include "models/model.h"

namespace scout {

namespace {

using backend::Backend;

// Attention temperature tuning on NoPE layers (Llama 4): queries far into the
// context are sharpened by 1 + 0.1 * log(floor((p + 1) / 8192) + 1).
constexpr double kTempFloorScale = 8192.0;
constexpr double kTempScale = 0.1;

class Llama4Model final : public Model {
 public:
  Llama4Model(gguf::GgufFile file, Hparams hp, const LoadOptions& opts) : Model(std::move(file), std::move(hp), opts) {
    w_ = bind_transformer(file_, hp_, *be_, opts.placement);  // the llama-family tensor layout
    init_rope();
  }

  void forward(const ForwardPass& p) const override {
    const Hparams& hp = hp_;
    Backend& be = *be_;
    const ActivationRows a = p.act->rows(p.n_rows);
    const int hd = static_cast<int>(hp.head_dim_k);

    // Per row: the RoPE rotations and the NoPE layers' temperature, from its position.
    be.rope_table(p.positions, theta_.tensor(), a.rope);
    be.attn_temperature(p.positions, kTempFloorScale, kTempScale, a.temp);

    input_rows(p, a);

    for (uint32_t il = 0; il < hp.n_layer; ++il) {
      const LayerWeights& L = w_.layers[il];

      // --- attention ---
      be.rmsnorm(a.x, L.attn_norm, a.h, hp.norm_eps);
      be.matmul(L.wq, a.h, a.q);
      be.matmul(L.wk, a.h, a.k);
      be.matmul(L.wv, a.h, a.v);
      if (hp.uses_rope(il)) {
        be.rope(a.q, a.rope, hd);
        be.rope(a.k, a.rope, hd);
        if (hp.qk_norm) {  // per head, no weight
          be.rmsnorm(a.q.view_as(hd), {}, a.q.view_as(hd), hp.norm_eps);
          be.rmsnorm(a.k.view_as(hd), {}, a.k.view_as(hd), hp.norm_eps);
        }
      } else {
        be.scale_rows(a.q, a.temp);
      }
      be.kv_write(*p.kv, static_cast<int>(il), a.k, a.v);
      be.attention(*p.kv, static_cast<int>(il), a.q, attention_params(il), a.attn);
      be.matmul(L.wo, a.attn, a.y);
      be.add(a.x, a.y);

      // --- feed-forward ---
      be.rmsnorm(a.x, L.ffn_norm, a.h, hp.norm_eps);
      if (hp.is_moe_layer(il)) {
        // Shared expert on every token, then the routed experts added on top:
        // the top k by raw router logit, each weighted by sigmoid(logit) on its input.
        swiglu_ffn(be, L.shared, a.h, a.y, a);
        be.matmul(L.router, a.h, a.router);
        be.route(a.router, backend::Gating::Sigmoid, a.experts, a.expert_weights);
        p.observe_routes(be, il, a.experts);
        be.moe_ffn(L.experts, a.experts, a.expert_weights, backend::RouteWeighting::Input, a.h, a.y);
      } else {
        swiglu_ffn(be, L.ffn, a.h, a.y, a);
      }
      be.add(a.x, a.y);
    }

    // --- output head: the rows the engine asked for ---
    output_head(p, a);
  }
};

}  // namespace

Hparams read_llama4_hparams(const gguf::GgufFile& file) {
  Hparams hp = read_common_hparams(file);
  const KeyReader k{file, hp.arch_name + "."};
  hp.expert_ff = k.optional("expert_feed_forward_length", hp.dense_ff);
  hp.moe_layer_step = k.optional("interleave_moe_layer_step", 1);
  if (hp.moe_layer_step == 0) k.fail("interleave_moe_layer_step must be non-zero");
  hp.nope_period = k.optional("no_rope_layer_step", 4);
  // sliding_window present and 0 means: no chunking and RoPE on every layer.
  hp.chunk_size = k.optional("attention.sliding_window", 8192);
  if (hp.chunk_size == 0) hp.nope_period = 0;
  hp.shared_expert = hp.n_expert > 0;
  hp.qk_norm = hp.n_expert != 128;
  return hp;
}

std::unique_ptr<Model> load_llama4(gguf::GgufFile file, Hparams hp, const LoadOptions& opts) {
  return std::make_unique<Llama4Model>(std::move(file), std::move(hp), opts);
}

}  // namespace scout
