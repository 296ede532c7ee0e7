// The full Llama 4 vocabulary (200000 BPE tokens + 2048 specials, imported
// from Meta's tiktoken file) against a plain, independent implementation of
// tiktoken's definition: split with the regex, then in each piece merge the
// adjacent pair whose joined bytes have the lowest rank, straight from the
// tiktoken ranks (no GPT-2 strings, no merge list). Ids must agree.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <unordered_map>

#include "test_util.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tiktoken_import.h"
#include "tokenizer/utf8.h"

namespace scout::tokenizer {
namespace {

std::string tiktoken_path() { return test::shared_dir() + "/models/llama4/tokenizer.model"; }

// ---- The reference: tiktoken's rules, written from their definition ---------------

std::string base64(std::string_view s) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
          : c == '+' ? 62 : c == '/' ? 63 : -1;
    if (v < 0) continue;  // '=' padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

struct Reference {
  std::unordered_map<std::string, int32_t> rank;  // token bytes -> rank (= id)

  explicit Reference(const std::string& path) {
    std::ifstream in(path);
    std::string b64;
    int32_t r;
    while (in >> b64 >> r) rank.emplace(base64(b64), r);
  }

  int32_t rank_of(std::string_view bytes) const {
    auto it = rank.find(std::string(bytes));
    return it == rank.end() ? std::numeric_limits<int32_t>::max() : it->second;
  }

  // Byte-pair merging by the rank of the joined bytes, leftmost on ties.
  void encode_piece(std::string_view piece, std::vector<TokenId>& out) const {
    if (auto it = rank.find(std::string(piece)); it != rank.end()) {
      out.push_back(it->second);
      return;
    }
    std::vector<std::string> parts;
    for (char c : piece) parts.emplace_back(1, c);
    while (parts.size() > 1) {
      int32_t best = std::numeric_limits<int32_t>::max();
      size_t at = 0;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        const int32_t r = rank_of(parts[i] + parts[i + 1]);
        if (r < best) best = r, at = i;
      }
      if (best == std::numeric_limits<int32_t>::max()) break;
      parts[at] += parts[at + 1];
      parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    for (const auto& p : parts) out.push_back(rank.at(p));
  }
};

class BpeTiktoken : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::have_shared() || !std::filesystem::exists(tiktoken_path())) return;
    const auto t0 = std::chrono::steady_clock::now();
    const GgufVocab gv = import_tiktoken(tiktoken_path());
    const auto t1 = std::chrono::steady_clock::now();
    VocabSource src;
    src.pre = "llama4";
    src.tokens = gv.tokens;
    src.token_types = gv.token_types;
    src.merges = gv.merges;
    src.bos_id = static_cast<TokenId>(gv.bos_id);
    src.eos_id = static_cast<TokenId>(gv.eos_id);
    tok_ = new BpeTokenizer(Vocab::from_source(src));
    const auto t2 = std::chrono::steady_clock::now();
    ref_ = new Reference(tiktoken_path());
    std::printf("[ info     ] full vocab: tiktoken import %.2f s, tokenizer build %.2f s\n",
                std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count());
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete ref_;
    tok_ = nullptr;
    ref_ = nullptr;
  }
  void SetUp() override {
    if (!tok_) GTEST_SKIP() << "no tiktoken file in the shared data";
  }

  static std::vector<TokenId> reference_encode(std::string_view text) {
    std::vector<TokenId> out;
    for (std::string_view piece : tok_->pretokenizer().split(text)) ref_->encode_piece(piece, out);
    return out;
  }

  static BpeTokenizer* tok_;
  static Reference* ref_;
};
BpeTokenizer* BpeTiktoken::tok_ = nullptr;
Reference* BpeTiktoken::ref_ = nullptr;

TEST_F(BpeTiktoken, VocabularyShapeAndSpecials) {
  const Vocab& v = tok_->vocab();
  EXPECT_EQ(v.size(), 202048u);
  EXPECT_EQ(v.merge_count(), 200000u - 256u);
  EXPECT_EQ(v.bos(), 200000);
  EXPECT_EQ(v.token_text(v.eot()), "<|eot|>");
  EXPECT_EQ(v.eot(), 200008);
  EXPECT_EQ(v.eom(), 200007);
  EXPECT_EQ(v.end_of_text(), 200001);
  // Specials parse to their ids around plain text.
  const auto ids = tok_->encode("<|header_start|>user<|header_end|>\n\nHi<|eot|>", true, true);
  ASSERT_GE(ids.size(), 5u);
  EXPECT_EQ(ids[0], 200000);
  EXPECT_EQ(ids[1], 200005);
  EXPECT_EQ(ids.back(), 200008);
}

TEST_F(BpeTiktoken, TrickyStringsMatchTheReference) {
  const std::vector<std::string> cases = {
      "Hello, world!",
      "don't I'M we'll THEY'RE you've",
      "1234567 3.14159 1,000,000",
      "  leading spaces and trailing   ",
      "\r\n\r\nWindows\r\nlines\r\n",
      "\ttab\t\tseparated\tvalues\n",
      " \xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80",  // " हिन्दी"
      "\xE0\xB8\xAA\xE0\xB8\xA7\xE0\xB8\xB1\xE0\xB8\xAA\xE0\xB8\x94\xE0\xB8\xB5\xE0\xB8\x84\xE0\xB8\xA3\xE0\xB8\xB1\xE0\xB8\x9A",  // สวัสดีครับ
      "\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x81\xAF\xE6\x97\xA5\xE6\x9C\xAC\xE3\x81\xAE\xE9\xA6\x96\xE9\x83\xBD\xE3\x81\xA7\xE3\x81\x99\xE3\x80\x82",
      "\xEC\x95\x88\xEB\x85\x95\xED\x95\x98\xEC\x84\xB8\xEC\x9A\x94 \xEC\x84\xB8\xEA\xB3\x84",
      "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82, \xD0\xBC\xD0\xB8\xD1\x80! \xCE\x9A\xCE\xB1\xCE\xBB\xCE\xB7\xCE\xBC\xCE\xADo\xCF\x81\xCE\xB1",
      "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xD8\xA8\xD8\xA7\xD9\x84\xD8\xB9\xD8\xA7\xD9\x84\xD9\x85 \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D",
      "\xF0\x9F\x99\x82\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
      "foo(bar[i]) != 0; // comment\nif (x) {\n    return y;\n}\n",
      "https://example.com/path/to/file.html?q=1&r=2",
      "na\xC3\xAFve caf\xC3\xA9 nai\xCC\x88ve Gr\xC3\xBC\xC3\x9F" "e",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "=============================================================",
  };
  for (const std::string& s : cases) {
    EXPECT_EQ(tok_->encode(s, false, false), reference_encode(s)) << s;
  }
}

TEST_F(BpeTiktoken, RandomTextMatchesTheReference) {
  std::mt19937 rng(321);
  const char* const words[] = {"the", " The", "tokenizer", " merges", "\xC3\xA9t\xC3\xA9", " \xD0\xB4\xD0\xB0", "\xE4\xB8\xAD\xE6\x96\x87",
                               " 12345", "!!", "\n\n", "  ", "\t", "don't", "'S", "\xF0\x9F\x98\x80", "\xE0\xA4\x95\xE0\xA5\x8D\xE0\xA4\xB7"};
  for (int iter = 0; iter < 300; ++iter) {
    std::string s;
    for (size_t i = 0, n = 1 + rng() % 30; i < n; ++i) {
      if (rng() % 4 == 0) utf8_append(s, 0x20 + rng() % 0x2FF0);  // anything in the BMP's lower half
      else s += words[rng() % std::size(words)];
    }
    ASSERT_EQ(tok_->encode(s, false, false), reference_encode(s)) << s;
  }
}

// Not a pass/fail check: prints encode throughput on ~1 MB of mixed text.
TEST_F(BpeTiktoken, ReportEncodeThroughput) {
  std::string text;
  const std::string dir = test::shared_dir() + "/testdata/llama4-tiny/prompts/";
  std::vector<std::string> parts;
  for (const char* name : {"long12k", "mixed", "unicode", "chat", "basic"}) {
    const auto b = test::read_file(dir + name + ".txt");
    parts.emplace_back(b.begin(), b.end());
  }
  while (text.size() < (1 << 20)) {
    for (const auto& p : parts) text += p;
  }
  for (bool first : {true, false}) {  // cold cache, then warm
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok_->encode(text, true, true);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ info     ] full vocab (%s): encoded %.2f MB into %zu tokens in %.3f s: %.1f MB/s\n",
                first ? "cold" : "warm", text.size() / 1e6, ids.size(), s, text.size() / 1e6 / s);
  }
}

}  // namespace
}  // namespace scout::tokenizer
