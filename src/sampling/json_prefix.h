// An incremental JSON validator over bytes, for constrained decoding
// (response_format json_object): it says whether the bytes fed so far are a
// prefix of one valid JSON object (RFC 8259), and when that object is
// complete. A small pushdown state machine whose whole state is 16 bytes (the
// container stack is a bit set), so copying it once per candidate token costs
// nothing.
//
// What it accepts, beyond the RFC 8259 grammar:
//  - the top-level value must be an object ('{'); once it is closed nothing
//    more is accepted, not even whitespace;
//  - whitespace outside strings comes in runs of at most max_whitespace_run
//    bytes (0..15, default 2: enough for ", " and ": " or "\n\t", not for a
//    model looping on spaces or newlines forever; pretty-printed indentation
//    is refused); the run resets at any other byte;
//  - at most kMaxDepth nested containers (the top-level object counts);
//  - strings hold any byte >= 0x20 except '"' and '\' (control characters are
//    rejected), and must be well-formed UTF-8 (no overlong forms, no
//    surrogates, nothing above U+10FFFF): output a JSON library reads back,
//    and that a server can serialize. Escapes are the RFC's eight plus
//    \uXXXX, where a \u escape of a high surrogate (D800-DBFF) must be followed
//    at once by one of a low surrogate (DC00-DFFF) and a lone low surrogate is
//    rejected, as strict parsers (nlohmann::json) require;
//  - numbers follow the full grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
//    (no leading zeros, no '+', no bare '.'); a number ends at the next
//    whitespace, ',', '}' or ']'. So that every number is a finite double
//    (RFC 8259 section 6 lets implementations limit the range; nlohmann::json
//    and others refuse what overflows), its magnitude stays below
//    10^kMaxMagnitude: integer digits (a leading 0 counts as one) plus a
//    positive exponent at most kMaxMagnitude. Fractions and negative
//    exponents are unbounded (tiny numbers round to zero).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace scout::sampling {

class JsonPrefix {
 public:
  static constexpr int kMaxDepth = 32;
  static constexpr int kDefaultMaxWhitespaceRun = 2;
  static constexpr int kMaxMagnitude = 308;  // numbers are below 1e308

  explicit JsonPrefix(int max_whitespace_run = kDefaultMaxWhitespaceRun);

  // Appends bytes. false: the text would not be a valid prefix any more; the
  // state is then unchanged (all or nothing).
  bool feed(std::string_view bytes);
  // Whether feed(bytes) would succeed, without changing the state.
  bool accepts(std::string_view bytes) const {
    JsonPrefix t = *this;
    return t.feed_unchecked(bytes);
  }
  // Appends bytes; false as feed(), but the state is then unspecified. For
  // callers that work on a copy (one per candidate token).
  bool feed_unchecked(std::string_view bytes) {
    for (const char c : bytes)
      if (!step(static_cast<uint8_t>(c))) return false;
    return true;
  }
  bool feed_byte_unchecked(uint8_t c) { return step(c); }

  // The top-level object is finished: the text is one whole JSON object.
  bool complete() const { return mode_ == Mode::Done; }
  // Between characters of a string: what follows is string content, an
  // escape or the closing quote (not within an escape or a UTF-8 character).
  bool in_string() const { return mode_ == Mode::String; }
  // Open containers (0 before the first '{' and once complete).
  int depth() const { return depth_; }
  // The whole state packed: equal keys, equal states (for caching whatever
  // depends only on the state).
  struct Key {
    uint64_t bits;
    uint32_t number;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return static_cast<size_t>((k.bits ^ (static_cast<uint64_t>(k.number) * 0x9E3779B97F4A7C15ull)) *
                                 0xBF58476D1CE4E5B9ull >> 17);
    }
  };
  Key key() const;
  bool operator==(const JsonPrefix& o) const { return key() == o.key(); }

 private:
  enum class Mode : uint8_t {
    Start,         // before the top-level object: whitespace or '{'
    KeyOrClose,    // after '{': whitespace, '"' or '}'
    Key,           // after ',' in an object: whitespace or '"'
    Colon,         // after a key: whitespace or ':'
    Value,         // after ':' or ',' in an array: whitespace or a value
    ValueOrClose,  // after '[': whitespace, a value or ']'
    AfterValue,    // after a value in a container: whitespace, ',' or its closing bracket
    String,        // in a string (key_: an object key)
    Utf8,          // in a string, within a multi-byte character (aux_: see step())
    Escape,        // after '\'
    Unicode,       // in \uXXXX (aux_: digits read and surrogate flags)
    PairBackslash, // after a high surrogate escape: '\' of the low one must follow
    PairU,         // ... then 'u'
    Minus,         // after '-': a digit
    Zero,          // a leading 0: '.', 'e', 'E' or the end (num_ = 1)
    Int,           // [1-9][0-9]* (num_: digits read)
    Dot,           // after '.': a digit
    Frac,          // fraction digits
    ExpMark,       // after 'e'/'E': sign or digit (num_: the largest exponent allowed)
    ExpSign,       // after the exponent's sign: a digit (aux_: 1 for '-')
    Exp,           // exponent digits (exp_: the exponent so far)
    Literal,       // in true/false/null (aux_: which << 4 | characters matched)
    Done,          // the top-level object is closed
  };

  bool step(uint8_t c);
  bool structural(uint8_t c);     // the modes between tokens
  bool value_start(uint8_t c);
  bool push(bool array);
  bool pop(bool array);
  void end_value() { mode_ = Mode::AfterValue; }
  bool start_exponent();
  bool exponent_digit(uint8_t c);
  bool end_number(uint8_t c);  // c ends the number and is read as what follows

  uint32_t stack_ = 0;   // bit d: the container at depth d (0-based) is an array
  uint8_t depth_ = 0;
  Mode mode_ = Mode::Start;
  uint8_t aux_ = 0;      // the mode's detail; 0 where unused
  uint8_t ws_ = 0;       // whitespace bytes in the current run
  bool key_ = false;     // the string being read is an object key
  uint8_t ws_limit_;
  uint16_t num_ = 0;     // in a number: its integer digits, then the exponent's limit
  uint16_t exp_ = 0;     // in a positive exponent: its value so far
};

}  // namespace scout::sampling
