// The --expert-stats histogram and the sum over tests.
#include <gtest/gtest.h>

#include "bench/expert_report.h"

namespace scout::bench {
namespace {

TEST(BenchExpertReport, AccumulatesAndScalesBarsPerLayer) {
  ExpertCounts all;
  accumulate(all, {{}, {3, 1}});
  accumulate(all, {{}, {3, 0}});
  ASSERT_EQ(all, ExpertCounts({{}, {6, 1}}));
  const std::string text = expert_histogram(all, "title");
  EXPECT_EQ(text.rfind("title\n", 0), 0u);
  EXPECT_EQ(text.find("layer 0"), std::string::npos);  // dense: no block
  EXPECT_NE(text.find("layer 1: 7 routes, max/mean 1.71"), std::string::npos) << text;
  std::string full, seventh;
  for (int i = 0; i < 40; ++i) full += "█";
  for (int i = 0; i < 7; ++i) seventh += "█";  // 1/6 of 40, rounded
  EXPECT_NE(text.find("e0 6  85.7% " + full + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("e1 1  14.3% " + seventh + "\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace scout::bench
