// Round trip: decode(encode(s)) == s for any bytes at all, with the real
// (cut-down) Llama 4 vocabulary of the llama4-tiny test model. Inputs are
// random but seeded: every script, all Unicode planes, combining marks, emoji
// sequences, whitespace runs, digits, and invalid UTF-8.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "gguf/reader.h"
#include "test_util.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/utf8.h"

namespace scout::tokenizer {
namespace {

class BpeRoundTrip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::have_shared()) return;
    const auto file = gguf::GgufFile::open(test::shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf");
    tok_ = new BpeTokenizer(BpeTokenizer::from_gguf(file));
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override {
    if (!tok_) GTEST_SKIP() << "no shared test data";
  }

  static void expect_round_trip(const std::string& s) {
    for (bool special : {false, true}) {
      const auto ids = tok_->encode(s, false, special);
      for (TokenId id : ids) ASSERT_TRUE(tok_->vocab().valid_id(id));
      const std::string back = tok_->decode(ids);
      ASSERT_EQ(back, s) << "parse_special=" << special << ", " << s.size() << " bytes";
    }
  }

  static BpeTokenizer* tok_;
};
BpeTokenizer* BpeRoundTrip::tok_ = nullptr;

// Code point ranges to draw from, by script.
struct Range {
  uint32_t lo, hi;
};
const Range kScripts[] = {
    {0x20, 0x7E},        // ASCII
    {0xC0, 0x24F},       // Latin-1 and Latin Extended
    {0x370, 0x3FF},      // Greek
    {0x400, 0x4FF},      // Cyrillic
    {0x5D0, 0x5EA},      // Hebrew
    {0x600, 0x6FF},      // Arabic
    {0x900, 0x97F},      // Devanagari
    {0xE01, 0xE5B},      // Thai
    {0x300, 0x36F},      // combining marks
    {0x4E00, 0x9FFF},    // CJK
    {0x3040, 0x30FF},    // kana
    {0xAC00, 0xD7A3},    // Hangul
    {0x1F300, 0x1F64F},  // emoji
    {0x1F3FB, 0x1F3FF},  // skin tones
    {0x200D, 0x200D},    // zero-width joiner
    {0xFE0F, 0xFE0F},    // variation selector 16
    {0x30, 0x39},        // digits
    {0x660, 0x669},      // Arabic-Indic digits
};
const char* const kSpaces[] = {" ", "  ", "\t", "\n", "\r\n", "\r", "\n\n", "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\xA8"};

std::string random_text(std::mt19937& rng, size_t n_chars) {
  std::string s;
  std::uniform_int_distribution<int> kind(0, 9);
  for (size_t i = 0; i < n_chars; ++i) {
    const int k = kind(rng);
    if (k < 2) {
      s += kSpaces[rng() % std::size(kSpaces)];
    } else if (k < 3) {
      // Anywhere in Unicode, all planes (surrogates are not characters).
      uint32_t cp;
      do cp = rng() % 0x110000; while (cp >= 0xD800 && cp <= 0xDFFF);
      utf8_append(s, cp);
    } else {
      const Range r = kScripts[rng() % std::size(kScripts)];
      utf8_append(s, r.lo + rng() % (r.hi - r.lo + 1));
    }
  }
  return s;
}

TEST_F(BpeRoundTrip, RandomUnicode) {
  std::mt19937 rng(20250405);
  for (int iter = 0; iter < 400; ++iter) expect_round_trip(random_text(rng, 1 + rng() % 200));
}

TEST_F(BpeRoundTrip, EveryScriptOnItsOwn) {
  std::mt19937 rng(7);
  for (const Range& r : kScripts) {
    for (int iter = 0; iter < 20; ++iter) {
      std::string s;
      const size_t n = 1 + rng() % 40;
      for (size_t i = 0; i < n; ++i) {
        if (rng() % 5 == 0) s += ' ';
        utf8_append(s, r.lo + rng() % (r.hi - r.lo + 1));
      }
      expect_round_trip(s);
    }
  }
}

TEST_F(BpeRoundTrip, FixedStrings) {
  for (const std::string s : {
           "", " ", "\r\n", "\t\t\tx", "a\r\n\r\nb\r\n", "don't I'M WE'LL",
           "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
           " \xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80",  // " हिन्दी"
           "<|eot|><|begin_of_text|><|eot|", "foo(bar[i]) != 0;\n\tif (x) {\n\t\treturn;\n\t}\n",
       }) {
    expect_round_trip(s);
  }
}

TEST_F(BpeRoundTrip, RandomBytes) {
  std::mt19937 rng(99);
  for (int iter = 0; iter < 300; ++iter) {
    std::string s(1 + rng() % 300, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    expect_round_trip(s);
  }
}

TEST_F(BpeRoundTrip, TextWithInvalidBytesMixedIn) {
  std::mt19937 rng(4242);
  for (int iter = 0; iter < 200; ++iter) {
    std::string s = random_text(rng, 1 + rng() % 100);
    // Corrupt a few bytes: truncated characters, stray continuations, 0xFF.
    for (int k = 0; k < 3 && !s.empty(); ++k) s[rng() % s.size()] = static_cast<char>(0x80 | (rng() & 0x7F));
    expect_round_trip(s);
  }
}

TEST_F(BpeRoundTrip, LongWhitespaceRunsAndDigits) {
  std::mt19937 rng(5);
  for (int iter = 0; iter < 30; ++iter) {
    std::string s;
    const size_t n = 1 + rng() % 5000;
    for (size_t i = 0; i < n; ++i) s += kSpaces[rng() % std::size(kSpaces)];
    s += "x";
    for (size_t i = 0, m = rng() % 2000; i < m; ++i) s += static_cast<char>('0' + rng() % 10);
    s += std::string(rng() % 3000, ' ');
    expect_round_trip(s);
  }
  expect_round_trip(std::string(100000, ' '));
  expect_round_trip(std::string(100000, '7'));
  expect_round_trip(std::string(100000, 'a'));  // one huge piece: the heap merge
}

TEST_F(BpeRoundTrip, ScanAndHeapMergeAgreeOnRealMerges) {
  std::mt19937 rng(11);
  const auto pieces_of = [&](const std::string& text) { return tok_->pretokenizer().split(text); };
  for (int iter = 0; iter < 300; ++iter) {
    const std::string text = random_text(rng, 1 + rng() % 60);
    for (std::string_view piece : pieces_of(text)) {
      std::vector<TokenId> a, b;
      bpe_merge_scan(tok_->vocab(), piece, a);
      bpe_merge_heap(tok_->vocab(), piece, b);
      ASSERT_EQ(a, b);
    }
  }
}

TEST_F(BpeRoundTrip, ConcurrentEncodesAgreeWithSerialOnes) {
  std::mt19937 rng(8);
  std::vector<std::string> texts;
  for (int i = 0; i < 8; ++i) texts.push_back(random_text(rng, 3000));
  std::vector<std::vector<TokenId>> serial;
  for (const auto& t : texts) serial.push_back(tok_->encode(t, true, true));
  std::vector<std::vector<TokenId>> parallel(texts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < texts.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int rep = 0; rep < 5; ++rep) parallel[i] = tok_->encode(texts[i], true, true);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(parallel, serial);
}

// Not a pass/fail check: prints encode throughput on ~1 MB of mixed text.
TEST_F(BpeRoundTrip, ReportEncodeThroughput) {
  std::mt19937 rng(1);
  const auto prose = test::read_file(test::shared_dir() + "/testdata/llama4-tiny/prompts/long12k.txt");
  std::string text;
  while (text.size() < (1 << 20)) {
    text.append(prose.begin(), prose.end());
    text += random_text(rng, 2000);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = tok_->encode(text, true, true);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ info     ] tiny vocab: encoded %.2f MB into %zu tokens in %.3f s: %.1f MB/s\n",
              text.size() / 1e6, ids.size(), s, text.size() / 1e6 / s);
  EXPECT_EQ(tok_->decode(std::span(ids).subspan(1)), text);
}

}  // namespace
}  // namespace scout::tokenizer
