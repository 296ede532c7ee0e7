// `scout run` end to end: exact greedy text on a real trained model, seeds,
// stop strings, limits and errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "test_util.h"

namespace scout::test {
namespace {

using nlohmann::json;

std::string stories() { return shared_dir() + "/models/stories260K/stories260K.gguf"; }

json expected(const std::string& name) {
  std::ifstream in(shared_dir() + "/models/stories260K/expected/" + name + ".json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

json run_json(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"run", "--json"};
  all.insert(all.end(), args.begin(), args.end());
  CommandResult r = run_scout(all);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? json::parse(r.out) : json();
}

TEST(RunCli, Stories260kGreedyMatchesLlamaCpp) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  const json want = expected("empty");
  json j = run_json({"-m", stories(), "-p", "", "--temp", "0", "-n", "199"});
  EXPECT_EQ(j["prompt_ids"], want["prompt_ids"]);
  EXPECT_EQ(j["ids"], want["ids"]);
  EXPECT_EQ(j["text"], want["text"]);
  EXPECT_EQ(j["finish_reason"], "length");
}

TEST(RunCli, StreamsTextAndSummarisesOnStderr) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  const json want = expected("once");
  CommandResult r = run_scout({"run", "-m", stories(), "-p", "Once upon a time", "--temp", "0", "-n", "40"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string want_text = want["text"];
  // The first 40 tokens' text, then the newline scout ends with.
  EXPECT_EQ(r.out.substr(0, 30), want_text.substr(0, 30));
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_NE(r.err.find("prompt: 5 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("generated: 40 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
}

TEST(RunCli, PromptFromFileAndStdinAgree) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  TempDir tmp;
  const std::string text = expected("tom")["prompt"];
  write_file(tmp.path("p.txt"), std::vector<uint8_t>(text.begin(), text.end()));
  json from_file = run_json({"-m", stories(), "-f", tmp.path("p.txt"), "--temp", "0", "-n", "8"});
  CommandResult r = run_scout({"run", "--json", "-m", stories(), "--temp", "0", "-n", "8"}, text);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json from_stdin = json::parse(r.out);
  EXPECT_EQ(from_file["prompt_ids"], from_stdin["prompt_ids"]);
  EXPECT_EQ(from_file["ids"], from_stdin["ids"]);
  EXPECT_EQ(from_file["prompt_ids"], expected("tom")["prompt_ids"]);
}

TEST(RunCli, SameSeedSameTextOnTheDefaultModel) {
  json a = run_json({"-p", "Hello", "-n", "32", "--seed", "42"});
  json b = run_json({"-p", "Hello", "-n", "32", "--seed", "42"});
  json c = run_json({"-p", "Hello", "-n", "32", "--seed", "43"});
  EXPECT_EQ(a["ids"], b["ids"]);
  EXPECT_EQ(a["text"], b["text"]);
  EXPECT_NE(a["ids"], c["ids"]);
  EXPECT_EQ(a["ids"].size(), 32u);
  EXPECT_FALSE(a["text"].get<std::string>().empty());
  EXPECT_EQ(a["seed"], 42);
}

TEST(RunCli, MappedAndCopiedModelsGiveTheSameText) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  const json want = expected("once");
  const std::vector<int> first24(want["ids"].begin(), want["ids"].begin() + 24);
  for (const char* mode : {"copy", "map", "auto"}) {
    json j = run_json({"-m", stories(), "-p", "Once upon a time", "--temp", "0", "-n", "24", "--load", mode});
    EXPECT_EQ(j["ids"].get<std::vector<int>>(), first24) << mode;
  }
  CommandResult r = run_scout({"run", "-p", "x", "--load", "mmap"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--load"), std::string::npos) << r.err;
}

TEST(RunCli, SharedLlama4TinyModelProducesText) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  json j = run_json({"-m", shared_dir() + "/testdata/llama4-tiny/llama4-tiny-q4_k_m.gguf", "-p",
                     "The capital of France is", "-n", "16", "--seed", "1"});
  EXPECT_EQ(j["prompt_ids"][0], 4096);  // <|begin_of_text|>
  EXPECT_GT(j["ids"].size(), 0u);
}

TEST(RunCli, StopStringEndsGenerationAndIsNotPrinted) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  // Greedy text from BOS: " Once upon a time, there was a little girl named Lily. ..."
  json j = run_json({"-m", stories(), "-p", "", "--temp", "0", "-n", "100", "--stop", "Lily"});
  EXPECT_EQ(j["finish_reason"], "stop");
  EXPECT_EQ(j["text"], " Once upon a time, there was a little girl named ");
  CommandResult r = run_scout({"run", "-m", stories(), "-p", "", "--temp", "0", "-n", "100", "--stop", "little girl"});
  EXPECT_EQ(r.out, " Once upon a time, there was a \n");
}

TEST(RunCli, ContextLimits) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  json full = run_json({"-m", stories(), "-p", "Once upon a time", "--temp", "0", "-n", "-1", "-c", "32"});
  EXPECT_EQ(full["finish_reason"], "context");
  EXPECT_EQ(full["prompt_ids"].size() + full["ids"].size(), 33u);  // the last token is sampled, not evaluated

  const std::string long_prompt(400, 'a');
  CommandResult r = run_scout({"run", "-m", stories(), "-p", long_prompt, "-c", "64", "-n", "4"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("does not fit the context of 64"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  json cut = run_json({"-m", stories(), "-p", long_prompt, "-c", "64", "-n", "4", "--truncate", "--temp", "0"});
  EXPECT_EQ(cut["prompt_ids"].size(), 60u);
  EXPECT_EQ(cut["prompt_ids"][0], 1);  // BOS kept
  EXPECT_EQ(cut["ids"].size(), 4u);
}

// --lookup gives the ids of plain decoding, and --json says how many guesses
// were drawn; the bundled stories260K (no ../shared needed).
TEST(RunCli, LookupGivesThePlainTokensAndCountsGuesses) {
  const std::string prompt = "Lily had a red ball. Lily had a red ball. Lily had a red ball. Lily had a";
  const json plain = run_json({"-p", prompt, "--temp", "0", "-n", "60"});
  const json spec = run_json({"-p", prompt, "--temp", "0", "-n", "60", "--lookup", "6"});
  EXPECT_EQ(spec["ids"], plain["ids"]);
  EXPECT_EQ(spec["text"], plain["text"]);
  EXPECT_FALSE(plain.contains("speculative"));
  ASSERT_TRUE(spec.contains("speculative"));
  EXPECT_GT(spec["speculative"]["drafted"].get<int>(), 0);
  EXPECT_LE(spec["speculative"]["accepted"].get<int>(), spec["speculative"]["drafted"].get<int>());
  for (const char* bad : {"15", "-1", "x"}) {
    CommandResult r = run_scout({"run", "-p", "a", "--lookup", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--lookup"), std::string::npos) << r.err;
  }
}

// --draft-model: the bundled stories260K drafting for itself guesses every
// token right; a draft with another vocabulary, or with --lookup, is refused.
TEST(RunCli, DraftModelGivesThePlainTokens) {
  const std::string stories_file = cli::default_text_model_path();
  const json plain = run_json({"-p", "Once upon a time", "--temp", "0", "-n", "40"});
  const json spec = run_json({"-p", "Once upon a time", "--temp", "0", "-n", "40", "--draft-model", stories_file,
                              "--draft-max", "5"});
  EXPECT_EQ(spec["ids"], plain["ids"]);
  EXPECT_GT(spec["speculative"]["drafted"].get<int>(), 0);
  EXPECT_EQ(spec["speculative"]["accepted"], spec["speculative"]["drafted"]);
  const std::vector<std::vector<std::string>> bad = {
      {"run", "-p", "a", "--draft-model", default_model_path()},  // the Llama 4 vocabulary
      {"run", "-p", "a", "--draft-model", stories_file, "--lookup", "3"},
      {"run", "-p", "a", "--draft-max", "4"},
      {"run", "-p", "a", "--draft-model", stories_file, "--draft-max", "99"},
  };
  for (const auto& args : bad) {
    CommandResult r = run_scout(args);
    EXPECT_EQ(r.exit_code, 2) << args.back();
    EXPECT_EQ(r.err.rfind("scout: error: ", 0), 0u) << r.err;
  }
}

TEST(RunCli, Errors) {
  TempDir tmp;
  CommandResult r = run_scout({"run", "-m", tmp.path("nope.gguf"), "-p", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("scout: error: " + tmp.path("nope.gguf"), 0), 0u) << r.err;
  r = run_scout({"run", "-f", tmp.path("missing.txt")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.txt"), std::string::npos) << r.err;
  r = run_scout({"run", "--temp", "hot"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--temp"), std::string::npos) << r.err;
  r = run_scout({"run", "-p", "a", "-f", "b"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace scout::test
