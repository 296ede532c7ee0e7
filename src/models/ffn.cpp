#include "models/ffn.h"

#include <algorithm>
#include <numeric>

namespace scout {

void swiglu_ffn(runtime::Backend& be, const runtime::WeightView& gate, const runtime::WeightView& up,
                const runtime::WeightView& down, const float* x, int64_t n, float* out, ForwardBuffers& buf) {
  const int64_t F = gate.n_out;
  be.matmul(gate, x, buf.gate.data(), n);
  be.matmul(up, x, buf.up.data(), n);
  be.swiglu(buf.gate.data(), buf.up.data(), buf.gate.data(), n * F);
  be.matmul(down, buf.gate.data(), out, n);
}

void top_k_experts(const float* logits, int n_expert, int k, ExpertRoute* out) {
  std::vector<int32_t> idx(static_cast<size_t>(n_expert));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  for (int j = 0; j < k; ++j) out[j] = {idx[j], logits[idx[j]]};
}

ExpertStats::ExpertStats(const Hparams& hp) : counts(hp.n_layer) {
  for (uint32_t il = 0; il < hp.n_layer; ++il)
    if (hp.n_expert > 0 && hp.is_moe_layer(il)) {
      counts[il].assign(hp.n_expert, 0);
      moe_layers.push_back(il);
    }
}

namespace {

void count_routes(ExpertStats& s, const std::vector<ExpertRoute>& routes, int64_t n, int k) {
  if (s.moe_layers.empty()) return;
  std::vector<uint64_t>& row = s.counts[s.moe_layers[s.next++ % s.moe_layers.size()]];
  for (int64_t i = 0; i < n * k; ++i) {
    const size_t e = static_cast<size_t>(routes[static_cast<size_t>(i)].expert);
    if (e < row.size()) row[e]++;
  }
}

}  // namespace

void moe_ffn(runtime::Backend& be, const runtime::WeightView& gate_exps, const runtime::WeightView& up_exps,
             const runtime::WeightView& down_exps, int n_expert, const std::vector<ExpertRoute>& routes, int k,
             RouteWeighting weighting, const float* x, int64_t n, float* out, ForwardBuffers& buf) {
  const int64_t d = gate_exps.n_in;
  const int64_t F = gate_exps.n_out / n_expert;
  if (buf.expert_stats) count_routes(*buf.expert_stats, routes, n, k);
  // Group (token, weight) pairs by expert.
  std::vector<std::vector<std::pair<int64_t, float>>> users(static_cast<size_t>(n_expert));
  for (int64_t t = 0; t < n; ++t)
    for (int j = 0; j < k; ++j) {
      const ExpertRoute& r = routes[static_cast<size_t>(t * k + j)];
      users[static_cast<size_t>(r.expert)].emplace_back(t, r.weight);
    }

  for (int e = 0; e < n_expert; ++e) {
    const auto& u = users[static_cast<size_t>(e)];
    if (u.empty()) continue;
    const int64_t m = static_cast<int64_t>(u.size());
    float* in = buf.moe_in.data();
    for (int64_t i = 0; i < m; ++i) {
      const float s = weighting == RouteWeighting::Input ? u[i].second : 1.0f;
      const float* src = x + u[i].first * d;
      for (int64_t c = 0; c < d; ++c) in[i * d + c] = s * src[c];
    }
    swiglu_ffn(be, gate_exps.rows(e * F, F), up_exps.rows(e * F, F), down_exps.rows(e * d, d), in, m,
               buf.moe_out.data(), buf);
    for (int64_t i = 0; i < m; ++i) {
      const float s = weighting == RouteWeighting::Output ? u[i].second : 1.0f;
      const float* y = buf.moe_out.data() + i * d;
      float* dst = out + u[i].first * d;
      for (int64_t c = 0; c < d; ++c) dst[c] += s * y[c];
    }
  }
}

}  // namespace scout
