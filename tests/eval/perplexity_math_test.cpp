// The perplexity arithmetic: window plan, BOS per window, which predictions
// are scored, log-softmax in double, and llama.cpp's error estimate.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "eval/perplexity.h"
#include "eval/running_stats.h"

namespace scout::eval {
namespace {

TEST(PerplexityMath, WindowsAreWholeAndNonOverlapping) {
  const WindowPlan p = plan_windows(1000, 64);
  EXPECT_EQ(p.n_windows, 15u);  // 1000 / 64, the partial last window dropped
  EXPECT_EQ(p.first, 32u);
  EXPECT_EQ(p.predictions_per_window(), 31u);  // c - c/2 - 1
  EXPECT_EQ(p.predictions(), 15u * 31u);
  EXPECT_EQ(plan_windows(1000, 64, 4).n_windows, 4u);   // --chunks caps
  EXPECT_EQ(plan_windows(1000, 64, 99).n_windows, 15u);
  EXPECT_EQ(plan_windows(64, 64).n_windows, 1u);
  EXPECT_EQ(plan_windows(65, 5).predictions_per_window(), 2u);  // odd c: first = 2, scores 2 and 3
}

TEST(PerplexityMath, TooShortIsAnError) {
  EXPECT_THROW(plan_windows(63, 64), std::runtime_error);
  EXPECT_THROW(plan_windows(100, 3), std::runtime_error);
}

TEST(PerplexityMath, EachWindowStartsWithBos) {
  std::vector<int32_t> tokens(20);
  for (int i = 0; i < 20; ++i) tokens[i] = 100 + i;
  const WindowPlan p = plan_windows(tokens.size(), 8);
  EXPECT_EQ(window_tokens(tokens, p, 0, 1), (std::vector<int32_t>{1, 101, 102, 103, 104, 105, 106, 107}));
  EXPECT_EQ(window_tokens(tokens, p, 1, 1), (std::vector<int32_t>{1, 109, 110, 111, 112, 113, 114, 115}));
  EXPECT_EQ(window_tokens(tokens, p, 1, -1)[0], 108);  // no BOS in the vocabulary: left as is
}

TEST(PerplexityMath, LogSumExpIsStableAndExact) {
  const std::vector<float> row = {1000.0f, 1000.0f};
  EXPECT_NEAR(log_sum_exp(row), 1000.0 + std::log(2.0), 1e-9);
  const std::vector<float> r2 = {0.5f, -1.0f, 2.0f};
  EXPECT_NEAR(log_sum_exp(r2), std::log(std::exp(0.5) + std::exp(-1.0) + std::exp(2.0)), 1e-12);
}

TEST(PerplexityMath, ScoresOnlyTheSecondHalf) {
  // 4 tokens, vocab 3: first = 2, so only row 2 (predicting window[3]) counts.
  const std::vector<int32_t> window = {0, 1, 2, 1};
  std::vector<float> logits(4 * 3, 0.0f);
  logits[2 * 3 + 1] = 2.0f;   // row 2 favours token 1, which follows
  logits[0 * 3 + 1] = -50.0f; // rows 0 and 1 are not scored: they must not matter
  const std::vector<double> nll = score_window(logits, 3, window, 2);
  ASSERT_EQ(nll.size(), 1u);
  EXPECT_NEAR(nll[0], std::log(std::exp(2.0) + 2.0) - 2.0, 1e-12);
  EXPECT_THROW(score_window(std::vector<float>(5), 3, window, 2), std::invalid_argument);
}

TEST(PerplexityMath, UniformPredictionsGiveTheVocabularySize) {
  const size_t n_vocab = 7, n_ctx = 10;
  const std::vector<float> logits(n_ctx * n_vocab, 0.25f);
  std::vector<int32_t> window(n_ctx, 3);
  PerplexityStats s;
  for (double x : score_window(logits, n_vocab, window, n_ctx / 2)) s.add(x);
  EXPECT_EQ(s.count(), 4u);
  EXPECT_NEAR(s.ppl(), 7.0, 1e-9);
  EXPECT_NEAR(s.ppl_error(), 0.0, 1e-6);  // E[x^2] - E[x]^2 cancels to rounding noise
}

TEST(PerplexityMath, ErrorIsLlamaCppsEstimate) {
  // llama.cpp: PPL = exp(mean), err = PPL * sqrt((E[x^2] - E[x]^2) / (N - 1)).
  const std::vector<double> xs = {1.0, 2.0, 4.0, 3.0};
  PerplexityStats s;
  for (double x : xs) s.add(x);
  const double mean = 2.5, var = (1 + 4 + 16 + 9) / 4.0 - mean * mean;
  EXPECT_NEAR(s.ppl(), std::exp(mean), 1e-12);
  EXPECT_NEAR(s.ppl_error(), std::exp(mean) * std::sqrt(var / 3), 1e-9);
  RunningStats one;
  one.add(5);
  EXPECT_EQ(one.standard_error(), 0.0);
}

}  // namespace
}  // namespace scout::eval
