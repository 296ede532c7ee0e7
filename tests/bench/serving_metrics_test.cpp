// vLLM's serving metric definitions (`scout bench --url`) on hand-made
// request records: numpy's percentile, TTFT, TPOT, ITL, E2EL and the
// throughputs. No server, so they run with or without cpp-httplib.
#include "bench/serving_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace scout::bench {
namespace {

TEST(ServingMetrics, PercentileIsNumpysLinear) {
  EXPECT_DOUBLE_EQ(percentile({}, 99), 0.0);
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7.0);
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 50), 2.5);  // np.median
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4}, 25), 1.75);
  EXPECT_NEAR(percentile({15, 20, 35, 40, 50}, 40), 29.0, 1e-12);
  EXPECT_NEAR(percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99), 9.91, 1e-12);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3}, 100), 3.0);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3}, 0), 1.0);
}

RequestRecord record(double start, std::vector<double> chunks, int64_t prompt, int64_t out, int64_t text_chunks) {
  RequestRecord r;
  r.start_s = start;
  r.chunk_s = std::move(chunks);
  r.end_s = r.chunk_s.empty() ? start : r.chunk_s.back() + 0.001;
  r.prompt_tokens = prompt;
  r.output_tokens = out;
  r.text_chunks = text_chunks;
  r.success = true;
  return r;
}

TEST(ServingMetrics, HandComputed) {
  std::vector<RequestRecord> rs;
  rs.push_back(record(0.0, {0.1, 0.15, 0.25}, 10, 3, 3));  // TTFT .1, E2EL .25, TPOT .15/2, ITL .05 .1
  rs.push_back(record(0.05, {0.25, 0.30}, 20, -1, 2));     // no usage: 2 text chunks; TTFT .2, E2EL .25, TPOT .05, ITL .05
  rs.push_back(record(0.0, {0.3}, 5, 1, 1));               // one token: no TPOT, no ITL
  RequestRecord failed;
  failed.error = "HTTP 500: boom";
  rs.push_back(failed);
  const LevelMetrics m = compute_metrics(rs, 0.5, 4);

  EXPECT_EQ(m.concurrency, 4);
  EXPECT_EQ(m.num_prompts, 4);
  EXPECT_EQ(m.completed, 3);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.errors.at("HTTP 500: boom"), 1);
  EXPECT_EQ(m.total_input_tokens, 35);
  EXPECT_EQ(m.total_output_tokens, 6);
  EXPECT_NEAR(m.request_throughput, 6.0, 1e-12);
  EXPECT_NEAR(m.output_throughput, 12.0, 1e-12);
  EXPECT_NEAR(m.total_token_throughput, 82.0, 1e-12);

  // TTFT: .1 .2 .3 s
  EXPECT_EQ(m.ttft.count, 3u);
  EXPECT_NEAR(m.ttft.mean, 200.0, 1e-9);
  EXPECT_NEAR(m.ttft.median, 200.0, 1e-9);
  EXPECT_NEAR(m.ttft.std, 1e3 * std::sqrt(0.02 / 3), 1e-9);  // population sd, as np.std
  EXPECT_NEAR(m.ttft.p99, 298.0, 1e-9);                       // .2 + .98 x .1
  // TPOT: .075 .05 s
  EXPECT_EQ(m.tpot.count, 2u);
  EXPECT_NEAR(m.tpot.mean, 62.5, 1e-9);
  EXPECT_NEAR(m.tpot.median, 62.5, 1e-9);
  EXPECT_NEAR(m.tpot.std, 12.5, 1e-9);
  EXPECT_NEAR(m.tpot.p99, 74.75, 1e-9);
  // ITL: .05 .1 .05 s, pooled over requests
  EXPECT_EQ(m.itl.count, 3u);
  EXPECT_NEAR(m.itl.mean, 200.0 / 3, 1e-9);
  EXPECT_NEAR(m.itl.median, 50.0, 1e-9);
  EXPECT_NEAR(m.itl.p99, 99.0, 1e-9);
  // E2EL: .25 .25 .3 s (the last chunk, not the end of the response)
  EXPECT_EQ(m.e2el.count, 3u);
  EXPECT_NEAR(m.e2el.mean, 800.0 / 3, 1e-9);
  EXPECT_NEAR(m.e2el.median, 250.0, 1e-9);
  EXPECT_NEAR(m.e2el.p99, 299.0, 1e-9);
}

TEST(ServingMetrics, NothingCompletedReadsZero) {
  RequestRecord failed;
  failed.error = "x";
  const LevelMetrics m = compute_metrics(std::vector<RequestRecord>{failed, failed}, 1.0, 1);
  EXPECT_EQ(m.completed, 0);
  EXPECT_EQ(m.failed, 2);
  EXPECT_EQ(m.errors.at("x"), 2);
  EXPECT_EQ(m.ttft.mean, 0.0);
  EXPECT_EQ(m.e2el.p99, 0.0);
  EXPECT_EQ(m.output_throughput, 0.0);
}

}  // namespace
}  // namespace scout::bench
