#include "sampling/json_prefix.h"

#include <stdexcept>

namespace scout::sampling {

namespace {

bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::string_view kLiterals[3] = {"true", "false", "null"};

// Mode::Utf8's aux_: bits 0-1 the continuation bytes still expected, bits
// 2-4 which range the next one must be in (RFC 3629's table: the second byte
// after E0, ED, F0 and F4 is narrower, which excludes overlong forms,
// surrogates and code points above U+10FFFF).
constexpr uint8_t kContLo[5] = {0x80, 0xA0, 0x80, 0x90, 0x80};
constexpr uint8_t kContHi[5] = {0xBF, 0xBF, 0x9F, 0xBF, 0x8F};

// Mode::Unicode's aux_: bits 0-2 the hex digits read, then these flags.
constexpr uint8_t kFirstDigitD = 0x08;  // the escape starts with D: maybe a surrogate
constexpr uint8_t kHighSurrogate = 0x10;  // D800-DBFF: a low surrogate escape must follow
constexpr uint8_t kWantLow = 0x20;        // this escape must be a low surrogate (DC00-DFFF)

}  // namespace

JsonPrefix::JsonPrefix(int max_whitespace_run) {
  if (max_whitespace_run < 0 || max_whitespace_run > 15)
    throw std::invalid_argument("JsonPrefix: the whitespace run limit must be 0..15");
  ws_limit_ = static_cast<uint8_t>(max_whitespace_run);
}

JsonPrefix::Key JsonPrefix::key() const {
  return {static_cast<uint64_t>(stack_) | static_cast<uint64_t>(depth_) << 32 |
              static_cast<uint64_t>(mode_) << 38 | static_cast<uint64_t>(aux_) << 43 |
              static_cast<uint64_t>(key_) << 51 | static_cast<uint64_t>(ws_) << 52 |
              static_cast<uint64_t>(ws_limit_) << 56,
          static_cast<uint32_t>(num_) | static_cast<uint32_t>(exp_) << 16};
}

bool JsonPrefix::start_exponent() {
  mode_ = Mode::ExpMark;
  num_ = static_cast<uint16_t>(kMaxMagnitude - num_);  // what a positive exponent may add
  exp_ = 0;
  return true;
}

bool JsonPrefix::exponent_digit(uint8_t c) {
  if (aux_) return true;  // negative: small numbers round to zero, never overflow
  const int e = exp_ * 10 + (c - '0');
  if (e > num_) return false;
  exp_ = static_cast<uint16_t>(e);
  return true;
}

bool JsonPrefix::end_number(uint8_t c) {
  num_ = exp_ = 0;
  aux_ = 0;
  end_value();  // c is the next token
  return structural(c);
}

bool JsonPrefix::feed(std::string_view bytes) {
  JsonPrefix t = *this;
  if (!t.feed_unchecked(bytes)) return false;
  *this = t;
  return true;
}

bool JsonPrefix::push(bool array) {
  if (depth_ >= kMaxDepth) return false;
  if (array) stack_ |= 1u << depth_;
  ++depth_;
  mode_ = array ? Mode::ValueOrClose : Mode::KeyOrClose;
  return true;
}

bool JsonPrefix::pop(bool array) {
  const uint32_t top = 1u << (depth_ - 1);  // depth_ >= 1 in every mode that closes
  if (((stack_ & top) != 0) != array) return false;
  stack_ &= ~top;
  --depth_;
  mode_ = depth_ == 0 ? Mode::Done : Mode::AfterValue;
  return true;
}

bool JsonPrefix::value_start(uint8_t c) {
  switch (c) {
    case '{': return push(false);
    case '[': return push(true);
    case '"': mode_ = Mode::String; key_ = false; return true;
    case '-': mode_ = Mode::Minus; return true;
    case '0': mode_ = Mode::Zero; num_ = 1; return true;
    case 't': mode_ = Mode::Literal; aux_ = 0 << 4 | 1; return true;
    case 'f': mode_ = Mode::Literal; aux_ = 1 << 4 | 1; return true;
    case 'n': mode_ = Mode::Literal; aux_ = 2 << 4 | 1; return true;
    default:
      if (c >= '1' && c <= '9') {
        mode_ = Mode::Int;
        num_ = 1;
        return true;
      }
      return false;
  }
}

bool JsonPrefix::structural(uint8_t c) {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
    if (ws_ >= ws_limit_) return false;
    ++ws_;
    return true;
  }
  ws_ = 0;
  switch (mode_) {
    case Mode::Start: return c == '{' && push(false);
    case Mode::KeyOrClose:
      if (c == '}') return pop(false);
      [[fallthrough]];
    case Mode::Key:
      if (c != '"') return false;
      mode_ = Mode::String;
      key_ = true;
      return true;
    case Mode::Colon:
      if (c != ':') return false;
      mode_ = Mode::Value;
      return true;
    case Mode::ValueOrClose:
      if (c == ']') return pop(true);
      [[fallthrough]];
    case Mode::Value: return value_start(c);
    case Mode::AfterValue:
      if (c == ',') {
        mode_ = (stack_ >> (depth_ - 1)) & 1 ? Mode::Value : Mode::Key;
        return true;
      }
      if (c == '}') return pop(false);
      if (c == ']') return pop(true);
      return false;
    default: return false;
  }
}

bool JsonPrefix::step(uint8_t c) {
  switch (mode_) {
    case Mode::String:
      if (c == '"') {
        mode_ = key_ ? Mode::Colon : Mode::AfterValue;
        key_ = false;
        return true;
      }
      if (c == '\\') {
        mode_ = Mode::Escape;
        return true;
      }
      if (c < 0x20) return false;
      if (c < 0x80) return true;
      if (c >= 0xC2 && c <= 0xDF) aux_ = 1;
      else if (c == 0xE0) aux_ = 2 | 1 << 2;
      else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) aux_ = 2;
      else if (c == 0xED) aux_ = 2 | 2 << 2;
      else if (c == 0xF0) aux_ = 3 | 3 << 2;
      else if (c >= 0xF1 && c <= 0xF3) aux_ = 3;
      else if (c == 0xF4) aux_ = 3 | 4 << 2;
      else return false;  // a continuation byte, C0, C1 or F5-FF
      mode_ = Mode::Utf8;
      return true;

    case Mode::Utf8: {
      const int range = aux_ >> 2;
      if (c < kContLo[range] || c > kContHi[range]) return false;
      const uint8_t left = static_cast<uint8_t>((aux_ & 3) - 1);
      aux_ = left;  // any later byte: the full 80-BF range
      if (left == 0) mode_ = Mode::String;
      return true;
    }

    case Mode::Escape:
      switch (c) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          mode_ = Mode::String;
          return true;
        case 'u':
          mode_ = Mode::Unicode;
          aux_ = 0;
          return true;
        default: return false;
      }

    case Mode::Unicode: {
      const int v = hex_value(c);
      if (v < 0) return false;
      const int n = aux_ & 7;
      uint8_t flags = aux_ & ~7;
      if (n == 0) {
        if (v == 0xD) flags |= kFirstDigitD;
        else if (flags & kWantLow) return false;
      } else if (n == 1 && (flags & kFirstDigitD)) {
        const bool high = v >= 0x8 && v <= 0xB, low = v >= 0xC;
        if (flags & kWantLow) {
          if (!low) return false;
        } else if (low) {
          return false;  // a low surrogate without its high one
        } else if (high) {
          flags |= kHighSurrogate;
        }
      }
      if (n + 1 < 4) {
        aux_ = static_cast<uint8_t>(flags | (n + 1));
        return true;
      }
      aux_ = 0;
      mode_ = (flags & kHighSurrogate) ? Mode::PairBackslash : Mode::String;
      return true;
    }

    case Mode::PairBackslash:
      if (c != '\\') return false;
      mode_ = Mode::PairU;
      return true;
    case Mode::PairU:
      if (c != 'u') return false;
      mode_ = Mode::Unicode;
      aux_ = kWantLow;
      return true;

    case Mode::Minus:
      if (!is_digit(c)) return false;
      mode_ = c == '0' ? Mode::Zero : Mode::Int;
      num_ = 1;
      return true;
    case Mode::Int:
      if (is_digit(c)) {
        if (num_ >= kMaxMagnitude) return false;
        ++num_;
        return true;
      }
      [[fallthrough]];
    case Mode::Zero:
      if (c == '.') {
        mode_ = Mode::Dot;
        return true;
      }
      if (c == 'e' || c == 'E') return start_exponent();
      return end_number(c);
    case Mode::Dot:
      if (!is_digit(c)) return false;
      mode_ = Mode::Frac;
      return true;
    case Mode::Frac:
      if (is_digit(c)) return true;
      if (c == 'e' || c == 'E') return start_exponent();
      return end_number(c);
    case Mode::ExpMark:
      if (c == '-' || c == '+') {
        mode_ = Mode::ExpSign;
        aux_ = c == '-';
        return true;
      }
      [[fallthrough]];
    case Mode::ExpSign:
      if (!is_digit(c)) return false;
      mode_ = Mode::Exp;
      return exponent_digit(c);
    case Mode::Exp:
      if (is_digit(c)) return exponent_digit(c);
      return end_number(c);

    case Mode::Literal: {
      const std::string_view lit = kLiterals[aux_ >> 4];
      const size_t pos = aux_ & 15;
      if (c != static_cast<uint8_t>(lit[pos])) return false;
      if (pos + 1 == lit.size()) {
        aux_ = 0;
        end_value();
      } else {
        aux_ = static_cast<uint8_t>((aux_ & 0xF0) | (pos + 1));
      }
      return true;
    }

    case Mode::Done: return false;
    default: return structural(c);
  }
}

}  // namespace scout::sampling
