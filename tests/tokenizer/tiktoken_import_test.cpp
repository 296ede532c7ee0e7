// tiktoken -> GGUF vocabulary import: the Llama 4 specials, merges derived
// from ranks, exact agreement with the shared llama4-tiny file, and clean
// errors for malformed files.
#include "tokenizer/tiktoken_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "gguf/reader.h"
#include "gguf/writer.h"
#include "test_util.h"
#include "tokenizer/gpt2_bytes.h"

namespace scout::tokenizer {
namespace {

using test::write_text;

using ::testing::HasSubstr;

std::string tokenizer_model() { return test::shared_dir() + "/models/llama4/tokenizer.model"; }
std::string tiny_f16() { return test::shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf"; }

std::string base64(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint8_t(bytes[i]) << 16;
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

// A tiktoken file: the 256 bytes in byte order, then `extra` tokens.
std::string small_tiktoken(const std::vector<std::string>& extra) {
  std::string text;
  int rank = 0;
  for (int b = 0; b < 256; ++b) text += base64(std::string(1, char(b))) + " " + std::to_string(rank++) + "\n";
  for (const std::string& t : extra) text += base64(t) + " " + std::to_string(rank++) + "\n";
  return text;
}

// Expects import_tiktoken to throw with "PATH:LINE: ..." containing `what`.
void expect_import_error(const std::string& text, int line, const std::string& what) {
  test::TempDir dir;
  const std::string path = dir.path("bad.tiktoken");
  write_text(path, text);
  try {
    import_tiktoken(path);
    ADD_FAILURE() << "no error for: " << what;
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path + ":" + std::to_string(line) + ": ")) << e.what();
    EXPECT_THAT(e.what(), HasSubstr(what));
  }
}

TEST(TiktokenSpecials, Llama4ListShape) {
  const auto& s = llama4_special_tokens();
  ASSERT_EQ(s.size(), 2048u);
  EXPECT_EQ(s[0], "<|begin_of_text|>");
  EXPECT_EQ(s[1], "<|end_of_text|>");
  EXPECT_EQ(s[5], "<|header_start|>");
  EXPECT_EQ(s[6], "<|header_end|>");
  EXPECT_EQ(s[7], "<|eom|>");
  EXPECT_EQ(s[8], "<|eot|>");
  EXPECT_EQ(s[10], "<|text_post_train_reserved_special_token_0|>");
  EXPECT_EQ(s[16], "<|python_start|>");
  EXPECT_EQ(s[18], "<|finetune_right_pad|>");
  EXPECT_EQ(s[19], "<|text_post_train_reserved_special_token_8|>");
  EXPECT_EQ(s[80], "<|image_start|>");
  EXPECT_EQ(s[92], "<|patch|>");
  EXPECT_EQ(s[1142], "<|reasoning_thinking_start|>");
  EXPECT_EQ(s[2047], "<|reserved_special_token_903|>");
}

TEST(TiktokenImport, SmallFileMergesFollowRanks) {
  test::TempDir dir;
  const std::string path = dir.path("small.tiktoken");
  // "ab", then "abc" = ab + c, then " a", then "bc" (abc came first, so not
  // bc-based), then "abcbc" = abc + bc.
  write_text(path, small_tiktoken({"ab", "abc", " a", "bc", "abcbc"}));
  const GgufVocab v = import_tiktoken(path);
  ASSERT_EQ(v.tokens.size(), 261u + 2048u);
  EXPECT_EQ(v.n_bpe, 261u);
  EXPECT_EQ(v.tokens[0], gpt2_encode_bytes(std::string(1, '\0')));
  EXPECT_EQ(v.tokens[32], "\xC4\xA0");  // "Ġ"
  EXPECT_EQ(v.tokens[258], "\xC4\xA0" "a");
  EXPECT_EQ(v.merges, (std::vector<std::string>{"a b", "ab c", "\xC4\xA0 a", "b c", "abc bc"}));
  EXPECT_EQ(v.bos_id, 261u);
  EXPECT_EQ(v.eot_id, 261u + 8);
  EXPECT_EQ(v.eom_id, 261u + 7);
  EXPECT_EQ(v.eos_id, v.eot_id);
  EXPECT_EQ(v.tokens[261], "<|begin_of_text|>");
  EXPECT_EQ(v.token_types[260], kTokenTypeNormal);
  EXPECT_EQ(v.token_types[261], kTokenTypeControl);
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "llama4");
}

TEST(TiktokenImport, MaxRanksTruncatesBeforeValidatingTheRest) {
  test::TempDir dir;
  const std::string path = dir.path("t.tiktoken");
  write_text(path, small_tiktoken({"ab", "abc"}) + "!!!! 999\n");
  const GgufVocab v = import_tiktoken(path, 257);
  EXPECT_EQ(v.n_bpe, 257u);
  EXPECT_EQ(v.merges, std::vector<std::string>{"a b"});
  EXPECT_THROW(import_tiktoken(path), std::runtime_error);
}

TEST(TiktokenImport, CrlfAndBlankLinesAreAccepted) {
  test::TempDir dir;
  const std::string path = dir.path("t.tiktoken");
  std::string text = small_tiktoken({"ab"});
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  write_text(path, crlf + "\n");
  EXPECT_EQ(import_tiktoken(path).n_bpe, 257u);
}

TEST(TiktokenImport, MalformedFilesGiveLineNumbers) {
  expect_import_error("QQ== 0\n!!!! 1\n", 2, "bad base64");
  expect_import_error("QQ== 0\nQg 1\n", 2, "bad base64");          // missing padding
  expect_import_error("QQ== 0\nQ=Q= 1\n", 2, "bad base64");        // padding in the middle
  expect_import_error("QQ== 0\nQg== 2\n", 2, "out of sequence");   // rank 1 missing
  expect_import_error("QQ== 1\n", 1, "out of sequence");           // must start at 0
  expect_import_error("QQ== 0\nQg== 1\nQQ== 2\n", 3, "duplicate token");
  expect_import_error("QQ== 0\nQg==\n", 2, "expected 'BASE64 RANK'");
  expect_import_error("QQ== 0\nQg== -1\n", 2, "bad rank");
  expect_import_error("QQ== 0\nQg== 1x\n", 2, "bad rank");
  // "abc" ranked where neither "ab" nor "bc" exists: not reachable by one merge.
  expect_import_error(small_tiktoken({"abc"}), 257, "cannot be built");
}

TEST(TiktokenImport, MissingFileAndEmptyFile) {
  EXPECT_THROW(import_tiktoken("/nonexistent/tokenizer.model"), std::runtime_error);
  test::TempDir dir;
  write_text(dir.path("empty"), "");
  EXPECT_THROW(import_tiktoken(dir.path("empty")), std::runtime_error);
}

TEST(TiktokenImport, BuiltinByteVocab) {
  const GgufVocab v = builtin_byte_vocab();
  ASSERT_EQ(v.tokens.size(), 256u + 2048u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(v.tokens[b], gpt2_encode_bytes(std::string(1, char(b))));
  EXPECT_TRUE(v.merges.empty());
  EXPECT_EQ(v.bos_id, 256u);
  EXPECT_EQ(v.tokens[v.bos_id], "<|begin_of_text|>");
  EXPECT_EQ(v.tokens[v.eos_id], "<|eot|>");
  EXPECT_EQ(v.token_types[255], kTokenTypeNormal);
  EXPECT_EQ(v.token_types[256], kTokenTypeControl);
}

TEST(TiktokenImport, WriteVocabRoundTrips) {
  test::TempDir dir;
  gguf::GgufWriter w;
  write_vocab(w, builtin_byte_vocab());
  w.write(dir.path("v.gguf"));
  const gguf::GgufFile f = gguf::GgufFile::open(dir.path("v.gguf"));
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "llama4");
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->strings(), builtin_byte_vocab().tokens);
  EXPECT_EQ(f.find("tokenizer.ggml.token_type")->array_type(), gguf::ValueType::INT32);
  EXPECT_EQ(f.find("tokenizer.ggml.merges")->array_size(), 0u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.bos_token_id"), 256u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.eos_token_id"), 264u);
  EXPECT_EQ(f.get_bool("tokenizer.ggml.add_bos_token"), true);
}

// The shared llama4-tiny file stores the real vocabulary cut to 4096 ranks;
// importing the same cut must give exactly its arrays and special ids.
TEST(TiktokenImport, MatchesLlama4TinyFileExactly) {
  if (!test::have_shared()) GTEST_SKIP() << "needs " << test::shared_dir();
  const GgufVocab v = import_tiktoken(tokenizer_model(), 4096);
  const gguf::GgufFile f = gguf::GgufFile::open(tiny_f16());

  const auto& tokens = f.find("tokenizer.ggml.tokens")->strings();
  ASSERT_EQ(tokens.size(), 6144u);
  EXPECT_EQ(v.tokens, tokens);
  const std::vector<std::string> file_specials(tokens.begin() + 4096, tokens.end());
  EXPECT_EQ(llama4_special_tokens(), file_specials);

  const gguf::Value* types = f.find("tokenizer.ggml.token_type");
  ASSERT_EQ(types->array_size(), v.token_types.size());
  for (size_t i = 0; i < v.token_types.size(); ++i) ASSERT_EQ(types->int_at(i), v.token_types[i]) << "id " << i;

  const auto& merges = f.find("tokenizer.ggml.merges")->strings();
  EXPECT_EQ(merges.size(), 3840u);
  EXPECT_EQ(v.merges, merges);

  EXPECT_EQ(f.get_uint("tokenizer.ggml.bos_token_id"), v.bos_id);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.eos_token_id"), v.eos_id);
  EXPECT_EQ(v.bos_id, 4096u);
  EXPECT_EQ(v.eos_id, 4104u);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), v.model);
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), v.pre);
}

TEST(TiktokenImport, FullLlama4Vocabulary) {
  if (!test::have_shared()) GTEST_SKIP() << "needs " << test::shared_dir();
  const auto t0 = std::chrono::steady_clock::now();
  const GgufVocab v = import_tiktoken(tokenizer_model());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("full import: %.2f s\n", s);
  EXPECT_EQ(v.tokens.size(), 202048u);
  EXPECT_EQ(v.n_bpe, 200000u);
  EXPECT_EQ(v.merges.size(), 200000u - 256u);
  EXPECT_EQ(v.bos_id, 200000u);
  EXPECT_EQ(v.eos_id, 200008u);
  EXPECT_EQ(v.tokens[200008], "<|eot|>");
  // The cut vocabulary is a prefix of the full one.
  const GgufVocab cut = import_tiktoken(tokenizer_model(), 4096);
  EXPECT_TRUE(std::equal(cut.merges.begin(), cut.merges.end(), v.merges.begin()));
  EXPECT_LT(s, 30.0);  // about 1 s in a release build
}

}  // namespace
}  // namespace scout::tokenizer
