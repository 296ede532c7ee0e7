// Llama 2 / Llama 3 / Mixtral (arch `llama`): RoPE on every layer (consecutive
// pairs: GGUF converters permute q/k so that is the right rotation), causal
// attention, a dense SwiGLU FFN, or Mixtral's mixture of experts with a softmax
// over the top-k router logits weighting the expert outputs.
#include <cmath>

#include "models/ffn.h"
#include "models/model.h"

namespace scout {

namespace {

using backend::Backend;

class LlamaModel final : public Model {
 public:
  LlamaModel(gguf::GgufFile file, Hparams hp, const LoadOptions& opts) : Model(std::move(file), std::move(hp), opts) {
    w_ = bind_transformer(file_, hp_, *be_, opts.placement);  // the llama-family tensor layout
    init_rope();
  }

  void forward(const ForwardPass& p) const override {
    const Hparams& hp = hp_;
    Backend& be = *be_;
    const ActivationRows a = p.act->rows(p.n_rows);
    const int hd = static_cast<int>(hp.head_dim_k);

    be.rope_table(p.positions, theta_.tensor(), a.rope);  // each row's rotations, from its position
    input_rows(p, a);

    for (uint32_t il = 0; il < hp.n_layer; ++il) {
      const LayerWeights& L = w_.layers[il];

      // --- attention ---
      be.rmsnorm(a.x, L.attn_norm, a.h, hp.norm_eps);
      be.matmul(L.wq, a.h, a.q);
      be.matmul(L.wk, a.h, a.k);
      be.matmul(L.wv, a.h, a.v);
      be.rope(a.q, a.rope, hd);
      be.rope(a.k, a.rope, hd);
      be.kv_write(*p.kv, static_cast<int>(il), a.k, a.v);
      be.attention(*p.kv, static_cast<int>(il), a.q, attention_params(il), a.attn);
      be.matmul(L.wo, a.attn, a.y);
      be.add(a.x, a.y);

      // --- feed-forward ---
      be.rmsnorm(a.x, L.ffn_norm, a.h, hp.norm_eps);
      if (hp.is_moe_layer(il)) {
        // The top k experts by router logit, their outputs weighted by a softmax over those logits.
        be.matmul(L.router, a.h, a.router);
        be.route(a.router, backend::Gating::SoftmaxTopK, a.experts, a.expert_weights);
        p.observe_routes(be, il, a.experts);
        be.fill_zero(a.y);
        be.moe_ffn(L.experts, a.experts, a.expert_weights, backend::RouteWeighting::Output, a.h, a.y);
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

// Everything `llama` needs is in the shared keys: RoPE on every layer, MoE
// (Mixtral) on every layer when the file has experts, of feed_forward_length.
Hparams read_llama_hparams(const gguf::GgufFile& file) { return read_common_hparams(file); }

std::unique_ptr<Model> load_llama(gguf::GgufFile file, Hparams hp, const LoadOptions& opts) {
  return std::make_unique<LlamaModel>(std::move(file), std::move(hp), opts);
}

}  // namespace scout
