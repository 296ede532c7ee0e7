// The GPT-2 bytes-to-unicode table: byte-level BPE vocabularies are stored in
// GGUF as text by mapping every byte to a printable code point (printable
// Latin-1 bytes map to themselves, the other 68 to U+0100, U+0101, ...), so a
// token's bytes survive as a valid UTF-8 string and spaces/newlines stay
// visible ("Ġ" is a space, "Ċ" a newline).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace scout::tokenizer {

// byte -> code point (33..126, 161..172, 174..255 map to themselves).
const std::array<uint32_t, 256>& gpt2_byte_to_codepoint();
// code point -> byte, or nullopt for a code point outside the table.
std::optional<uint8_t> gpt2_codepoint_to_byte(uint32_t cp);

// Token bytes -> GGUF token string (UTF-8 of the mapped code points).
std::string gpt2_encode_bytes(std::string_view bytes);
// GGUF token string -> token bytes; nullopt when the string is not valid UTF-8
// or holds a code point outside the table.
std::optional<std::string> gpt2_decode_string(std::string_view text);

}  // namespace scout::tokenizer
