#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include <cmath>
#include <map>
#include <vector>

namespace scout::sampling {
namespace {

std::vector<float> logits_of(std::vector<double> probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::map<int32_t, int> histogram(Sampler& s, const std::vector<float>& logits, int n) {
  std::map<int32_t, int> h;
  for (int i = 0; i < n; ++i) ++h[s.sample(logits)];
  return h;
}

TEST(Sampler, GreedyIsArgmaxFirstOnTies) {
  EXPECT_EQ(greedy(std::vector<float>{1, 3, 3, 2}), 1);
  SamplerParams p;
  p.temperature = 0;
  Sampler s(p);
  EXPECT_EQ(s.sample(std::vector<float>{0.5f, -1, 7, 6.9f}), 2);
}

TEST(Sampler, TopKOneIsGreedy) {
  SamplerParams p;
  p.top_k = 1;
  Sampler s(p);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(std::vector<float>{0, 1, 0.99f}), 1);
}

TEST(Sampler, FollowsTheDistributionAtTemperatureOne) {
  SamplerParams p;
  p.temperature = 1;
  p.top_k = 0;
  p.top_p = 1;
  p.min_p = 0;
  p.seed = 42;
  Sampler s(p);
  const std::vector<double> probs = {0.5, 0.3, 0.15, 0.05};
  const int n = 20000;
  const auto h = histogram(s, logits_of(probs), n);
  for (size_t i = 0; i < probs.size(); ++i) {
    const double sd = std::sqrt(probs[i] * (1 - probs[i]) / n);
    EXPECT_NEAR(h.count(static_cast<int32_t>(i)) ? h.at(static_cast<int32_t>(i)) / double(n) : 0.0, probs[i], 5 * sd) << i;
  }
}

TEST(Sampler, TopPAndMinPCutTheTail) {
  const auto logits = logits_of({0.5, 0.3, 0.15, 0.05});
  SamplerParams p;
  p.temperature = 1;
  p.top_k = 0;
  p.min_p = 0;
  p.top_p = 0.75f;  // 0.5 + 0.3 passes 0.75: ids 0 and 1 only
  Sampler s(p);
  for (const auto& [id, count] : histogram(s, logits, 2000)) EXPECT_LE(id, 1) << count;

  p.top_p = 1;
  p.min_p = 0.4f;  // keeps p >= 0.2: ids 0 and 1
  Sampler m(p);
  const auto h = histogram(m, logits, 2000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_FALSE(h.count(2));
}

TEST(Sampler, SameSeedSameTokens) {
  SamplerParams p;
  p.temperature = 1.5f;
  p.top_k = 0;
  p.top_p = 1;
  p.min_p = 0;
  p.seed = 7;
  const auto logits = logits_of({0.25, 0.25, 0.25, 0.25});
  Sampler a(p), b(p);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 50; ++i) {
    ta.push_back(a.sample(logits));
    tb.push_back(b.sample(logits));
  }
  EXPECT_EQ(ta, tb);
  a.reset();
  EXPECT_EQ(a.sample(logits), ta[0]);
  p.seed = 8;
  Sampler c(p);
  std::vector<int32_t> tc;
  for (int i = 0; i < 50; ++i) tc.push_back(c.sample(logits));
  EXPECT_NE(ta, tc);
}

TEST(Sampler, RepetitionPenaltyDiscouragesRecentTokens) {
  SamplerParams p;
  p.temperature = 0;
  p.repeat_penalty = 2.0f;
  p.repeat_last_n = 2;
  Sampler s(p);
  const std::vector<float> logits = {3.0f, 2.0f, -1.0f};
  EXPECT_EQ(s.sample(logits), 0);
  s.accept(0);  // 3 -> 1.5 < 2
  EXPECT_EQ(s.sample(logits), 1);
  s.accept(1);
  s.accept(2);  // window of 2: token 0 has left it
  EXPECT_EQ(s.sample(logits), 0);
}

TEST(Sampler, PresenceAndFrequencyPenalties) {
  SamplerParams p;
  p.temperature = 0;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.4f;
  p.repeat_last_n = 8;
  Sampler s(p);
  const std::vector<float> logits = {3.0f, 2.0f, 1.5f};
  s.accept(0);  // 3 - 0.5 - 0.4 = 2.1: still first
  EXPECT_EQ(s.sample(logits), 0);
  s.accept(0);  // 3 - 0.5 - 0.8 = 1.7 < 2
  EXPECT_EQ(s.sample(logits), 1);
  s.accept(1);  // token 1: 2 - 0.9 = 1.1; token 0: 1.7; token 2: 1.5
  EXPECT_EQ(s.sample(logits), 0);
}

// A backend hands over only the top k (Session::eval_top): the draws are the
// ones the full logits give, draw after draw (the RNG advances alike), for
// greedy and for top-k with top-p, min-p and temperature, ties included.
TEST(Sampler, TopCandidatesGiveTheSameDraws) {
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> logits(1000);
  for (float& x : logits) x = std::round(d(rng) * 4) / 4;  // coarse: many ties
  struct Case {
    float temp;
    int32_t top_k;
    float top_p, min_p;
  };
  for (const Case c : {Case{0.0f, 40, 0.95f, 0.05f}, Case{0.8f, 40, 0.95f, 0.05f}, Case{1.5f, 7, 1.0f, 0.0f},
                       Case{0.5f, 256, 0.5f, 0.2f}}) {
    SamplerParams p;
    p.temperature = c.temp;
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    p.seed = 99;
    Sampler full(p), top(p);
    const int32_t k = top.candidates_needed();
    ASSERT_EQ(k, c.temp <= 0 ? 1 : c.top_k);
    // The top k as a backend gives them: largest first, ties to the lower id.
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    ids.resize(static_cast<size_t>(k));
    std::vector<float> vals;
    for (int32_t id : ids) vals.push_back(logits[id]);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(top.sample_top(ids, vals), full.sample(logits)) << c.temp << " " << i;
  }
}

TEST(Sampler, CandidatesNeeded) {
  SamplerParams p;
  p.temperature = 0.8f;
  p.top_k = 0;
  EXPECT_EQ(Sampler(p).candidates_needed(), 0);  // no top-k cut: every logit may be drawn
  p.top_k = 1000;
  EXPECT_EQ(Sampler(p).candidates_needed(), 0);  // more than a backend hands over
  p.top_k = 40;
  EXPECT_EQ(Sampler(p).candidates_needed(), 40);
  p.repeat_penalty = 1.1f;
  EXPECT_EQ(Sampler(p).candidates_needed(), 0);  // penalties change logits by token
  p.repeat_penalty = 1.0f;
  p.temperature = 0;
  EXPECT_EQ(Sampler(p).candidates_needed(), 1);
  EXPECT_THROW(Sampler(p).sample_top({}, {}), std::invalid_argument);
}

}  // namespace
}  // namespace scout::sampling
