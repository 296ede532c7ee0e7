// The GPT-2 bytes-to-unicode table and its string helpers.
#include "tokenizer/gpt2_bytes.h"

#include <gtest/gtest.h>

#include <set>

namespace scout::tokenizer {
namespace {

TEST(Gpt2Bytes, PrintableBytesMapToThemselves) {
  const auto& t = gpt2_byte_to_codepoint();
  for (uint32_t b = 33; b <= 126; ++b) EXPECT_EQ(t[b], b);
  for (uint32_t b = 161; b <= 172; ++b) EXPECT_EQ(t[b], b);
  for (uint32_t b = 174; b <= 255; ++b) EXPECT_EQ(t[b], b);
}

TEST(Gpt2Bytes, OtherBytesMapTo256Upwards) {
  const auto& t = gpt2_byte_to_codepoint();
  EXPECT_EQ(t[0], 256u);
  EXPECT_EQ(t[10], 266u);   // "Ċ"
  EXPECT_EQ(t[32], 288u);   // "Ġ"
  EXPECT_EQ(t[127], 289u);
  EXPECT_EQ(t[160], 289u + 33u);
  EXPECT_EQ(t[173], 323u);  // the last of the 68
  std::set<uint32_t> seen(t.begin(), t.end());
  EXPECT_EQ(seen.size(), 256u);
  EXPECT_EQ(*seen.rbegin(), 323u);
}

TEST(Gpt2Bytes, EncodeKnownStrings) {
  EXPECT_EQ(gpt2_encode_bytes("hello world"), "hello\xC4\xA0world");  // "helloĠworld"
  EXPECT_EQ(gpt2_encode_bytes("\n"), "\xC4\x8A");                     // "Ċ"
  EXPECT_EQ(gpt2_encode_bytes(""), "");
  // A UTF-8 character's bytes map one by one: "é" = C3 A9 -> "Ã©".
  EXPECT_EQ(gpt2_encode_bytes("\xC3\xA9"), "\xC3\x83\xC2\xA9");
}

TEST(Gpt2Bytes, RoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string text = gpt2_encode_bytes(all);
  auto back = gpt2_decode_string(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    EXPECT_EQ(gpt2_decode_string(gpt2_encode_bytes(one)), one) << "byte " << b;
  }
}

TEST(Gpt2Bytes, CodepointInverse) {
  EXPECT_EQ(gpt2_codepoint_to_byte(288), std::optional<uint8_t>(32));
  EXPECT_EQ(gpt2_codepoint_to_byte('a'), std::optional<uint8_t>('a'));
  EXPECT_FALSE(gpt2_codepoint_to_byte(' ').has_value());   // space itself is not in the table
  EXPECT_FALSE(gpt2_codepoint_to_byte(173).has_value());   // soft hyphen: remapped
  EXPECT_FALSE(gpt2_codepoint_to_byte(324).has_value());   // past the 68
  EXPECT_FALSE(gpt2_codepoint_to_byte(0x20AC).has_value());
}

TEST(Gpt2Bytes, DecodeRejectsCodepointsOutsideTheTable) {
  EXPECT_FALSE(gpt2_decode_string("a b").has_value());               // raw space
  EXPECT_FALSE(gpt2_decode_string("\xE2\x82\xAC").has_value());      // U+20AC
  EXPECT_FALSE(gpt2_decode_string("\xC5\x84").has_value());          // U+0144 = 324
  EXPECT_FALSE(gpt2_decode_string("\xF0\x9F\x98\x80").has_value());  // an emoji
}

TEST(Gpt2Bytes, DecodeRejectsInvalidUtf8) {
  EXPECT_FALSE(gpt2_decode_string("\xC4").has_value());      // truncated
  EXPECT_FALSE(gpt2_decode_string("\xC4" "A").has_value());  // bad continuation
  EXPECT_FALSE(gpt2_decode_string("\xC0\x80").has_value());  // overlong NUL
  EXPECT_FALSE(gpt2_decode_string("\x80").has_value());      // lone continuation
  EXPECT_EQ(gpt2_decode_string(""), std::optional<std::string>(""));
}

}  // namespace
}  // namespace scout::tokenizer
