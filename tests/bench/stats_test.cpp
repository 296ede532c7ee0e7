// Mean and sample standard deviation of benchmark repetitions.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "bench/stats.h"

namespace scout::bench {
namespace {

TEST(BenchStats, EmptyAndSingleSample) {
  const Summary none = summarize({});
  EXPECT_EQ(none.mean, 0.0);
  EXPECT_EQ(none.sd, 0.0);
  const std::vector<double> one = {42.5};
  const Summary s = summarize(one);
  EXPECT_EQ(s.mean, 42.5);
  EXPECT_EQ(s.sd, 0.0);  // no spread from one sample
}

TEST(BenchStats, SampleStandardDeviation) {
  // Sum of squared deviations from the mean 5 is 32; n - 1 = 7.
  const std::vector<double> x = {2, 4, 4, 4, 5, 5, 7, 9};
  const Summary s = summarize(x);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_DOUBLE_EQ(s.sd, std::sqrt(32.0 / 7.0));
}

TEST(BenchStats, EqualSamplesHaveNoSpread) {
  const std::vector<double> x = {1e9 + 0.5, 1e9 + 0.5, 1e9 + 0.5};
  const Summary s = summarize(x);
  EXPECT_DOUBLE_EQ(s.mean, 1e9 + 0.5);
  EXPECT_EQ(s.sd, 0.0);
}

TEST(BenchStats, TwoSamples) {
  const std::vector<double> x = {10, 14};
  const Summary s = summarize(x);
  EXPECT_DOUBLE_EQ(s.mean, 12.0);
  EXPECT_DOUBLE_EQ(s.sd, std::sqrt(8.0));
}

}  // namespace
}  // namespace scout::bench
