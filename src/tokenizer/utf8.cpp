#include "tokenizer/utf8.h"

namespace scout::tokenizer {

namespace {

bool is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

// The allowed range of the second byte for a lead byte (RFC 3629 table); this
// is what rules out overlong forms, surrogates and code points > U+10FFFF.
struct Lead {
  uint8_t len;     // total sequence length, 0 = invalid lead byte
  uint8_t lo, hi;  // allowed range of the second byte
};

Lead lead_info(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};  // continuation byte or overlong 2-byte lead
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};  // excludes surrogates D800..DFFF
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};  // up to U+10FFFF
  return {0, 0, 0};
}

}  // namespace

size_t utf8_char_length(std::string_view text, size_t pos) {
  if (pos >= text.size()) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data()) + pos;
  const size_t avail = text.size() - pos;
  const Lead lead = lead_info(p[0]);
  if (lead.len == 0 || lead.len > avail) return 0;
  if (lead.len == 1) return 1;
  if (p[1] < lead.lo || p[1] > lead.hi) return 0;
  for (size_t i = 2; i < lead.len; ++i) {
    if (!is_cont(p[i])) return 0;
  }
  return lead.len;
}

size_t utf8_valid_run(std::string_view text, size_t pos) {
  size_t i = pos;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  while (i < text.size()) {
    if (p[i] < 0x80) {  // ASCII fast path
      ++i;
      continue;
    }
    const size_t n = utf8_char_length(text, i);
    if (n == 0) break;
    i += n;
  }
  return i - pos;
}

bool utf8_is_valid(std::string_view text) { return utf8_valid_run(text, 0) == text.size(); }

size_t utf8_incomplete_tail(std::string_view text) {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  // A character is at most 4 bytes, so its lead byte is among the last 3.
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t b = p[n - back];
    if (is_cont(b)) continue;
    const Lead lead = lead_info(b);
    if (lead.len <= back) return 0;  // complete, ASCII, or an invalid lead
    // The bytes present must be a valid prefix, or they can never complete.
    if (back >= 2 && (p[n - back + 1] < lead.lo || p[n - back + 1] > lead.hi)) return 0;
    return back;
  }
  return 0;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace scout::tokenizer
