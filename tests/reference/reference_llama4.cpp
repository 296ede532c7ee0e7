#include "reference/reference_llama4.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "models/registry.h"
#include "tensor/dequant.h"

namespace scout::reference {

ReferenceModel::ReferenceModel(const gguf::GgufFile& file) : file_(file), hp_(read_hparams(file)) {}

const std::vector<float>& ReferenceModel::tensor(const std::string& name) {
  auto it = cache_.find(name);
  if (it != cache_.end()) return it->second;
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (!t) throw std::runtime_error("reference: missing tensor " + name);
  std::vector<float> v(t->n_elements());
  const uint64_t row = t->ne[0], rb = row_bytes(t->type, row);
  for (uint64_t r = 0; r < t->n_rows(); ++r)
    dequantize_row(t->type, t->data + r * rb, v.data() + r * row, static_cast<int64_t>(row));
  return cache_.emplace(name, std::move(v)).first->second;
}

ReferenceModel::Vec ReferenceModel::matvec(const std::string& name, const Vec& x, int64_t row0, int64_t n_out) {
  const std::vector<float>& w = tensor(name);
  const int64_t n_in = static_cast<int64_t>(x.size());
  if (n_out < 0) n_out = static_cast<int64_t>(w.size()) / n_in;
  Vec y(static_cast<size_t>(n_out));
  for (int64_t o = 0; o < n_out; ++o) {
    double s = 0;
    const float* row = w.data() + (row0 + o) * n_in;
    for (int64_t i = 0; i < n_in; ++i) s += static_cast<double>(row[i]) * x[i];
    y[o] = s;
  }
  return y;
}

ReferenceModel::Vec ReferenceModel::rmsnorm(const Vec& x, const std::string& weight) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + hp_.norm_eps);
  const float* w = weight.empty() ? nullptr : tensor(weight).data();
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * (w ? w[i] : 1.0f);
  return y;
}

ReferenceModel::Vec ReferenceModel::swiglu(const std::string& gate, const std::string& up, const std::string& down,
                                           const Vec& x, int64_t row0_gu, int64_t row0_down, int64_t ff) {
  const Vec g = matvec(gate, x, row0_gu, ff), u = matvec(up, x, row0_gu, ff);
  Vec a(static_cast<size_t>(ff));
  for (int64_t i = 0; i < ff; ++i) a[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
  return matvec(down, a, row0_down, static_cast<int64_t>(x.size()));
}

std::vector<std::vector<double>> ReferenceModel::forward_at(const std::vector<int32_t>& tokens,
                                                             const std::vector<int64_t>& positions) {
  const Hparams& hp = hp_;
  const int64_t n = static_cast<int64_t>(tokens.size()), d = hp.d_model;
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  const std::vector<int64_t>& wanted = positions.empty() ? all : positions;
  const int64_t H = hp.n_head, KV = hp.n_head_kv, hd = hp.head_dim_k, hdv = hp.head_dim_v;
  const bool llama4 = hp.arch_name == "llama4";

  // Embeddings.
  std::vector<Vec> x(static_cast<size_t>(n), Vec(static_cast<size_t>(d)));
  const std::vector<float>& embd = tensor("token_embd.weight");
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < d; ++i) x[t][i] = embd[static_cast<size_t>(tokens[t]) * d + i];

  // theta_i = base^(-2i/rope_dim) / f_i
  Vec theta(hp.rope_dim / 2);
  for (size_t i = 0; i < theta.size(); ++i) {
    theta[i] = std::pow(static_cast<double>(hp.rope_base), -2.0 * static_cast<double>(i) / hp.rope_dim);
    if (has("rope_freqs.weight")) theta[i] /= tensor("rope_freqs.weight")[i];
  }
  auto rotate = [&](double* v, int64_t p) {
    for (size_t i = 0; i < theta.size(); ++i) {
      const double c = std::cos(p * theta[i]), s = std::sin(p * theta[i]);
      const double a = v[2 * i], b = v[2 * i + 1];
      v[2 * i] = a * c - b * s;
      v[2 * i + 1] = a * s + b * c;
    }
  };
  auto head_rmsnorm = [&](double* v, int64_t len) {
    double ss = 0;
    for (int64_t i = 0; i < len; ++i) ss += v[i] * v[i];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(len) + hp.norm_eps);
    for (int64_t i = 0; i < len; ++i) v[i] *= inv;
  };

  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const bool rope = hp.uses_rope(il);
    const int64_t chunk = hp.is_chunked(il) ? hp.chunk_size : 0;

    // q, k, v for every position.
    std::vector<Vec> q(static_cast<size_t>(n)), k(static_cast<size_t>(n)), v(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t) {
      const Vec h = rmsnorm(x[t], b + "attn_norm.weight");
      q[t] = matvec(b + "attn_q.weight", h);
      k[t] = matvec(b + "attn_k.weight", h);
      v[t] = matvec(b + "attn_v.weight", h);
      if (rope) {
        for (int64_t hh = 0; hh < H; ++hh) rotate(&q[t][hh * hd], t);
        for (int64_t hh = 0; hh < KV; ++hh) rotate(&k[t][hh * hd], t);
        if (llama4 && hp.qk_norm) {
          for (int64_t hh = 0; hh < H; ++hh) head_rmsnorm(&q[t][hh * hd], hd);
          for (int64_t hh = 0; hh < KV; ++hh) head_rmsnorm(&k[t][hh * hd], hd);
        }
      } else if (llama4) {
        const double scale = 1.0 + 0.1 * std::log(std::floor((t + 1.0) / 8192.0) + 1.0);
        for (double& e : q[t]) e *= scale;
      }
    }

    // Attention: causal, chunked on chunked layers, grouped-query. The last
    // layer only where logits are wanted.
    const std::vector<int64_t>& rows = il + 1 == hp.n_layer ? wanted : all;
    for (const int64_t t : rows) {
      Vec out(static_cast<size_t>(H * hdv), 0.0);
      const int64_t lo = chunk > 0 ? t / chunk * chunk : 0;
      for (int64_t hh = 0; hh < H; ++hh) {
        const int64_t g = hh / (H / KV);
        Vec s(static_cast<size_t>(t - lo + 1));
        for (int64_t j = lo; j <= t; ++j) {
          double dot = 0;
          for (int64_t i = 0; i < hd; ++i) dot += q[t][hh * hd + i] * k[j][g * hd + i];
          s[j - lo] = dot / std::sqrt(static_cast<double>(hd));
        }
        const double mx = *std::max_element(s.begin(), s.end());
        double sum = 0;
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (int64_t j = lo; j <= t; ++j)
          for (int64_t i = 0; i < hdv; ++i) out[hh * hdv + i] += s[j - lo] / sum * v[j][g * hdv + i];
      }
      const Vec o = matvec(b + "attn_output.weight", out);
      for (int64_t i = 0; i < d; ++i) x[t][i] += o[i];
    }

    // Feed-forward.
    for (const int64_t t : rows) {
      const Vec h = rmsnorm(x[t], b + "ffn_norm.weight");
      Vec y(static_cast<size_t>(d), 0.0);
      if (hp.is_moe_layer(il)) {
        const int64_t E = hp.n_expert, F = hp.expert_ff, kk = hp.n_expert_used;
        const Vec r = matvec(b + "ffn_gate_inp.weight", h);
        std::vector<int64_t> order(static_cast<size_t>(E));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t c) { return r[a] > r[c]; });
        double softmax_sum = 0;
        for (int64_t j = 0; j < kk; ++j) softmax_sum += std::exp(r[order[j]] - r[order[0]]);
        for (int64_t j = 0; j < kk; ++j) {
          const int64_t e = order[j];
          if (llama4) {  // sigmoid weight on the expert's input
            const double w = 1.0 / (1.0 + std::exp(-r[e]));
            Vec hw = h;
            for (double& z : hw) z *= w;
            const Vec ye = swiglu(b + "ffn_gate_exps.weight", b + "ffn_up_exps.weight", b + "ffn_down_exps.weight",
                                  hw, e * F, e * d, F);
            for (int64_t i = 0; i < d; ++i) y[i] += ye[i];
          } else {  // Mixtral: softmax over the top-k logits on the expert's output
            const double w = std::exp(r[e] - r[order[0]]) / softmax_sum;
            const Vec ye = swiglu(b + "ffn_gate_exps.weight", b + "ffn_up_exps.weight", b + "ffn_down_exps.weight",
                                  h, e * F, e * d, F);
            for (int64_t i = 0; i < d; ++i) y[i] += w * ye[i];
          }
        }
        if (llama4 && hp.shared_expert) {
          const Vec ys = swiglu(b + "ffn_gate_shexp.weight", b + "ffn_up_shexp.weight", b + "ffn_down_shexp.weight",
                                h, 0, 0, F);
          for (int64_t i = 0; i < d; ++i) y[i] += ys[i];
        }
      } else {
        y = swiglu(b + "ffn_gate.weight", b + "ffn_up.weight", b + "ffn_down.weight", h, 0, 0, hp.dense_ff);
      }
      for (int64_t i = 0; i < d; ++i) x[t][i] += y[i];
    }
  }

  const std::string head = has("output.weight") ? "output.weight" : "token_embd.weight";
  std::vector<Vec> logits;
  for (const int64_t t : wanted) logits.push_back(matvec(head, rmsnorm(x[t], "output_norm.weight")));
  return logits;
}

}  // namespace scout::reference
