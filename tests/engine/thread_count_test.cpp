// The thread count changes who computes what, never the result: every output
// row and attention head is computed whole by one thread, so logits with 1, 2
// and 3 threads are bit-identical, on the fast integer path and with --exact.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "models/model.h"
#include "engine/session.h"
#include "test_util.h"

namespace scout::engine {
namespace {

class ThreadCount : public ::testing::TestWithParam<std::string> {};

TEST_P(ThreadCount, LogitsAreIdenticalFor1To3Threads) {
  test::TempDir dir;
  const nlohmann::json cfg = {{"n_layer", 2}, {"d_model", 256}, {"n_head", 4}, {"n_head_kv", 2}, {"head_dim", 64},
                              {"n_expert", 4}, {"expert_ff", 256}, {"dense_ff", 512}, {"chunk_size", 16},
                              {"nope_period", 2}, {"context_length", 256}, {"weight_type", GetParam()},
                              {"vocab", {{"builtin", true}}}};
  maker::make_model(maker::parse_model_config(cfg), 5, dir.path("m.gguf"));
  const auto model = Model::load(dir.path("m.gguf"));
  std::vector<int32_t> tokens(40);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 37 + 11) % 256);

  for (bool exact : {false, true}) {
    std::vector<std::vector<float>> out;
    for (int threads : {1, 2, 3}) {
      SessionOptions o;
      o.n_threads = threads;
      o.quantize_activations = !exact;
      Session s(*model, o);
      std::vector<float> all = s.eval(std::span(tokens).first(33), true);  // a prompt batch
      const std::vector<float> step = s.eval(std::span(tokens).subspan(33, 1));  // one decode step
      all.insert(all.end(), step.begin(), step.end());
      out.push_back(std::move(all));
    }
    EXPECT_EQ(out[0], out[1]) << GetParam() << (exact ? " exact" : "") << ": 1 vs 2 threads";
    EXPECT_EQ(out[0], out[2]) << GetParam() << (exact ? " exact" : "") << ": 1 vs 3 threads";
  }
}

INSTANTIATE_TEST_SUITE_P(WeightTypes, ThreadCount, ::testing::Values("q4_K", "q8_0", "f16"));

}  // namespace
}  // namespace scout::engine
