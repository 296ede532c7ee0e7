// Pre-tokenizer splits, piece by piece. The expected splits were worked out
// by hand from the regex definitions (which alternative matches first, how
// far it runs), not produced by running any implementation.
#include "tokenizer/pretokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/utf8.h"

namespace scout::tokenizer {
namespace {

using Pieces = std::vector<std::string>;

struct Case {
  std::string text;
  Pieces pieces;
};

std::string show(const Pieces& p) {
  std::string s = "[";
  for (const auto& x : p) {
    s += "\"";
    for (unsigned char c : x) {
      if (c == '\n') s += "\\n";
      else if (c == '\r') s += "\\r";
      else if (c == '\t') s += "\\t";
      else if (c < 0x20) s += "\\x" + std::to_string(c);
      else s += static_cast<char>(c);
    }
    s += "\" ";
  }
  return s + "]";
}

void check_table(const PreTokenizer& pre, const std::vector<Case>& table) {
  for (const Case& c : table) {
    const auto views = pre.split(c.text);
    const Pieces got(views.begin(), views.end());
    EXPECT_EQ(got, c.pieces) << "text: " << show({c.text}) << "\n got: " << show(got)
                             << "\nwant: " << show(c.pieces);
  }
}

TEST(PreTokenizer, Llama4Table) {
  const PreTokenizer pre = PreTokenizer::for_name("llama4");
  EXPECT_EQ(pre.pattern(), kLlama4Pattern);
  check_table(pre, {
      {"", {}},
      // Contractions belong to the word; case-insensitive; only after letters.
      {"don't", {"don't"}},
      {"I'M", {"I'M"}},
      {"I'm", {"I'm"}},
      {"we'll", {"we'll"}},
      {"WE'LL", {"WE'LL"}},
      {"ABC'S", {"ABC'S"}},
      {"hello's world", {"hello's", " world"}},
      {"don'tcha", {"don't", "cha"}},
      {"'tis", {"'tis"}},
      // Case: upper run then lower run is one word; lower then upper splits.
      {"Hello World", {"Hello", " World"}},
      {"HELLOworld", {"HELLOworld"}},
      {"helloWORLD", {"hello", "WORLD"}},
      {"camelCase", {"camel", "Case"}},
      {"\xC7\x85" "emal", {"\xC7\x85" "emal"}},  // titlecase ǅ starts a word
      // Digits: at most three at a time, never joined to letters.
      {"1234567", {"123", "456", "7"}},
      {"00000000", {"000", "000", "00"}},
      {"a1b2", {"a", "1", "b", "2"}},
      {"12,345.67", {"12", ",", "345", ".", "67"}},
      {"$100", {"$", "100"}},
      {"x\xC2\xB2", {"x", "\xC2\xB2"}},  // superscript two is \p{N}
      {"\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4", {"\xD9\xA1\xD9\xA2\xD9\xA3", "\xD9\xA4"}},  // Arabic-Indic digits
      // Whitespace: a run gives all but its last space to \s+(?!\S).
      {"  hello", {" ", " hello"}},
      {"a  b", {"a", " ", " b"}},
      {"abc   ", {"abc", "   "}},
      {"hello   world", {"hello", "  ", " world"}},
      {"\r\n\r\n", {"\r\n\r\n"}},
      {"\r\nfoo", {"\r\n", "foo"}},
      {"a\n\nb", {"a", "\n\n", "b"}},
      {"x   \ny", {"x", "   \n", "y"}},
      {"  \t\n  x", {"  \t\n", " ", " x"}},
      {"\tfoo", {"\tfoo"}},  // a tab is a valid one-character prefix
      {"\t\tfoo", {"\t", "\tfoo"}},
      {"\xC2\xA0hello", {"\xC2\xA0hello"}},  // no-break space as a prefix
      // Punctuation runs take trailing newlines and slashes.
      {"...\n", {"...\n"}},
      {"}\n\n}", {"}\n\n", "}"}},
      {"//comment", {"//", "comment"}},
      {"path/to/file", {"path", "/to", "/file"}},
      {"foo(bar[i]) != 0;", {"foo", "(bar", "[i", "])", " !=", " ", "0", ";"}},
      {"if (x) {\n  return y;\n}", {"if", " (", "x", ")", " {\n", " ", " return", " y", ";\n", "}"}},
      // Marks belong inside words: Devanagari and Thai words stay whole.
      {" \xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80",
       {" \xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80"}},  // " हिन्दी"
      {"\xE0\xB8\xAA\xE0\xB8\xA7\xE0\xB8\xB1\xE0\xB8\xAA\xE0\xB8\x94\xE0\xB8\xB5",
       {"\xE0\xB8\xAA\xE0\xB8\xA7\xE0\xB8\xB1\xE0\xB8\xAA\xE0\xB8\x94\xE0\xB8\xB5"}},  // "สวัสดี"
      {"nai\xCC\x88ve", {"nai\xCC\x88ve"}},  // combining diaeresis
      {"na\xC3\xAFve caf\xC3\xA9", {"na\xC3\xAFve", " caf\xC3\xA9"}},
      // Other scripts.
      {"\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82, \xD0\xBC\xD0\xB8\xD1\x80!",
       {"\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", ",", " \xD0\xBC\xD0\xB8\xD1\x80", "!"}},  // Привет, мир!
      {"\xCE\x91\xCE\xB8\xCE\xAE\xCE\xBD\xCE\xB1", {"\xCE\x91\xCE\xB8\xCE\xAE\xCE\xBD\xCE\xB1"}},  // Αθήνα
      {"\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xD8\xA8\xD8\xA7\xD9\x84",
       {"\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7", " \xD8\xA8\xD8\xA7\xD9\x84"}},  // مرحبا بال
      {"\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D \xD7\xA2\xD7\x95\xD7\x9C\xD7\x9D",
       {"\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D", " \xD7\xA2\xD7\x95\xD7\x9C\xD7\x9D"}},  // שלום עולם
      {"\xEC\x95\x88\xEB\x85\x95 \xEC\x84\xB8\xEA\xB3\x84", {"\xEC\x95\x88\xEB\x85\x95", " \xEC\x84\xB8\xEA\xB3\x84"}},  // 안녕 세계
      // CJK: one run of Lo, then the ideographic full stop on its own.
      {"\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x81\xAF\xE6\x97\xA5\xE6\x9C\xAC\xE3\x81\xA7\xE3\x81\x99\xE3\x80\x82",
       {"\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x81\xAF\xE6\x97\xA5\xE6\x9C\xAC\xE3\x81\xA7\xE3\x81\x99", "\xE3\x80\x82"}},  // 東京は日本です。
      // Emoji are symbols: one run, skin tones (Sk) and ZWJ (Cf) included.
      {"\xF0\x9F\x99\x82\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", {"\xF0\x9F\x99\x82\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"}},  // 🙂👍🏽
      {"\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
       {"\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"}},  // 👨‍👩‍👧
      {"hi \xF0\x9F\x99\x82 there", {"hi", " \xF0\x9F\x99\x82", " there"}},
      {"\xF0\x9F\x99\x82 hi", {"\xF0\x9F\x99\x82", " hi"}},
  });
}

TEST(PreTokenizer, Llama3Table) {
  const PreTokenizer pre = PreTokenizer::for_name("llama-bpe");
  check_table(pre, {
      {"don't", {"don", "'t"}},
      {"I'M", {"I", "'M"}},
      {"1234567", {"123", "456", "7"}},
      {"  hello", {" ", " hello"}},
      {"HELLOworld", {"HELLOworld"}},
      {"...\n", {"...\n"}},
      {"a/b", {"a", "/b"}},
      // \p{L}+ stops at marks here, unlike llama4's word classes.
      {" \xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80",
       {" \xE0\xA4\xB9", "\xE0\xA4\xBF\xE0\xA4\xA8", "\xE0\xA5\x8D\xE0\xA4\xA6", "\xE0\xA5\x80"}},
  });
}

TEST(PreTokenizer, Gpt2Table) {
  const PreTokenizer pre = PreTokenizer::for_name("gpt2");
  check_table(pre, {
      {"don't", {"don", "'t"}},
      {"1234567 89", {"1234567", " 89"}},
      {"hello  world", {"hello", " ", " world"}},
      {"a\n\nb", {"a", "\n", "\n", "b"}},  // no newline alternative: \s+(?!\S) backs off one
      {"foo(bar)", {"foo", "(", "bar", ")"}},
  });
}

TEST(PreTokenizer, UnknownNameFallsBackToGpt2) {
  EXPECT_EQ(PreTokenizer::for_name("no-such-pre").pattern(), kGpt2Pattern);
}

TEST(PreTokenizer, BadPatternIsAClearError) {
  try {
    PreTokenizer p("(unclosed");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not compile"), std::string::npos) << e.what();
  }
}

TEST(PreTokenizer, InvalidUtf8BytesStandAlone) {
  const PreTokenizer pre = PreTokenizer::for_name("llama4");
  check_table(pre, {
      {"ab\xFF" "cd", {"ab", "\xFF", "cd"}},
      {"x\xE4\xB8", {"x", "\xE4", "\xB8"}},               // truncated 3-byte character
      {"\xED\xA0\x80", {"\xED", "\xA0", "\x80"}},         // an encoded surrogate
      {"\xC0\x80 a", {"\xC0", "\x80", " a"}},             // overlong NUL
      {"\xF4\x90\x80\x80", {"\xF4", "\x90", "\x80", "\x80"}},  // above U+10FFFF
      {"  \xFE  ", {"  ", "\xFE", "  "}},  // each valid run is split on its own
  });
}

TEST(PreTokenizer, LongRunsSplitWithoutError) {
  const PreTokenizer pre = PreTokenizer::for_name("llama4");
  // Deep backtracking inputs: a megabyte of one class must not exhaust the
  // JIT stack (the interpreter takes over if it would).
  for (const std::string unit : {" ", "\n", "a", "!", "\xE0\xA4\xB9\xE0\xA4\xBF", "\xF0\x9F\x99\x82"}) {
    std::string text;
    while (text.size() < (1 << 20)) text += unit;
    text += "x";
    const auto pieces = pre.split(text);
    std::string joined;
    for (auto p : pieces) joined += p;
    EXPECT_EQ(joined, text);
  }
}

TEST(Utf8, ValidationMatchesTheStandard) {
  EXPECT_TRUE(utf8_is_valid(""));
  EXPECT_TRUE(utf8_is_valid("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x99\x82"));
  EXPECT_TRUE(utf8_is_valid("\xEF\xBF\xBF\xF4\x8F\xBF\xBF\xED\x9F\xBF\xEE\x80\x80"));
  EXPECT_FALSE(utf8_is_valid("\x80"));
  EXPECT_FALSE(utf8_is_valid("\xC1\xBF"));          // overlong
  EXPECT_FALSE(utf8_is_valid("\xE0\x9F\xBF"));      // overlong
  EXPECT_FALSE(utf8_is_valid("\xF0\x8F\xBF\xBF"));  // overlong
  EXPECT_FALSE(utf8_is_valid("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(utf8_is_valid("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(utf8_is_valid("\xF5\x80\x80\x80"));
  EXPECT_FALSE(utf8_is_valid("\xE2\x82"));          // truncated
  EXPECT_EQ(utf8_valid_run("ab\xE2\x82", 0), 2u);
  EXPECT_EQ(utf8_char_length("\xE2\x82\xAC", 0), 3u);
}

TEST(Utf8, IncompleteTail) {
  EXPECT_EQ(utf8_incomplete_tail(""), 0u);
  EXPECT_EQ(utf8_incomplete_tail("abc"), 0u);
  EXPECT_EQ(utf8_incomplete_tail("a\xE2"), 1u);
  EXPECT_EQ(utf8_incomplete_tail("a\xE2\x82"), 2u);
  EXPECT_EQ(utf8_incomplete_tail("a\xE2\x82\xAC"), 0u);
  EXPECT_EQ(utf8_incomplete_tail("\xF0\x9F\x99"), 3u);
  EXPECT_EQ(utf8_incomplete_tail("\xF0\x9F\x99\x82"), 0u);
  EXPECT_EQ(utf8_incomplete_tail("\xFF"), 0u);         // can never complete
  EXPECT_EQ(utf8_incomplete_tail("\xED\xA0"), 0u);     // would be a surrogate
  EXPECT_EQ(utf8_incomplete_tail("\x80\x80\x80"), 0u);  // stray continuations
}

}  // namespace
}  // namespace scout::tokenizer
