// The tokenizer against reference tokenizations: every prompt of the
// llama4-tiny test set, encoded with BOS and specials parsed, must give
// exactly the prompt_ids another implementation produced.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gguf/reader.h"
#include "test_util.h"
#include "tokenizer/bpe_tokenizer.h"

namespace scout::tokenizer {
namespace {

std::string tiny_dir() { return test::shared_dir() + "/testdata/llama4-tiny"; }

class BpeOracle : public ::testing::TestWithParam<const char*> {};

TEST_P(BpeOracle, PromptIdsMatchReference) {
  if (!test::have_shared()) GTEST_SKIP() << "no shared test data";
  const auto file = gguf::GgufFile::open(tiny_dir() + "/llama4-tiny-f16.gguf");
  const BpeTokenizer tok = BpeTokenizer::from_gguf(file);
  const std::string name = GetParam();
  const auto raw = test::read_file(tiny_dir() + "/prompts/" + name + ".txt");
  const std::string prompt(raw.begin(), raw.end());
  const auto bytes = test::read_file(tiny_dir() + "/expected/f16-" + name + ".json");
  const auto expected = nlohmann::json::parse(bytes.begin(), bytes.end());
  ASSERT_TRUE(expected.at("add_bos").get<bool>());
  ASSERT_TRUE(expected.at("parse_special").get<bool>());
  const auto want = expected.at("prompt_ids").get<std::vector<TokenId>>();

  const std::vector<TokenId> got = tok.encode(prompt, true, true);
  ASSERT_EQ(got.size(), want.size()) << name;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << name << ": first difference at token " << i;
  }
  // And back: minus the BOS, decoding gives the prompt's bytes.
  EXPECT_EQ(tok.decode(std::span(got).subspan(1)), prompt);
}

INSTANTIATE_TEST_SUITE_P(Llama4Tiny, BpeOracle, ::testing::Values("basic", "chat", "mixed", "unicode", "long12k"),
                         [](const auto& info) { return std::string(info.param); });

TEST(BpeOracleVocab, Llama4TinyVocabulary) {
  if (!test::have_shared()) GTEST_SKIP() << "no shared test data";
  const auto file = gguf::GgufFile::open(tiny_dir() + "/llama4-tiny-f16.gguf");
  const Vocab v = Vocab::from_gguf(file);
  EXPECT_EQ(v.size(), 6144u);
  EXPECT_EQ(v.pre(), "llama4");
  EXPECT_EQ(v.bos(), 4096);
  EXPECT_EQ(v.eot(), 4104);
  EXPECT_EQ(v.token_text(v.eom()), "<|eom|>");
  EXPECT_EQ(v.token_text(v.end_of_text()), "<|end_of_text|>");
  EXPECT_TRUE(v.add_bos());
  EXPECT_TRUE(v.is_end_of_generation(v.eot()));
  EXPECT_TRUE(v.is_end_of_generation(v.eom()));
  EXPECT_FALSE(v.is_end_of_generation(v.bos()));
  EXPECT_EQ(v.special_ids().size(), 2048u);
}

}  // namespace
}  // namespace scout::tokenizer
