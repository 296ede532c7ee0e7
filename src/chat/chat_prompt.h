// From rendered chat text to prompt tokens. The text carries the format's own
// BOS text where it has one (see chat_template.h), so it is encoded without
// adding BOS; a BOS is put first only when the model's vocabulary asks for one
// (tokenizer add_bos) and the format did not write it (chatml): never twice.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace scout::chat {

std::vector<int32_t> encode_chat_text(const tokenizer::Tokenizer& tok, std::string_view text);

// The messages of a one-shot prompt: the system message when not empty, then `user`.
std::vector<Message> single_turn(const std::string& system, const std::string& user);

}  // namespace scout::chat
