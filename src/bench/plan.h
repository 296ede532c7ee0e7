// What `scout bench` measures: the flags' lists expanded into one test per
// combination, in the order the rows are printed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace scout::bench {

struct BenchParams {
  std::vector<int64_t> threads = {1};
  std::vector<int64_t> batches = {512};
  std::vector<int64_t> prompts = {512};  // 0: no pp test
  std::vector<int64_t> gens = {128};     // 0: no tg test
  std::vector<int64_t> depths = {0};     // tokens in the cache before the measurement
  std::vector<int64_t> parallel = {1};   // sequences decoding together in a tg test (-np)
  std::vector<std::string> types_k = {"f16"};  // KV cache element types (-ctk / -ctv)
  std::vector<std::string> types_v = {"f16"};
  int repetitions = 5;
};

enum class TestKind { Prompt, Generate };

struct TestCase {
  TestKind kind = TestKind::Prompt;
  int64_t n_tokens = 0;  // prompt length (pp) or generated tokens (tg)
  int64_t depth = 0;
  int threads = 1;
  int64_t batch = 512;   // tg evals one token at a time: batch only fills the depth
  int64_t n_parallel = 1;  // tg: sequences decoding together, one token each per pass
  std::string type_k = "f16", type_v = "f16";

  // "pp512", "tg128", "pp512 @ d1024", as llama-bench names them; "tg128 x4"
  // for 4 sequences decoding together.
  std::string name() const;
  // Tokens one measured repetition evaluates (the depth fill is not measured).
  int64_t measured_tokens() const { return n_tokens * n_parallel; }
  // Context the test needs per sequence: depth + its own tokens.
  int64_t n_ctx() const { return depth + n_tokens; }
};

// Every combination, threads outermost, then batch, K type, V type, depth,
// pp tests, tg tests.
// A tg test does not depend on the batch size, so it appears once per
// (threads, depth), with the first batch size, instead of once per batch
// size; once per -np value (pp tests are one sequence).
std::vector<TestCase> make_plan(const BenchParams& p);

}  // namespace scout::bench
