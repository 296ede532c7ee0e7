// The CPU backend's ops that hold no SIMD kernel of their own (those are
// tested in tests/kernels against their scalar references): routing, the
// grouped mixture of experts, top-k, the RoPE table at large positions, the
// attention temperature, gathering rows; and the shape checks every op makes.
// Each is compared with a plain computation written here.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "test_util.h"

namespace scout::backend {
namespace {

Backend& cpu() {
  static const std::unique_ptr<Backend> be = make_cpu_backend({1, false});  // exact f32 products
  return *be;
}

// A tensor on the CPU backend filled from a vector, and read back.
template <class T>
Buffer tensor_of(const std::vector<T>& v, int64_t rows, DType dtype = DType::F32) {
  Buffer b = cpu().alloc(dtype, rows, static_cast<int64_t>(v.size()) / rows);
  cpu().upload(b.tensor(), v.data());
  return b;
}
template <class T>
std::vector<T> values_of(const Buffer& b) {
  std::vector<T> v(static_cast<size_t>(b.tensor().size()));
  cpu().download(v.data(), b.tensor());
  return v;
}

using test::random_floats;

Weight f32_weight(const std::vector<float>& w, int64_t n_out, int64_t n_in) {
  Weight x;
  x.n_in = n_in;
  x.n_out = n_out;
  x.row_bytes = static_cast<size_t>(n_in) * sizeof(float);
  x.host = x.data = reinterpret_cast<const uint8_t*>(w.data());
  return x;
}

TEST(CpuBackendOps, RouteSigmoidAndSoftmaxTopK) {
  // Row 0: a tie between experts 1 and 3 (lower index first); row 1: distinct.
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 0.0f, /**/ -3.0f, 1.0f, 4.0f, 0.25f, 3.5f};
  Buffer l = tensor_of(logits, 2), ex = cpu().alloc(DType::I32, 2, 2), wt = cpu().alloc(DType::F32, 2, 2);
  cpu().route(l.tensor(), Gating::Sigmoid, ex.tensor(), wt.tensor());
  EXPECT_EQ(values_of<int32_t>(ex), (std::vector<int32_t>{1, 3, 2, 4}));
  const std::vector<float> w = values_of<float>(wt);
  EXPECT_FLOAT_EQ(w[0], 1.0f / (1.0f + std::exp(-2.0f)));
  EXPECT_FLOAT_EQ(w[2], 1.0f / (1.0f + std::exp(-4.0f)));
  EXPECT_FLOAT_EQ(w[3], 1.0f / (1.0f + std::exp(-3.5f)));

  cpu().route(l.tensor(), Gating::SoftmaxTopK, ex.tensor(), wt.tensor());
  const std::vector<float> s = values_of<float>(wt);
  EXPECT_FLOAT_EQ(s[0], 0.5f);  // equal logits share evenly
  EXPECT_FLOAT_EQ(s[2], 1.0f / (1.0f + std::exp(-0.5f)));
  EXPECT_FLOAT_EQ(s[2] + s[3], 1.0f);
}

// The grouped MoE equals each token run through its experts one by one.
TEST(CpuBackendOps, MoeFfnEqualsPerTokenExperts) {
  const int64_t d = 24, F = 16, E = 5, n = 7, k = 2;
  const std::vector<float> gate = random_floats(E * F * d, 1), up = random_floats(E * F * d, 2),
                           down = random_floats(E * d * F, 3), x = random_floats(n * d, 4), y0 = random_floats(n * d, 5);
  ExpertWeights ew{f32_weight(gate, E * F, d), f32_weight(up, E * F, d), f32_weight(down, E * d, F), static_cast<int>(E)};
  std::vector<int32_t> experts(n * k);
  std::vector<float> weights(n * k);
  for (int64_t t = 0; t < n; ++t) {
    experts[t * k] = static_cast<int32_t>(t % E);
    experts[t * k + 1] = static_cast<int32_t>((t * 3 + 1) % E == t % E ? (t + 1) % E : (t * 3 + 1) % E);
    weights[t * k] = 0.25f + 0.1f * t;
    weights[t * k + 1] = 0.5f;
  }
  for (const RouteWeighting rw : {RouteWeighting::Input, RouteWeighting::Output}) {
    Buffer xb = tensor_of(x, n), yb = tensor_of(y0, n), eb = tensor_of(experts, n, DType::I32), wb = tensor_of(weights, n);
    cpu().moe_ffn(ew, eb.tensor(), wb.tensor(), rw, xb.tensor(), yb.tensor());
    const std::vector<float> got = values_of<float>(yb);
    std::vector<float> want = y0;  // out += each token's experts
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t e = experts[t * k + j];
        const double s = weights[t * k + j];
        std::vector<double> h(F);
        for (int64_t f = 0; f < F; ++f) {
          double g = 0, u = 0;
          for (int64_t c = 0; c < d; ++c) {
            const double xi = x[t * d + c] * (rw == RouteWeighting::Input ? s : 1.0);
            g += gate[(e * F + f) * d + c] * xi;
            u += up[(e * F + f) * d + c] * xi;
          }
          h[f] = g / (1 + std::exp(-g)) * u;
        }
        for (int64_t c = 0; c < d; ++c) {
          double o = 0;
          for (int64_t f = 0; f < F; ++f) o += down[(e * d + c) * F + f] * h[f];
          want[t * d + c] += static_cast<float>(o * (rw == RouteWeighting::Output ? s : 1.0));
        }
      }
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-3 * (1 + std::abs(want[i]))) << i;
  }
  // An expert id out of range is refused.
  Buffer xb = tensor_of(x, n), yb = tensor_of(y0, n), wb = tensor_of(weights, n);
  std::vector<int32_t> bad = experts;
  bad[3] = static_cast<int32_t>(E);
  Buffer eb = tensor_of(bad, n, DType::I32);
  EXPECT_THROW(cpu().moe_ffn(ew, eb.tensor(), wb.tensor(), RouteWeighting::Input, xb.tensor(), yb.tensor()),
               std::out_of_range);
}

TEST(CpuBackendOps, TopKLargestFirstTiesToLowerIndex) {
  const std::vector<float> x = {1, 5, 3, 5, -2, 4, /**/ 0, 0, 0, 1, 0, 0};
  Buffer xb = tensor_of(x, 2), ids = cpu().alloc(DType::I32, 2, 3), vals = cpu().alloc(DType::F32, 2, 3);
  cpu().top_k(xb.tensor(), ids.tensor(), vals.tensor());
  EXPECT_EQ(values_of<int32_t>(ids), (std::vector<int32_t>{1, 3, 5, 3, 0, 1}));
  EXPECT_EQ(values_of<float>(vals), (std::vector<float>{5, 5, 4, 1, 0, 0}));
}

// Angles are formed in double precision: at position 10,000,000 the table
// holds cos/sin of the double angle rounded once to f32, as at position 10.
TEST(CpuBackendOps, RopeTableIsExactAtLargePositions) {
  const std::vector<int32_t> pos = {10, 10'000'000, 9'999'999};
  std::vector<double> theta(4);
  for (size_t i = 0; i < theta.size(); ++i) theta[i] = std::pow(500000.0, -2.0 * static_cast<double>(i) / 8);
  Buffer pb = tensor_of(pos, 3, DType::I32), tb = tensor_of(theta, 1, DType::F64), out = cpu().alloc(DType::F32, 3, 8);
  cpu().rope_table(pb.tensor(), tb.tensor(), out.tensor());
  const std::vector<float> got = values_of<float>(out);
  for (size_t t = 0; t < pos.size(); ++t)
    for (size_t i = 0; i < theta.size(); ++i) {
      const double a = pos[t] * theta[i];
      EXPECT_EQ(got[(t * 4 + i) * 2], static_cast<float>(std::cos(a))) << pos[t];
      EXPECT_EQ(got[(t * 4 + i) * 2 + 1], static_cast<float>(std::sin(a))) << pos[t];
    }
}

TEST(CpuBackendOps, AttentionTemperatureAndGatherRows) {
  const std::vector<int32_t> pos = {0, 8190, 8191, 100'000};
  Buffer pb = tensor_of(pos, 4, DType::I32), out = cpu().alloc(DType::F32, 4, 1);
  cpu().attn_temperature(pb.tensor(), 8192.0, 0.1, out.tensor());
  const std::vector<float> t = values_of<float>(out);
  EXPECT_EQ(t[0], 1.0f);
  EXPECT_EQ(t[1], 1.0f);
  EXPECT_FLOAT_EQ(t[2], static_cast<float>(1.0 + 0.1 * std::log(2.0)));
  EXPECT_FLOAT_EQ(t[3], static_cast<float>(1.0 + 0.1 * std::log(std::floor(100001.0 / 8192) + 1)));

  const std::vector<float> src = {0, 1, 10, 11, 20, 21};
  const std::vector<int32_t> rows = {2, 0};
  Buffer sb = tensor_of(src, 3), rb = tensor_of(rows, 2, DType::I32), gb = cpu().alloc(DType::F32, 2, 2);
  cpu().gather_rows(sb.tensor(), rb.tensor(), gb.tensor());
  EXPECT_EQ(values_of<float>(gb), (std::vector<float>{20, 21, 0, 1}));
  const std::vector<int32_t> bad = {3};
  Buffer bb = tensor_of(bad, 1, DType::I32);
  EXPECT_THROW(cpu().gather_rows(sb.tensor(), bb.tensor(), gb.tensor().slice_rows(0, 1)), std::out_of_range);
}

// Every op checks its shapes: a mismatch is a logic_error naming the op, never a stray write.
TEST(CpuBackendOps, ShapeMismatchesAreRefused) {
  const std::vector<float> w(6 * 4, 0.5f);
  const Weight wv = f32_weight(w, 6, 4);
  Buffer x = cpu().alloc(DType::F32, 3, 4), y = cpu().alloc(DType::F32, 3, 5), ids = cpu().alloc(DType::I32, 3, 1);
  EXPECT_THROW(cpu().matmul(wv, x.tensor(), y.tensor()), std::logic_error);
  EXPECT_THROW(cpu().add(x.tensor(), y.tensor()), std::logic_error);
  EXPECT_THROW(cpu().embed(wv, x.tensor(), y.tensor()), std::logic_error);  // ids must be i32
  const std::vector<int32_t> far = {0, 6, 1};
  cpu().upload(ids.tensor(), far.data());
  Buffer e = cpu().alloc(DType::F32, 3, 4);
  EXPECT_THROW(cpu().embed(wv, ids.tensor(), e.tensor()), std::out_of_range);  // row 6 of 6
  EXPECT_THROW(x.tensor().slice_rows(2, 2), std::logic_error);
  EXPECT_THROW(x.tensor().view_as(5), std::logic_error);
}

}  // namespace
}  // namespace scout::backend
