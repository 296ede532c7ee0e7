// A real trained model (llama2.c's stories260K, arch llama, F32): greedy
// decoding must reproduce llama.cpp's tokens at least up to the first step
// whose margin is below 0.01 (shared/models/stories260K/README.md).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/model.h"
#include "engine/session.h"
#include "sampling/sampler.h"
#include "test_util.h"

namespace scout {
namespace {

using nlohmann::json;

class Stories260K : public ::testing::TestWithParam<std::string> {};

TEST_P(Stories260K, GreedyMatchesLlamaCpp) {
  const std::string dir = test::shared_dir() + "/models/stories260K/";
  if (!std::filesystem::exists(dir + "stories260K.gguf")) GTEST_SKIP() << "stories260K not found";
  std::ifstream in(dir + "expected/" + GetParam() + ".json");
  const json ex = json::parse(in);
  const auto prompt = ex["prompt_ids"].get<std::vector<int32_t>>();
  const auto ids = ex["ids"].get<std::vector<int32_t>>();
  const auto margins = ex["margins"].get<std::vector<double>>();
  size_t must = ids.size();  // steps that must match: up to the first margin < 0.01
  for (size_t s = 0; s < margins.size(); ++s)
    if (margins[s] < 0.01) {
      must = s;
      break;
    }

  const auto model = Model::load(dir + "stories260K.gguf");
  engine::Session session(*model);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits = session.eval(prompt);
  size_t matched = 0;  // leading steps equal to llama.cpp's
  for (size_t s = 0; s < ids.size(); ++s) {
    const int32_t next = sampling::greedy(logits);
    if (next != ids[s]) break;
    ++matched;
    if (s + 1 < ids.size()) logits = session.eval(std::span(&next, 1));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[stories260K] %s: %zu/%zu greedy tokens match llama.cpp (required %zu), %.0f tok/s\n",
              GetParam().c_str(), matched, ids.size(), must, (prompt.size() + matched) / secs);
  EXPECT_GE(matched, must);
}

INSTANTIATE_TEST_SUITE_P(Prompts, Stories260K, ::testing::Values("empty", "once", "tom"));

}  // namespace
}  // namespace scout
