// The Llama 4 text model (arch `llama4`), following shared/docs/llama4-gguf.md:
// interleaved RoPE + chunked-attention layers and NoPE + global-attention
// layers, QK norm, attention temperature tuning, sigmoid top-k routed experts
// (weight on the expert input) plus a shared expert.
#include <cmath>

#include "models/ffn.h"
#include "models/model.h"

namespace scout {

namespace {

// Attention temperature tuning on NoPE layers (Llama 4): queries far into the
// context are sharpened by 1 + 0.1 * log(floor((p + 1) / 8192) + 1).
constexpr double kTempFloorScale = 8192.0;
constexpr double kTempScale = 0.1;

class Llama4Model final : public Model {
 public:
  Llama4Model(gguf::GgufFile file, Hparams hp) : Model(std::move(file), std::move(hp)) {}

  void forward(const ForwardBatch& batch, runtime::KvCache& kv, runtime::Backend& be, ForwardBuffers& buf,
               float* logits) const override {
    const Hparams& hp = hp_;
    const int64_t n = batch.n, d = hp.d_model;
    const int H = static_cast<int>(hp.n_head), KV = static_cast<int>(hp.n_head_kv);
    const int hd = static_cast<int>(hp.head_dim_k), hdv = static_cast<int>(hp.head_dim_v);
    buf.reserve(hp, n);

    // Positions continue each row's own sequence; reserve their KV slots.
    const std::vector<SegmentRows> segs = place_rows(batch, kv, buf);
    rope_angles(buf.pos.data(), n, buf.rope_cs);
    for (int64_t t = 0; t < n; ++t)
      buf.factor[t] = static_cast<float>(1.0 + kTempScale * std::log(std::floor((buf.pos[t] + 1.0) / kTempFloorScale) + 1.0));

    be.get_rows(w_.token_embd, batch.tokens, n, buf.x.data());

    for (uint32_t il = 0; il < hp.n_layer; ++il) {
      const LayerWeights& L = w_.layers[il];

      // --- attention ---
      be.rmsnorm(buf.x.data(), L.attn_norm.data, buf.h.data(), n, d, hp.norm_eps);
      be.matmul(L.wq, buf.h.data(), buf.q.data(), n);
      be.matmul(L.wk, buf.h.data(), buf.k.data(), n);
      be.matmul(L.wv, buf.h.data(), buf.v.data(), n);
      if (hp.uses_rope(il)) {
        be.rope(buf.q.data(), n, H, hd, static_cast<int>(hp.rope_dim), buf.rope_cs.data());
        be.rope(buf.k.data(), n, KV, hd, static_cast<int>(hp.rope_dim), buf.rope_cs.data());
        if (hp.qk_norm) {  // per head, no weight
          be.rmsnorm(buf.q.data(), nullptr, buf.q.data(), n * H, hd, hp.norm_eps);
          be.rmsnorm(buf.k.data(), nullptr, buf.k.data(), n * KV, hd, hp.norm_eps);
        }
      } else {
        be.scale_rows(buf.q.data(), buf.factor.data(), n, int64_t{H} * hd);
      }
      for (const SegmentRows& s : segs)
        kv.store(il, s.seq, s.first_pos, s.n, buf.k.data() + s.row * KV * hd, buf.v.data() + s.row * KV * hdv);

      runtime::AttentionParams ap;
      ap.n_head = H;
      ap.n_head_kv = KV;
      ap.head_dim_k = hd;
      ap.head_dim_v = hdv;
      ap.scale = 1.0f / std::sqrt(static_cast<float>(hd));
      ap.chunk_size = hp.is_chunked(il) ? hp.chunk_size : 0;
      for (const SegmentRows& s : segs)  // each sequence attends to its own cache
        be.attention(buf.q.data() + s.row * H * hd, buf.pos.data() + s.row, s.n, kv.view(il, s.seq), ap,
                     buf.attn.data() + s.row * H * hdv);
      be.matmul(L.wo, buf.attn.data(), buf.y.data(), n);
      be.add(buf.x.data(), buf.y.data(), n * d);

      // --- feed-forward ---
      be.rmsnorm(buf.x.data(), L.ffn_norm.data, buf.h.data(), n, d, hp.norm_eps);
      if (hp.is_moe_layer(il)) {
        // Shared expert on every token, then the routed experts added on top.
        swiglu_ffn(be, L.gate_shexp, L.up_shexp, L.down_shexp, buf.h.data(), n, buf.y.data(), buf);
        const int E = static_cast<int>(hp.n_expert), k = static_cast<int>(hp.n_expert_used);
        be.matmul(L.router, buf.h.data(), buf.router.data(), n);
        std::vector<ExpertRoute> routes(static_cast<size_t>(n * k));
        for (int64_t t = 0; t < n; ++t) {
          ExpertRoute* r = &routes[static_cast<size_t>(t * k)];
          top_k_experts(buf.router.data() + t * E, E, k, r);     // chosen by raw logit
          for (int j = 0; j < k; ++j) r[j].weight = 1.0f / (1.0f + std::exp(-r[j].weight));  // sigmoid
        }
        moe_ffn(be, L.gate_exps, L.up_exps, L.down_exps, E, routes, k, RouteWeighting::Input, buf.h.data(), n,
                buf.y.data(), buf);
      } else {
        swiglu_ffn(be, L.ffn_gate, L.ffn_up, L.ffn_down, buf.h.data(), n, buf.y.data(), buf);
      }
      be.add(buf.x.data(), buf.y.data(), n * d);
    }

    // --- output head: each sequence's last row (every row with all_logits) ---
    output_head(segs, batch.all_logits, be, buf, logits);
  }
};

}  // namespace

std::unique_ptr<Model> make_llama4_model(gguf::GgufFile file, Hparams hp) {
  return std::make_unique<Llama4Model>(std::move(file), std::move(hp));
}

}  // namespace scout
