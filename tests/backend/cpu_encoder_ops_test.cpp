// The CPU backend's encoder ops (the vision tower's): LayerNorm with bias,
// GELU, the row bias and bidirectional attention, each against a plain
// computation written here, on odd shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/backend.h"
#include "test_util.h"

namespace scout::backend {
namespace {

using test::random_floats;

Backend& cpu() {
  static const std::unique_ptr<Backend> be = make_cpu_backend({2, false});
  return *be;
}

Buffer tensor_of(const std::vector<float>& v, int64_t rows) {
  Buffer b = cpu().alloc(DType::F32, rows, static_cast<int64_t>(v.size()) / rows);
  cpu().upload(b.tensor(), v.data());
  return b;
}
std::vector<float> values_of(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.size()));
  cpu().download(v.data(), t);
  return v;
}

TEST(CpuEncoderOps, LayerNormMatchesTheFormula) {
  const int64_t n = 5, c = 77;
  std::vector<float> x = random_floats(n * c, 1, 3.0f), w = random_floats(c, 2), b = random_floats(c, 3);
  for (float& v : x) v += 40.0f;  // a large mean: the variance must be taken about it
  Buffer xb = tensor_of(x, n), wb = tensor_of(w, 1), bb = tensor_of(b, 1), ob = cpu().alloc(DType::F32, n, c);
  cpu().layer_norm(xb.tensor(), wb.tensor(), bb.tensor(), ob.tensor(), 1e-5f);
  const std::vector<float> out = values_of(ob.tensor());
  for (int64_t t = 0; t < n; ++t) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < c; ++i) mean += x[t * c + i];
    mean /= c;
    for (int64_t i = 0; i < c; ++i) var += (x[t * c + i] - mean) * (x[t * c + i] - mean);
    var /= c;
    for (int64_t i = 0; i < c; ++i) {
      const double want = (x[t * c + i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i];
      ASSERT_NEAR(out[t * c + i], want, 2e-5 * (1 + std::abs(want))) << t << "," << i;
    }
  }
  cpu().layer_norm(xb.tensor(), wb.tensor(), bb.tensor(), xb.tensor(), 1e-5f);  // in place
  EXPECT_EQ(values_of(xb.tensor()), out);
}

TEST(CpuEncoderOps, GeluAndRowBias) {
  const std::vector<float> x = {-12.0f, -3.0f, -1.0f, -0.25f, 0.0f, 0.5f, 1.0f, 2.5f, 12.0f};
  Buffer xb = tensor_of(x, 3), ob = cpu().alloc(DType::F32, 3, 3);
  cpu().gelu(xb.tensor(), ob.tensor());
  const std::vector<float> g = values_of(ob.tensor());
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(g[i], 0.5 * x[i] * (1 + std::erf(x[i] / std::sqrt(2.0))), 1e-6) << x[i];
  // The 16-lane path and its scalar tail, across the range that matters.
  std::vector<float> many = test::random_floats(16 * 40 + 5, 3, 4.0f);
  many[0] = -10.0f, many[1] = 10.0f, many[2] = -0.0f, many[3] = 1e-30f;
  Buffer mb = tensor_of(many, 5), mo = cpu().alloc(DType::F32, 5, static_cast<int64_t>(many.size() / 5));
  cpu().gelu(mb.tensor(), mo.tensor());
  const std::vector<float> gm = values_of(mo.tensor());
  for (size_t i = 0; i < many.size(); ++i) {
    const double want = 0.5 * many[i] * (1 + std::erf(many[i] / std::sqrt(2.0)));
    EXPECT_NEAR(gm[i], want, 3e-7 * (1 + std::abs(many[i]))) << many[i];
  }
  const std::vector<float> row = {1.0f, -2.0f, 0.5f};
  Buffer rb = tensor_of(row, 1);
  cpu().add_row(xb.tensor(), rb.tensor());
  const std::vector<float> y = values_of(xb.tensor());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], x[i] + row[i % 3]);
}

// softmax(q k^T * scale) v per head inside each run of seq rows, in double.
std::vector<double> dense_reference(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                    int64_t n, int64_t seq, int heads, int d, float scale) {
  std::vector<double> out(q.size());
  for (int64_t r0 = 0; r0 < n; r0 += seq)
    for (int64_t i = r0; i < r0 + seq; ++i)
      for (int h = 0; h < heads; ++h) {
        std::vector<double> s(static_cast<size_t>(seq));
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j < seq; ++j) {
          double dot = 0;
          for (int e = 0; e < d; ++e) dot += double(q[(i * heads + h) * d + e]) * k[((r0 + j) * heads + h) * d + e];
          s[static_cast<size_t>(j)] = dot * scale;
          mx = std::max(mx, s[static_cast<size_t>(j)]);
        }
        for (double& x : s) sum += (x = std::exp(x - mx));
        for (int e = 0; e < d; ++e) {
          double acc = 0;
          for (int64_t j = 0; j < seq; ++j) acc += s[static_cast<size_t>(j)] * v[((r0 + j) * heads + h) * d + e];
          out[static_cast<size_t>((i * heads + h) * d + e)] = acc / sum;
        }
      }
  return out;
}

TEST(CpuEncoderOps, DenseAttentionSeesEveryKeyOfItsRunOnly) {
  // Runs of 300 rows (two KV blocks, the second partly filled), 3 heads of
  // 88 (the real encoder's head dimension: not a multiple of the vector width).
  const int heads = 3, d = 88;
  const int64_t seq = 300, n = 2 * seq;
  const std::vector<float> q = random_floats(n * heads * d, 5), k = random_floats(n * heads * d, 6),
                           v = random_floats(n * heads * d, 7);
  Buffer qb = tensor_of(q, n), kb = tensor_of(k, n), vb = tensor_of(v, n), ob = cpu().alloc(DType::F32, n, heads * d);
  AttentionParams p;
  p.n_head = p.n_head_kv = heads;
  p.head_dim_k = p.head_dim_v = d;
  p.scale = 1.0f / std::sqrt(float(d));
  p.causal = false;
  cpu().attention_dense(qb.tensor(), kb.tensor(), vb.tensor(), p, seq, ob.tensor());
  const std::vector<float> got = values_of(ob.tensor());
  const std::vector<double> want = dense_reference(q, k, v, n, seq, heads, d, p.scale);
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  EXPECT_LT(worst, 2e-5);
  p.causal = true;  // the op is for bidirectional runs only
  EXPECT_THROW(cpu().attention_dense(qb.tensor(), kb.tensor(), vb.tensor(), p, seq, ob.tensor()), std::logic_error);
}

}  // namespace
}  // namespace scout::backend
