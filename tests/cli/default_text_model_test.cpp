// `scout run` without -m: the README's first command. It runs the bundled
// stories260K (models/stories260K, copied beside the binary by the build), a
// real trained model, so it prints English; --chat and images without -m keep
// the random-weight Llama 4 default (stories260K has no chat template and no
// image tokens).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "test_util.h"

namespace scout::test {
namespace {

using nlohmann::json;

// llama.cpp's greedy text for "Once upon a time" on stories260K, its first 32
// generated tokens (shared/models/stories260K/expected/once.json).
constexpr const char* kOnceUponATime32 =
    ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

json run_json(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"run", "--json"};
  all.insert(all.end(), args.begin(), args.end());
  const CommandResult r = run_scout(all);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? json::parse(r.out) : json();
}

TEST(DefaultTextModelCli, RunWithoutModelWritesTheStoryLlamaCppWrites) {
  const CommandResult r = run_scout({"run", "-p", "Once upon a time", "-n", "32", "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(kOnceUponATime32) + "\n");
  EXPECT_NE(r.err.find("generated: 32 tokens"), std::string::npos) << r.err;

  const json j = run_json({"-p", "Once upon a time", "-n", "32", "--temp", "0"});
  EXPECT_TRUE(ends_with(j["model"].get<std::string>(), "/stories260K.gguf")) << j["model"];
  EXPECT_EQ(j["text"], kOnceUponATime32);
  ASSERT_EQ(j["ids"].size(), 32u);

  if (!have_shared()) GTEST_SKIP() << "needs ../shared to check the text against llama.cpp's (expected/once.json)";
  std::ifstream in(shared_dir() + "/models/stories260K/expected/once.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const json want = json::parse(ss.str());
  ASSERT_EQ(want["prompt"], "Once upon a time");
  EXPECT_EQ(j["prompt_ids"], want["prompt_ids"]);
  EXPECT_EQ(j["ids"], json(std::vector<json>(want["ids"].begin(), want["ids"].begin() + 32)));
  EXPECT_EQ(want["text"].get<std::string>().rfind(kOnceUponATime32, 0), 0u) << want["text"];
}

TEST(DefaultTextModelCli, ChatAndImagesWithoutModelKeepTheLlama4Default) {
  const json chat = run_json({"--chat", "-p", "Hi", "-n", "2", "--temp", "0"});
  EXPECT_TRUE(ends_with(chat["model"].get<std::string>(), "/default.gguf")) << chat["model"];

  // A projector as wide as the Llama 4 default (256; stories260K is 64).
  TempDir dir;
  const std::string mmproj = dir.path("mmproj.gguf");
  ASSERT_EQ(run_scout({"make-model", "--mmproj-preset", "tiny", "-o", mmproj}).exit_code, 0);
  const json vision = run_json({"--mmproj", mmproj, "-p", "Hi", "-n", "2", "--temp", "0"});
  EXPECT_TRUE(ends_with(vision["model"].get<std::string>(), "/default.gguf")) << vision["model"];
}

}  // namespace
}  // namespace scout::test
