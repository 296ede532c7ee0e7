// Strict UTF-8 scanning for the tokenizer. The pre-tokenizer hands text to
// PCRE2 with PCRE2_NO_UTF_CHECK, which is only safe on text this validator
// accepts, so it is exactly as strict as PCRE2 (no overlong forms, no
// surrogates, nothing above U+10FFFF).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace scout::tokenizer {

// Length of the valid UTF-8 sequence starting at text[pos], or 0 when the
// bytes there do not start a complete valid character.
size_t utf8_char_length(std::string_view text, size_t pos);

// Length of the longest valid UTF-8 prefix of text.substr(pos).
size_t utf8_valid_run(std::string_view text, size_t pos);

bool utf8_is_valid(std::string_view text);

// Number of trailing bytes of `text` that form the beginning of a valid
// character whose remaining bytes have not arrived yet (0..3). Bytes that can
// never complete (invalid lead or continuation) are not counted.
size_t utf8_incomplete_tail(std::string_view text);

// Appends the UTF-8 encoding of a code point (must be a valid scalar value).
void utf8_append(std::string& out, uint32_t cp);

}  // namespace scout::tokenizer
