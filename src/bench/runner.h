// Runs one benchmark test on a loaded model: a warm-up repetition (for tg, of
// at most 16 tokens), then the measured ones, each into a freshly reset
// session (filled to the test's depth first, untimed), timing only the
// evaluation of the test's own tokens.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
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

// The depth fills (-d) saved so far (engine/kv_snapshot.h files in the temp
// directory), one per (depth, K type, V type): every test and repetition
// with that depth restores it instead of evaluating it again. The files are
// removed when this goes.
class DepthFills {
 public:
  DepthFills() = default;
  DepthFills(const DepthFills&) = delete;
  DepthFills& operator=(const DepthFills&) = delete;
  ~DepthFills();
  // The file for this test's depth and types (an empty path until saved).
  std::string& path_for(const TestCase& t);
  // A new file name in the temporary directory for a fill to be saved to.
  std::string fresh_path();

 private:
  int saved_ = 0;
  std::map<std::tuple<int64_t, std::string, std::string>, std::string> paths_;
};

struct RunnerOptions {
  int repetitions = 5;
  DepthFills* depth_fills = nullptr;  // shared across tests; nullptr: each test keeps its own
  bool expert_stats = false;
  bool exact = false;  // f32 dot products on dequantized weights (SessionOptions)
};

TestResult run_test(const Model& model, TokenPool& tokens, const TestCase& test, const RunnerOptions& opts);

}  // namespace scout::bench
