// SCOUT_PROFILE's backend wrapper: results pass through untouched, and the
// table names the ops that ran.
#include "backend/profiling_backend.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "test_util.h"

namespace scout::backend {
namespace {

// Runs the same ops on two backends over the same inputs; returns both results.
struct Pair {
  std::shared_ptr<Backend> be;
  std::vector<float> run(const Weight& w, const std::vector<float>& x, const std::vector<float>& norm, int64_t rows) {
    Buffer xb = be->alloc(DType::F32, rows, w.n_in), yb = be->alloc(DType::F32, rows, w.n_out);
    Buffer nb = be->alloc(DType::F32, 1, w.n_in), hb = be->alloc(DType::F32, rows, w.n_in);
    be->upload(xb.tensor(), x.data());
    be->upload(nb.tensor(), norm.data());
    be->matmul(w, xb.tensor(), yb.tensor());
    be->rmsnorm(xb.tensor(), nb.tensor(), hb.tensor(), 1e-5f);
    be->swiglu(yb.tensor(), yb.tensor(), yb.tensor());
    std::vector<float> out(static_cast<size_t>(rows * (w.n_out + w.n_in)));
    be->download(out.data(), yb.tensor());
    be->download(out.data() + rows * w.n_out, hb.tensor());
    return out;
  }
};

TEST(ProfilingBackend, ForwardsEveryResultUnchanged) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  const int64_t n_in = 64, n_out = 48, rows = 5;
  std::vector<float> w(n_in * n_out), x(n_in * rows), norm(n_in);
  for (std::vector<float>* v : {&w, &x, &norm})
    for (float& e : *v) e = dist(rng);
  Weight wv;
  wv.name = "blk.0.attn_q.weight";
  wv.n_in = n_in;
  wv.n_out = n_out;
  wv.row_bytes = n_in * sizeof(float);
  wv.host = wv.data = reinterpret_cast<const uint8_t*>(w.data());

  Pair plain{make_cpu_backend({1, true})};
  Pair profiled{make_profiling_backend(make_cpu_backend({1, true}))};
  EXPECT_EQ(profiled.be->name(), plain.be->name());
  EXPECT_EQ(plain.run(wv, x, norm, rows), profiled.run(wv, x, norm, rows));
}

TEST(ProfilingBackend, EnvironmentTurnsItOnAndTheTableGoesToStderr) {
  const std::vector<std::string> args = {"run", "-p", "Hello", "-n", "6", "--temp", "0", "-t", "1"};
  const test::CommandResult plain = test::run_scout(args);
  ::setenv("SCOUT_PROFILE", "1", 1);
  EXPECT_TRUE(profiling_requested());
  const test::CommandResult profiled = test::run_scout(args);
  ::unsetenv("SCOUT_PROFILE");
  EXPECT_FALSE(profiling_requested());
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(profiled.exit_code, 0) << profiled.err;
  EXPECT_EQ(profiled.out, plain.out);  // stdout carries the text only
  EXPECT_EQ(plain.err.find("profile of"), std::string::npos);
  EXPECT_NE(profiled.err.find("profile of"), std::string::npos) << profiled.err;
  EXPECT_NE(profiled.err.find("matmul output"), std::string::npos) << profiled.err;
  EXPECT_NE(profiled.err.find("attention"), std::string::npos) << profiled.err;
}

}  // namespace
}  // namespace scout::backend
