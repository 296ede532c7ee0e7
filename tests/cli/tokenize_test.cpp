// `scout tokenize` and `scout detokenize` end to end: llama.cpp's token ids for
// the shared llama4-tiny prompts, the output forms, round trips and errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "test_util.h"

namespace scout::test {
namespace {

using nlohmann::json;

std::string tiny() { return shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf"; }
std::string prompt_file(const std::string& name) { return shared_dir() + "/testdata/llama4-tiny/prompts/" + name + ".txt"; }

json expected(const std::string& name) {
  std::ifstream in(shared_dir() + "/testdata/llama4-tiny/expected/f16-" + name + ".json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  for (int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

const std::vector<std::string> kPrompts = {"basic", "chat", "mixed", "unicode", "long12k"};

TEST(TokenizeCli, SharedPromptsGiveLlamaCppIds) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  for (const std::string& name : kPrompts) {
    const std::vector<int32_t> want = expected(name)["prompt_ids"];
    CommandResult r = run_scout({"tokenize", "-m", tiny(), "-f", prompt_file(name), "--special"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(parse_ids(r.out), want) << name;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << name;

    r = run_scout({"tokenize", "-m", tiny(), "-f", prompt_file(name), "--special", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["ids"].get<std::vector<int32_t>>(), want) << name;
    EXPECT_EQ(j["count"], want.size()) << name;

    r = run_scout({"tokenize", "-m", tiny(), "-f", prompt_file(name), "--special", "--count"});
    EXPECT_EQ(r.out, std::to_string(want.size()) + "\n") << name;
  }
}

TEST(TokenizeCli, SpecialTextIsPlainTextUnlessAsked) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  CommandResult r = run_scout({"tokenize", "-m", tiny(), "-f", prompt_file("chat")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<int32_t> ids = parse_ids(r.out);
  EXPECT_EQ(ids[0], 4096);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 4101), 0);  // no <|header_start|>
  EXPECT_GT(ids.size(), expected("chat")["prompt_ids"].size());

  r = run_scout({"tokenize", "-m", tiny(), "-p", "Hello world", "--no-bos"});
  EXPECT_EQ(parse_ids(r.out), (std::vector<int32_t>{52, 602, 91, 3817}));
}

TEST(TokenizeCli, PiecesOnePerLine) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  CommandResult r = run_scout({"tokenize", "-m", tiny(), "-p", "Hello world\n<|eot|>", "--special", "--pieces"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "4096\t<|begin_of_text|>");
  EXPECT_NE(r.out.find("\t world\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\\n"), std::string::npos) << r.out;  // a line break is escaped
  EXPECT_NE(r.out.find("4104\t<|eot|>\n"), std::string::npos) << r.out;

  r = run_scout({"tokenize", "-m", tiny(), "-p", "Hello world", "--pieces", "--json"});
  const json j = json::parse(r.out);
  EXPECT_EQ(j["pieces"], json({"<|begin_of_text|>", "H", "ell", "o", " world"}));
  EXPECT_EQ(j["ids"].size(), 5u);
}

TEST(TokenizeCli, DetokenizeRoundTrips) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  for (const std::string& name : {"chat", "unicode", "mixed"}) {
    const std::vector<uint8_t> bytes = read_file(prompt_file(name));
    CommandResult ids = run_scout({"tokenize", "-m", tiny(), "-f", prompt_file(name), "--special", "--no-bos"});
    ASSERT_EQ(ids.exit_code, 0) << ids.err;
    std::vector<std::string> args = {"detokenize", "-m", tiny()};
    for (int32_t id : parse_ids(ids.out)) args.push_back(std::to_string(id));
    CommandResult text = run_scout(args);
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_EQ(text.out, std::string(bytes.begin(), bytes.end())) << name;
    // Ids on stdin (as tokenize prints them, or a JSON array) work too.
    CommandResult piped = run_scout({"detokenize", "-m", tiny()}, ids.out);
    EXPECT_EQ(piped.out, text.out) << name;
  }
  CommandResult r = run_scout({"detokenize", "-m", tiny()}, "[4096, 52, 602]");
  EXPECT_EQ(r.out, "<|begin_of_text|>Hell");
  r = run_scout({"detokenize", "-m", tiny(), "--no-special", "4096", "52", "602"});
  EXPECT_EQ(r.out, "Hell");
}

TEST(TokenizeCli, DefaultModelAndErrors) {
  CommandResult r = run_scout({"tokenize", "-p", "hi", "--count"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "3\n");  // BOS and two bytes
  r = run_scout({"tokenize", "-p", "hi", "--json", "--count"});
  EXPECT_EQ(json::parse(r.out), json({{"count", 3}}));

  r = run_scout({"detokenize", "1", "99999"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("scout: error: token id 99999 is out of the vocabulary", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_scout({"detokenize"}, "12 x7");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "scout: error: 'x7' is not a token id\n");

  r = run_scout({"tokenize", "-p", "a", "-f", "b"});
  EXPECT_EQ(r.exit_code, 2);
  r = run_scout({"tokenize", "-p", "a", "--ids", "--count"});
  EXPECT_EQ(r.exit_code, 2);
  TempDir tmp;
  r = run_scout({"tokenize", "-m", tmp.path("none.gguf"), "-p", "a"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("scout: error: " + tmp.path("none.gguf"), 0), 0u) << r.err;
}

}  // namespace
}  // namespace scout::test
