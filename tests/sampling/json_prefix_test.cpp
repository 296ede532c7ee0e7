// The incremental JSON validator: valid objects accepted byte by byte and
// complete exactly at their last byte, invalid text rejected at the first
// byte that cannot be part of a valid object, chunked feeding equal to byte
// by byte, and agreement with nlohmann::json on random and mutated documents.
#include "sampling/json_prefix.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace scout::sampling {
namespace {

constexpr size_t kAll = std::string::npos;

// The index of the first byte feed() rejects, or kAll when every byte is accepted.
size_t reject_at(const std::string& text, JsonPrefix j = JsonPrefix()) {
  for (size_t i = 0; i < text.size(); ++i) {
    const JsonPrefix::Key before = j.key();
    if (!j.feed(text.substr(i, 1))) {
      EXPECT_EQ(j.key(), before) << "a rejected byte changed the state";
      return i;
    }
  }
  return kAll;
}

// Every byte accepted, and complete() only after the last one.
void expect_whole(const std::string& doc) {
  SCOPED_TRACE(doc);
  JsonPrefix j;
  for (size_t i = 0; i < doc.size(); ++i) {
    EXPECT_FALSE(j.complete()) << "complete before byte " << i;
    ASSERT_TRUE(j.feed(doc.substr(i, 1))) << "rejected byte " << i << " ('" << doc[i] << "')";
  }
  EXPECT_TRUE(j.complete());
  EXPECT_EQ(j.depth(), 0);
  EXPECT_TRUE(nlohmann::json::accept(doc)) << "the test's document is not JSON";
}

TEST(JsonPrefix, ValidObjectsCompleteExactlyAtTheEnd) {
  const std::vector<std::string> docs = {
      "{}",
      "{\"a\":1}",
      "{ \"a\" : 1 }",
      " {\"a\":1}",
      "\t\n{\"a\":1}",
      "{\"a\":[1,2,3],\"b\":{\"c\":null}}",
      "{\"s\":\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00 \\u0000\"}",
      "{\"n\":[0,-0,1.5,-1.5e10,1E+2,2e-3,0.0,10,123456789,0e5,-0.25E-07]}",
      "{\"t\":true,\"f\":false,\"n\":null}",
      "{\"utf8\":\"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xed\x9f\xbf\"}",
      "{\"nested\":[[[]],{},[{}],[[1],[true]]]}",
      "{\"\":\"\"}",
      "{\r\n\"a\": [ ],\r\n\"b\" :{ } }",
      "{\"del\":\"\x7f\",\"spaces in a string are not limited\":\"          \"}",
      "{\"a\":1 ,\"b\":2\t}",
      "{\"k\":[\"x\" , \"y\"]}",
  };
  for (const std::string& d : docs) expect_whole(d);
}

TEST(JsonPrefix, EmptyObjectAndStateBeforeIt) {
  JsonPrefix j;
  EXPECT_FALSE(j.complete());
  EXPECT_EQ(j.depth(), 0);
  ASSERT_TRUE(j.feed("{"));
  EXPECT_EQ(j.depth(), 1);
  EXPECT_FALSE(j.complete());
  ASSERT_TRUE(j.feed("}"));
  EXPECT_TRUE(j.complete());
  // Nothing follows a complete object, not even whitespace.
  EXPECT_FALSE(j.feed(" "));
  EXPECT_FALSE(j.feed("{"));
  EXPECT_FALSE(j.feed("\n"));
  EXPECT_TRUE(j.complete());
}

TEST(JsonPrefix, OnlyAnObjectAtTheTop) {
  EXPECT_EQ(reject_at("[1]"), 0u);
  EXPECT_EQ(reject_at("\"a\""), 0u);
  EXPECT_EQ(reject_at("1"), 0u);
  EXPECT_EQ(reject_at("true"), 0u);
  EXPECT_EQ(reject_at("null"), 0u);
  EXPECT_EQ(reject_at(" 1"), 1u);
  EXPECT_EQ(reject_at("}"), 0u);
}

TEST(JsonPrefix, InvalidTextIsRejectedAtTheRightByte) {
  struct Case {
    std::string text;
    size_t at;
  };
  const std::vector<Case> cases = {
      {"{\"a\":01}", 6},          // leading zero
      {"{\"a\":-01}", 7},
      {"{\"a\":00}", 6},
      {"{\"a\":1,}", 7},          // trailing comma in an object
      {"{\"a\":[1,]}", 8},        // ... in an array
      {"{\"a\":[,1]}", 6},
      {"{,}", 1},
      {"{\"a\":1,,\"b\":2}", 7},
      {"{\"a\":\"\\x\"}", 7},     // bad escapes
      {"{\"a\":\"\\U0041\"}", 7},
      {"{\"a\":\"\\u12G4\"}", 10},
      {"{\"a\":\"\\u12\"}", 10},
      {"{\"a\":\"\x01\"}", 6},    // control characters in strings
      {"{\"a\":\"\n\"}", 6},
      {"{\"a\":\"\t\"}", 6},
      {"{\"a\":\"x\x1f\"}", 7},
      {"{\"a\":1}}", 7},          // after the end
      {"{}{}", 2},
      {"{\"a\" 1}", 5},           // missing colon
      {"{\"a\"::1}", 5},
      {"{a:1}", 1},               // unquoted key
      {"{'a':1}", 1},
      {"{1:1}", 1},
      {"{\"a\":tru}", 8},         // literals
      {"{\"a\":True}", 5},
      {"{\"a\":nul}", 8},
      {"{\"a\":falsy}", 9},
      {"{\"a\":-}", 6},           // numbers
      {"{\"a\":1.}", 7},
      {"{\"a\":1.e5}", 7},
      {"{\"a\":1e}", 7},
      {"{\"a\":1e+}", 8},
      {"{\"a\":.5}", 5},
      {"{\"a\":+1}", 5},
      {"{\"a\":1.5.}", 8},
      {"{\"a\":--1}", 6},
      {"{\"a\":1e5e}", 8},
      {"{\"a\":0x10}", 6},
      {"{\"a\":1 2}", 7},
      {"{\"a\":1\"b\"}", 6},
      {"{\"a\":[1}", 7},          // mismatched brackets
      {"{\"a\":{]}", 6},
      {"{\"a\":[1]]}", 8},
      {"{\"a\":1]", 6},
      {"{\"a\":\"\xc0\x80\"}", 6},          // UTF-8: overlong
      {"{\"a\":\"\xe0\x80\x80\"}", 7},
      {"{\"a\":\"\xed\xa0\x80\"}", 7},      // a UTF-16 surrogate
      {"{\"a\":\"\xf4\x90\x80\x80\"}", 7},  // above U+10FFFF
      {"{\"a\":\"\xf5\"}", 6},
      {"{\"a\":\"\x80\"}", 6},              // a lone continuation byte
      {"{\"a\":\"\xe4\xb8\"}", 8},          // a character cut short
      {"{\"a\":\"\xc3\xa9\xa9\"}", 8},
      {"{\"a\":\"\\uDE00\"}", 9},           // escapes: a lone low surrogate
      {"{\"a\":\"\\uD83D\"}", 12},          // a high one with no low one
      {"{\"a\":\"\\uD83Dx\"}", 12},
      {"{\"a\":\"\\uD83D\\n\"}", 13},
      {"{\"a\":\"\\uD83D\\u0041\"}", 14},
      {"{\"a\":\"\\uD83D\\uD83D\"}", 15},
      {"{\"a\":\"\\uD83D\\uDE00\\uDE00\"}", 21},
      {"{\"a\":\xc3\xa9}", 5},              // non-ASCII outside strings
  };
  for (const Case& c : cases) {
    EXPECT_EQ(reject_at(c.text), c.at) << c.text;
    EXPECT_FALSE(nlohmann::json::accept(c.text)) << "the test's case is valid JSON: " << c.text;
  }
}

TEST(JsonPrefix, UnterminatedTextIsAPrefixNotComplete) {
  for (const std::string text : {"{", "{\"a", "{\"a\"", "{\"a\":", "{\"a\":\"abc", "{\"a\":\"\\", "{\"a\":\"\\u00",
                                 "{\"a\":[1,", "{\"a\":12", "{\"a\":1.5e", "{\"a\":tr", "{\"a\":{\"b\":[]",
                                 "{\"a\":\"\xe4\xb8", "{\"a\":\"\\uD83D\\u", " "}) {
    JsonPrefix j;
    EXPECT_TRUE(j.feed(text)) << text;
    EXPECT_FALSE(j.complete()) << text;
  }
}

TEST(JsonPrefix, WhitespaceRunsAreBounded) {
  EXPECT_EQ(reject_at("   {}"), 2u);
  EXPECT_EQ(reject_at("{   \"a\":1}"), 3u);
  EXPECT_EQ(reject_at("{\"a\":   1}"), 7u);
  EXPECT_EQ(reject_at("{\"a\":1   }"), 8u);
  EXPECT_EQ(reject_at("{\"a\":[1 \n\t]}"), 9u);
  EXPECT_EQ(reject_at("{\n  \"a\":1}"), 3u);  // pretty printing needs a longer run
  // Runs end at any other byte, and strings do not count.
  EXPECT_EQ(reject_at("{  \"a\"  :  [  1  ,  2  ]  }"), kAll);
  EXPECT_EQ(reject_at("{\"a\":\"     \"}"), kAll);
  // The limit is the constructor's.
  EXPECT_EQ(reject_at("{\n    \"a\": 1\n}", JsonPrefix(5)), kAll);
  EXPECT_EQ(reject_at("{\n     \"a\": 1\n}", JsonPrefix(5)), 6u);
  EXPECT_EQ(reject_at(" {}", JsonPrefix(0)), 0u);
  EXPECT_EQ(reject_at("{\"a\":1}", JsonPrefix(0)), kAll);
  EXPECT_THROW(JsonPrefix(16), std::invalid_argument);
  EXPECT_THROW(JsonPrefix(-1), std::invalid_argument);
}

TEST(JsonPrefix, DepthIsBounded) {
  // The top-level object and 31 arrays: 32 containers.
  const int n = JsonPrefix::kMaxDepth - 1;
  const std::string deepest = "{\"a\":" + std::string(n, '[') + std::string(n, ']') + "}";
  expect_whole(deepest);
  JsonPrefix j;
  ASSERT_TRUE(j.feed("{\"a\":" + std::string(n, '[')));
  EXPECT_EQ(j.depth(), JsonPrefix::kMaxDepth);
  EXPECT_FALSE(j.feed("["));
  EXPECT_FALSE(j.feed("{"));
  EXPECT_TRUE(j.feed("1"));
  EXPECT_EQ(reject_at("{\"a\":" + std::string(n + 1, '[')), 5u + n);
  // Mixed objects and arrays pop in order.
  std::string mixed = "{";
  for (int d = 1; d < JsonPrefix::kMaxDepth; ++d) mixed += d % 2 ? "\"k\":[" : "{";
  for (int d = JsonPrefix::kMaxDepth - 1; d >= 1; --d) mixed += d % 2 ? "]" : "}";
  mixed += "}";
  expect_whole(mixed);
}

TEST(JsonPrefix, NumbersAreFiniteDoubles) {
  // Integer digits plus a positive exponent at most 308: below 1e308.
  const std::string digits(JsonPrefix::kMaxMagnitude, '9');
  expect_whole("{\"a\":" + digits + ".5}");
  expect_whole("{\"a\":-" + digits + "}");
  expect_whole("{\"a\":[1.5e307,12e306,0.5E+307,1e+0000307,-9.99e307]}");
  expect_whole("{\"a\":[1e-999999,0.1e-5000,1." + std::string(500, '0') + "1]}");  // no lower limit
  expect_whole("{\"a\":" + digits.substr(0, 300) + "e8}");
  EXPECT_EQ(reject_at("{\"a\":" + digits + "9}"), 5u + digits.size());
  EXPECT_EQ(reject_at("{\"a\":1e308}"), 9u);
  EXPECT_EQ(reject_at("{\"a\":1e+308}"), 10u);
  EXPECT_EQ(reject_at("{\"a\":12e307}"), 10u);
  EXPECT_EQ(reject_at("{\"a\":" + digits.substr(0, 300) + "e9}"), 306u);
  EXPECT_EQ(reject_at("{\"a\":1e3080}"), 9u);
  // What the limit is for: a JSON library refuses numbers that overflow a double.
  EXPECT_FALSE(nlohmann::json::accept("{\"a\":1e309}"));
  EXPECT_FALSE(nlohmann::json::accept("{\"a\":" + digits + "9}"));
}

TEST(JsonPrefix, ChunksEqualByteByByte) {
  const std::vector<std::string> docs = {
      "{\"a\":[1,2.5e-3,{\"b\":\"\\u00e9\\uD83D\\uDE00 \xe4\xb8\x96\"}],\"c\":true, \"d\" : null}",
      "{\"nested\":[[[]],{},[{}],[[1],[false]]],\"n\":-0.0E+12}",
      "{\"a\":1,}",
      "{\"x\":\"\xe4\xb8\x96\xe7\x95\",\"y\":1}",
  };
  std::mt19937 rng(7);
  for (const std::string& d : docs) {
    // The states byte by byte, up to the first rejected byte.
    std::vector<JsonPrefix::Key> keys;
    JsonPrefix b;
    keys.push_back(b.key());
    size_t ok = 0;
    while (ok < d.size() && b.feed(d.substr(ok, 1))) keys.push_back(b.key()), ++ok;
    for (int trial = 0; trial < 50; ++trial) {
      JsonPrefix c;
      size_t pos = 0;
      while (pos < d.size()) {
        const size_t len = std::min<size_t>(d.size() - pos, 1 + rng() % 7);
        const JsonPrefix::Key before = c.key();
        const bool would = c.accepts(d.substr(pos, len));
        EXPECT_EQ(c.key(), before);
        const bool accepted = c.feed(d.substr(pos, len));
        EXPECT_EQ(would, accepted);
        if (pos + len <= ok) {
          ASSERT_TRUE(accepted) << d << " at " << pos;
          EXPECT_EQ(c.key(), keys[pos + len]);
        } else {
          ASSERT_FALSE(accepted) << d << " at " << pos;  // the chunk holds the rejected byte
          EXPECT_EQ(c.key(), before);
          break;
        }
        pos += len;
      }
    }
  }
}

// Random JSON values (strings with escapes and multi-byte characters).
nlohmann::json random_value(std::mt19937& rng, int depth) {
  const int kind = static_cast<int>(rng() % (depth >= 5 ? 5 : 7));
  switch (kind) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<int64_t>(rng()) - (int64_t{1} << 31);
    case 3: return std::ldexp(static_cast<double>(rng()) / 4294967296.0 - 0.5, static_cast<int>(rng() % 200) - 100);
    case 4: {
      static const std::vector<std::string> pieces = {"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
                                                      "\xc3\xa9", "\xe4\xb8\x96", "\xf0\x9f\x98\x80", "\x7f", "0"};
      std::string s;
      for (int i = static_cast<int>(rng() % 8); i > 0; --i) s += pieces[rng() % pieces.size()];
      return s;
    }
    case 5: {
      nlohmann::json a = nlohmann::json::array();
      for (int i = static_cast<int>(rng() % 4); i > 0; --i) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      nlohmann::json o = nlohmann::json::object();
      for (int i = static_cast<int>(rng() % 4); i > 0; --i)
        o[random_value(rng, 5).dump()] = random_value(rng, depth + 1);
      return o;
    }
  }
}

TEST(JsonPrefix, AgreesWithNlohmannOnRandomDocuments) {
  std::mt19937 rng(11);
  int mutated_valid = 0;
  for (int i = 0; i < 2000; ++i) {
    nlohmann::json v = nlohmann::json::object();
    for (int k = static_cast<int>(rng() % 5); k > 0; --k) v["k" + std::to_string(k)] = random_value(rng, 1);
    // Compact, and with ASCII escapes for everything non-ASCII.
    const std::string doc = v.dump(-1, ' ', i % 2 == 0);
    expect_whole(doc);
    if (HasFatalFailure()) return;

    // One byte changed, inserted or removed: complete exactly when nlohmann
    // accepts it (compact documents with one byte changed have no long
    // whitespace run and no deep nesting to tell the two apart; the change
    // never appends, so there is no trailing whitespace either).
    std::string m = doc;
    const size_t at = rng() % m.size();
    static const std::string alphabet = "{}[]\":,\\ -+.0123456789eEtrufalsn\x01\xc3\xa9\xe4\xb8";
    const char c = alphabet[rng() % alphabet.size()];
    switch (rng() % 3) {
      case 0: m[at] = c; break;
      case 1: m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), c); break;
      default: m.erase(at, 1); break;
    }
    JsonPrefix j;
    const bool ours = j.feed(m) && j.complete();
    const bool theirs = nlohmann::json::accept(m) && nlohmann::json::parse(m).is_object();
    EXPECT_EQ(ours, theirs) << m;
    mutated_valid += ours;
  }
  EXPECT_GT(mutated_valid, 100);  // the mutations do not just break everything
}

}  // namespace
}  // namespace scout::sampling
