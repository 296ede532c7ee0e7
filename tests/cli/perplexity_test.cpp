// `scout perplexity` end to end: a trained model finds its own greedy text
// easy and shuffled words hard, the window arithmetic is exact, and the KL
// divergence of a model against itself is 0 while a q4_0 copy differs.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "test_util.h"

namespace scout::test {
namespace {

using nlohmann::json;

std::string stories() { return shared_dir() + "/models/stories260K/stories260K.gguf"; }

// The greedy continuation of BOS that stories260K itself wrote (llama.cpp's run).
std::string own_text() {
  std::ifstream in(shared_dir() + "/models/stories260K/expected/empty.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str())["text"];
}

std::string shuffled_words(const std::string& text, uint32_t seed) {
  std::istringstream in(text);
  std::vector<std::string> words{std::istream_iterator<std::string>(in), std::istream_iterator<std::string>()};
  std::mt19937 rng(seed);
  std::shuffle(words.begin(), words.end(), rng);
  std::string out;
  for (const std::string& w : words) out += w + " ";
  return out;
}

json ppl_json(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"perplexity", "--json", "-t", "1"};
  all.insert(all.end(), args.begin(), args.end());
  CommandResult r = run_scout(all);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? json::parse(r.out) : json();
}

TEST(PerplexityCli, OwnTextIsEasyShuffledWordsAreNot) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  TempDir tmp;
  const std::string text = own_text() + own_text();
  write_text(tmp.path("own.txt"), text);
  write_text(tmp.path("shuffled.txt"), shuffled_words(text, 1));

  const json own = ppl_json({"-m", stories(), "-f", tmp.path("own.txt"), "-c", "64"});
  const size_t tokens = own["tokens"];
  EXPECT_GE(tokens, 128u);
  EXPECT_EQ(own["n_ctx"], 64);
  EXPECT_EQ(own["windows"], tokens / 64);
  EXPECT_EQ(own["predictions"], tokens / 64 * 31);  // 64 - 64/2 - 1 per window
  EXPECT_EQ(own["running_ppl"].size(), tokens / 64);
  EXPECT_EQ(own["running_ppl"].back(), own["ppl"]);
  EXPECT_LT(own["ppl"].get<double>(), 3.0);
  EXPECT_GT(own["ppl"].get<double>(), 1.0);
  EXPECT_GT(own["ppl_error"].get<double>(), 0.0);

  const json shuffled = ppl_json({"-m", stories(), "-f", tmp.path("shuffled.txt"), "-c", "64"});
  EXPECT_GT(shuffled["ppl"].get<double>(), 10 * own["ppl"].get<double>());

  // --chunks caps the windows.
  const json capped = ppl_json({"-m", stories(), "-f", tmp.path("own.txt"), "-c", "64", "--chunks", "1"});
  EXPECT_EQ(capped["windows"], 1);
  EXPECT_EQ(capped["predictions"], 31);
  EXPECT_EQ(capped["ppl"], own["running_ppl"][0]);
}

TEST(PerplexityCli, TextOutputAndErrors) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  TempDir tmp;
  write_text(tmp.path("own.txt"), own_text() + own_text());
  CommandResult r = run_scout({"perplexity", "-t", "1", "-m", stories(), "-f", tmp.path("own.txt"), "-c", "64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("[1]", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(",[2]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Final estimate: PPL = "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" +/- "), std::string::npos) << r.out;

  r = run_scout({"perplexity", "-m", stories(), "-f", tmp.path("own.txt"), "-c", "4096"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("scout: error: the text tokenizes to"), std::string::npos) << r.err;
  r = run_scout({"perplexity", "-m", stories()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("-f FILE"), std::string::npos) << r.err;
  r = run_scout({"perplexity", "-m", stories(), "--kl-divergence", "-f", tmp.path("own.txt")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--kl-divergence needs --kl-divergence-base"), std::string::npos) << r.err;
}

TEST(PerplexityCli, KlDivergenceOfAModelWithItselfIsZero) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  TempDir tmp;
  write_text(tmp.path("own.txt"), own_text() + own_text());
  const json base = ppl_json({"-m", stories(), "-f", tmp.path("own.txt"), "-c", "64", "--kl-divergence-base",
                              tmp.path("base.kld")});
  const json kl = ppl_json({"-m", stories(), "--kl-divergence-base", tmp.path("base.kld"), "--kl-divergence"});
  EXPECT_EQ(kl["windows"], base["windows"]);
  EXPECT_EQ(kl["predictions"], base["predictions"]);
  EXPECT_NEAR(kl["kld"].get<double>(), 0.0, 1e-4);
  EXPECT_LT(kl["kld_max"].get<double>(), 1e-3);
  EXPECT_EQ(kl["same_top"], 1.0);
  EXPECT_EQ(kl["ppl"], base["ppl"]);
  EXPECT_EQ(kl["ppl_base"], base["ppl"]);

  // With -f, the text must be the base's; with -c, the window too.
  const json same = ppl_json({"-m", stories(), "-f", tmp.path("own.txt"), "--kl-divergence-base",
                              tmp.path("base.kld"), "--kl-divergence"});
  EXPECT_EQ(same["kld"], kl["kld"]);
  write_text(tmp.path("other.txt"), shuffled_words(own_text() + own_text(), 2));
  CommandResult r = run_scout({"perplexity", "-m", stories(), "-f", tmp.path("other.txt"), "--kl-divergence-base",
                               tmp.path("base.kld"), "--kl-divergence"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("tokenizes differently"), std::string::npos) << r.err;
  r = run_scout({"perplexity", "-m", stories(), "-c", "32", "--kl-divergence-base", tmp.path("base.kld"),
                 "--kl-divergence"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("made with -c 64, this run asks for -c 32"), std::string::npos) << r.err;
  // Another vocabulary (the default model's) cannot be compared.
  r = run_scout({"perplexity", "--kl-divergence-base", tmp.path("base.kld"), "--kl-divergence"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("different vocabulary"), std::string::npos) << r.err;
}

TEST(PerplexityCli, KlDivergenceOfAQ4_0CopyIsPositive) {
  TempDir tmp;
  // The default model is make-model --preset default --seed 1 (q8_0): the
  // same seed gives the same underlying weights, here rounded to q4_0.
  CommandResult r = run_scout({"make-model", "--preset", "default", "--type", "q4_0", "--seed", "1", "-o",
                               tmp.path("q4_0.gguf")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string text;
  for (int i = 0; i < 40; ++i) text += "The quick brown fox jumps over the lazy dog. ";
  write_text(tmp.path("text.txt"), text);
  const json base = ppl_json({"-m", default_model_path(), "-f", tmp.path("text.txt"), "-c", "64", "--chunks", "3",
                              "--kl-divergence-base", tmp.path("base.kld")});
  const json kl = ppl_json({"-m", tmp.path("q4_0.gguf"), "--kl-divergence-base", tmp.path("base.kld"),
                            "--kl-divergence", "-f", tmp.path("text.txt")});
  EXPECT_EQ(kl["windows"], 3);
  EXPECT_EQ(kl["predictions"], 3 * 31);
  EXPECT_GT(kl["kld"].get<double>(), 1e-3);
  EXPECT_GT(kl["kld_error"].get<double>(), 0.0);
  EXPECT_LT(kl["same_top"].get<double>(), 1.0);
  EXPECT_EQ(kl["ppl_base"], base["ppl"]);
  EXPECT_NE(kl["ppl"], kl["ppl_base"]);
}

}  // namespace
}  // namespace scout::test
