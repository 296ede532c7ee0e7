// SCOUT_PROFILE's backend wrapper: results pass through untouched, and the
// table names the ops that ran.
#include "runtime/profiling_backend.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "test_util.h"

namespace scout::runtime {
namespace {

TEST(ProfilingBackend, ForwardsEveryResultUnchanged) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  const int64_t n_in = 64, n_out = 48, rows = 5;
  std::vector<float> w(n_in * n_out), x(n_in * rows), norm(n_in);
  for (std::vector<float>* v : {&w, &x, &norm})
    for (float& e : *v) e = dist(rng);
  WeightView wv{"blk.0.attn_q.weight", TensorType::F32, n_in, n_out, n_in * sizeof(float),
                reinterpret_cast<const uint8_t*>(w.data())};

  auto plain = make_cpu_backend(1);
  auto profiled = make_profiling_backend(make_cpu_backend(1));
  EXPECT_EQ(profiled->name(), plain->name());
  std::vector<float> y1(n_out * rows), y2(n_out * rows), h1(x.size()), h2(x.size());
  plain->matmul(wv, x.data(), y1.data(), rows);
  profiled->matmul(wv, x.data(), y2.data(), rows);
  EXPECT_EQ(y1, y2);
  plain->rmsnorm(x.data(), norm.data(), h1.data(), rows, n_in, 1e-5f);
  profiled->rmsnorm(x.data(), norm.data(), h2.data(), rows, n_in, 1e-5f);
  EXPECT_EQ(h1, h2);
  plain->swiglu(y1.data(), y1.data() + n_out, h1.data(), n_out);
  profiled->swiglu(y2.data(), y2.data() + n_out, h2.data(), n_out);
  EXPECT_EQ(h1, h2);
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
}  // namespace scout::runtime
