// SentencePiece vocabularies from GGUF, against the reference tokenizations:
// the real Llama 2 vocabulary (llama.cpp's test strings) and stories260K.
#include "tokenizer/spm_tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>
#include <sstream>

#include "gguf/reader.h"
#include "gguf/writer.h"
#include "test_util.h"
#include "tokenizer/utf8.h"

namespace scout::tokenizer {
namespace {

using test::read_text;

using scout::test::have_shared;
using scout::test::shared_dir;

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t at; (at = s.find(sep, start)) != std::string::npos; start = at + sep.size()) out.push_back(s.substr(start, at - start));
  out.push_back(s.substr(start));
  return out;
}

TEST(SpmTokenizer, LlamaVocabMatchesReferenceTokenizations) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  const std::string base = shared_dir() + "/testdata/vocab/ggml-vocab-llama-spm.gguf";
  auto file = gguf::GgufFile::open(base);
  auto tok = Tokenizer::from_gguf(file);
  const std::vector<std::string> inputs = split(read_text(base + ".inp"), "\n__ggml_vocab_test__\n");
  std::vector<std::string> lines = split(read_text(base + ".out"), "\n");
  ASSERT_GE(lines.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<int32_t> want;
    std::istringstream ids(lines[i]);
    for (int32_t id; ids >> id;) want.push_back(id);
    EXPECT_EQ(tok->encode(inputs[i], false, false), want) << "input " << i << ": '" << inputs[i] << "'";
  }
  EXPECT_EQ(inputs.size(), 47u);
}

TEST(SpmTokenizer, Stories260kPromptIds) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  auto file = gguf::GgufFile::open(shared_dir() + "/models/stories260K/stories260K.gguf");
  auto tok = Tokenizer::from_gguf(file);
  EXPECT_EQ(tok->n_vocab(), 512u);
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_TRUE(tok->is_eog(2));
  for (const char* name : {"empty", "once", "tom"}) {
    const auto j = nlohmann::json::parse(read_text(shared_dir() + "/models/stories260K/expected/" + name + ".json"));
    const std::string prompt = j["prompt"];
    EXPECT_EQ(tok->encode(prompt, true, true), j["prompt_ids"].get<std::vector<int32_t>>()) << name;
    // llama.cpp's text is the generated pieces, leading space kept.
    EXPECT_EQ(tok->decode(j["ids"].get<std::vector<int32_t>>()), j["text"].get<std::string>()) << name;
  }
}

TEST(SpmTokenizer, RoundTripOnAWrittenVocabulary) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  // Copy the Llama 2 vocabulary into a GGUF of our own writing and check that
  // decode(encode(s)) gives s back (after SentencePiece's leading space).
  auto src = gguf::GgufFile::open(shared_dir() + "/testdata/vocab/ggml-vocab-llama-spm.gguf");
  scout::test::TempDir tmp;
  gguf::GgufWriter w;
  for (const auto& [k, v] : src.metadata())
    if (k.rfind("tokenizer.", 0) == 0 || k == "general.architecture") w.set(k, v);
  w.write(tmp.path("spm.gguf"));
  auto file = gguf::GgufFile::open(tmp.path("spm.gguf"));
  auto tok = Tokenizer::from_gguf(file);
  std::mt19937 rng(7);
  const std::vector<std::string> alphabet = {"a", "b", "Z", " ", "  ", "\n", "\t", "1", "23", "é", "ß", "中", "文",
                                             "😀", "🏽", "ا", "ह", "ि", ".", ",", "'", "\"", "<", ">", "\xe2\x80\x8d"};
  for (int iter = 0; iter < 300; ++iter) {
    std::string s;
    const int len = static_cast<int>(rng() % 20);
    for (int i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
    const auto ids = tok->encode(s, false, false);
    std::string back = tok->decode(ids);
    ASSERT_FALSE(!s.empty() && back.empty()) << s;
    if (!back.empty() && back[0] == ' ') back.erase(0, 1);  // the dummy prefix
    EXPECT_EQ(back, s) << "iteration " << iter;
  }
}

TEST(SpmTokenizer, LoadsATokenizerModelProtobufFile) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  // A tokenizer.model file is the same ModelProto: write one from the GGUF
  // vocabulary and check both tokenizers agree.
  auto file = gguf::GgufFile::open(shared_dir() + "/testdata/vocab/ggml-vocab-llama-spm.gguf");
  auto from_gguf = SpmTokenizer::from_gguf(file);
  SpmVocab v;
  v.pieces = file.find("tokenizer.ggml.tokens")->strings();
  const gguf::Value* scores = file.find("tokenizer.ggml.scores");
  const gguf::Value* types = file.find("tokenizer.ggml.token_type");
  for (size_t i = 0; i < v.pieces.size(); ++i) {
    v.scores.push_back(static_cast<float>(scores->float_at(i)));
    v.types.push_back(static_cast<int32_t>(types->int_at(i)));
  }
  scout::test::TempDir tmp;
  const std::string proto = serialize_spm_model(v, true);
  scout::test::write_file(tmp.path("tokenizer.model"), std::vector<uint8_t>(proto.begin(), proto.end()));
  auto from_model = SpmTokenizer::from_model_file(tmp.path("tokenizer.model"));
  EXPECT_EQ(from_model->n_vocab(), 32000u);
  for (const char* text : {"Hello world", " leading space", "1234 numbers", "ünïcödé 中文 🙂"})
    EXPECT_EQ(from_model->encode(text, true, false), from_gguf->encode(text, true, false)) << text;
  EXPECT_THROW(SpmTokenizer::from_model_file(tmp.path("missing.model")), std::runtime_error);
}

TEST(SpmTokenizer, SpecialTokensOnlyWhenAsked) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  auto file = gguf::GgufFile::open(shared_dir() + "/testdata/vocab/ggml-vocab-llama-spm.gguf");
  auto tok = Tokenizer::from_gguf(file);
  const auto parsed = tok->encode("Hi</s>there", false, true);
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_NE(std::find(parsed.begin(), parsed.end(), 2), parsed.end());
  const auto plain = tok->encode("Hi</s>there", false, false);
  EXPECT_EQ(std::find(plain.begin(), plain.end(), 2), plain.end());
  EXPECT_EQ(tok->token_bytes(2, false), "");
  EXPECT_EQ(tok->token_bytes(2, true), "</s>");
}

TEST(TextStream, Stories260kByteTokens) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  auto file = gguf::GgufFile::open(shared_dir() + "/models/stories260K/stories260K.gguf");
  auto tok = Tokenizer::from_gguf(file);
  // "é" through byte-fallback tokens <0xC3><0xA9> (ids 3 + byte value).
  const auto ids = tok->encode("é", false, false);
  TextStream stream(*tok);
  std::string out;
  for (int32_t id : ids) {
    const std::string piece = stream.push(id);
    EXPECT_EQ(utf8_incomplete_tail(piece), 0u);
    out += piece;
  }
  out += stream.flush();
  EXPECT_EQ(out, " é");
}

}  // namespace
}  // namespace scout::tokenizer
