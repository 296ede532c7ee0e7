#include "tokenizer/gpt2_bytes.h"

namespace scout::tokenizer {

namespace {

bool printable(uint32_t b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }

std::array<uint32_t, 256> build_table() {
  std::array<uint32_t, 256> t{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) t[b] = printable(b) ? b : next++;
  return t;
}

// The mapped code points all lie below 256 + 68, so the inverse is a small array.
constexpr uint32_t kInverseSize = 256 + 68;
std::array<int16_t, kInverseSize> build_inverse() {
  std::array<int16_t, kInverseSize> inv;
  inv.fill(-1);
  const auto& t = gpt2_byte_to_codepoint();
  for (uint32_t b = 0; b < 256; ++b) inv[t[b]] = static_cast<int16_t>(b);
  return inv;
}

void append_utf8(std::string& out, uint32_t cp) {
  // Only code points < 0x800 occur here: one or two bytes.
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

const std::array<uint32_t, 256>& gpt2_byte_to_codepoint() {
  static const std::array<uint32_t, 256> table = build_table();
  return table;
}

std::optional<uint8_t> gpt2_codepoint_to_byte(uint32_t cp) {
  static const std::array<int16_t, kInverseSize> inverse = build_inverse();
  if (cp >= kInverseSize || inverse[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(inverse[cp]);
}

std::string gpt2_encode_bytes(std::string_view bytes) {
  const auto& t = gpt2_byte_to_codepoint();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_utf8(out, t[static_cast<uint8_t>(c)]);
  return out;
}

std::optional<std::string> gpt2_decode_string(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const uint8_t c0 = static_cast<uint8_t>(text[i]);
    uint32_t cp;
    if (c0 < 0x80) {
      cp = c0;
      i += 1;
    } else if ((c0 & 0xE0) == 0xC0 && i + 1 < text.size()) {
      const uint8_t c1 = static_cast<uint8_t>(text[i + 1]);
      if ((c1 & 0xC0) != 0x80) return std::nullopt;
      cp = (static_cast<uint32_t>(c0 & 0x1F) << 6) | (c1 & 0x3F);
      if (cp < 0x80) return std::nullopt;  // overlong encoding
      i += 2;
    } else {
      // Three- and four-byte sequences encode code points >= 0x800, which the
      // table never produces; truncated or invalid sequences fail too.
      return std::nullopt;
    }
    const auto b = gpt2_codepoint_to_byte(cp);
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
  }
  return out;
}

}  // namespace scout::tokenizer
