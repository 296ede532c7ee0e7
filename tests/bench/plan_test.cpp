// How `scout bench` turns its flag lists into rows.
#include <gtest/gtest.h>

#include "bench/plan.h"

namespace scout::bench {
namespace {

TEST(BenchPlan, OneRowPerCombinationThreadsOutermost) {
  BenchParams p;
  p.threads = {1, 2};
  p.prompts = {16, 32};
  p.gens = {4};
  const std::vector<TestCase> plan = make_plan(p);
  ASSERT_EQ(plan.size(), 6u);
  const char* names[] = {"pp16", "pp32", "tg4", "pp16", "pp32", "tg4"};
  for (size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(plan[i].name(), names[i]);
    EXPECT_EQ(plan[i].threads, i < 3 ? 1 : 2);
  }
}

TEST(BenchPlan, ZeroSkipsATestAndDepthNamesIt) {
  BenchParams p;
  p.prompts = {0};
  p.gens = {128};
  p.depths = {0, 1024};
  const std::vector<TestCase> plan = make_plan(p);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].name(), "tg128");
  EXPECT_EQ(plan[1].name(), "tg128 @ d1024");
  EXPECT_EQ(plan[1].n_ctx(), 1152);
  p.gens = {0};
  EXPECT_TRUE(make_plan(p).empty());
}

TEST(BenchPlan, GenerationRowsDoNotRepeatPerBatchSize) {
  BenchParams p;
  p.batches = {128, 512};
  p.prompts = {512};
  p.gens = {32};
  const std::vector<TestCase> plan = make_plan(p);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].name(), "pp512");
  EXPECT_EQ(plan[0].batch, 128);
  EXPECT_EQ(plan[1].name(), "tg32");
  EXPECT_EQ(plan[2].name(), "pp512");
  EXPECT_EQ(plan[2].batch, 512);
}

TEST(BenchPlan, ParallelSequencesMultiplyOnlyGenerationRows) {
  BenchParams p;
  p.prompts = {64};
  p.gens = {16};
  p.parallel = {1, 4};
  p.depths = {256};
  const std::vector<TestCase> plan = make_plan(p);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].name(), "pp64 @ d256");
  EXPECT_EQ(plan[1].name(), "tg16 @ d256");
  EXPECT_EQ(plan[2].name(), "tg16 x4 @ d256");
  EXPECT_EQ(plan[2].measured_tokens(), 64);  // 16 steps of 4 sequences
  EXPECT_EQ(plan[2].n_ctx(), 272);           // per sequence
}

}  // namespace
}  // namespace scout::bench
