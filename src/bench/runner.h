// Runs one benchmark test on a loaded model: a warm-up repetition (for tg, of
// at most 16 tokens), then the measured ones, each into a freshly reset
// session (filled to the test's depth first, untimed), timing only the
// evaluation of the test's own tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/plan.h"
#include "bench/stats.h"
#include "bench/token_pool.h"
#include "models/model.h"

namespace scout::bench {

struct TestResult {
  TestCase test;
  std::vector<double> samples_ns;  // wall time of each measured repetition
  std::vector<double> samples_ts;  // tokens per second of each
  Summary ns, ts;
  // Routed-expert choices in the measured repetitions, [layer][expert];
  // empty unless asked for.
  std::vector<std::vector<uint64_t>> expert_counts;
};

struct RunnerOptions {
  int repetitions = 5;
  bool expert_stats = false;
  bool exact = false;  // f32 dot products on dequantized weights (SessionOptions)
};

TestResult run_test(const Model& model, TokenPool& tokens, const TestCase& test, const RunnerOptions& opts);

}  // namespace scout::bench
