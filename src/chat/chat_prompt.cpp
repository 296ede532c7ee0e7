#include "chat/chat_prompt.h"

namespace scout::chat {

std::vector<int32_t> encode_chat_text(const tokenizer::Tokenizer& tok, std::string_view text) {
  std::vector<int32_t> ids = tok.encode(text, /*add_bos=*/false, /*parse_special=*/true);
  const int32_t bos = tok.bos();
  if (tok.add_bos() && bos >= 0 && (ids.empty() || ids.front() != bos)) ids.insert(ids.begin(), bos);
  return ids;
}

std::vector<Message> single_turn(const std::string& system, const std::string& user) {
  std::vector<Message> messages;
  if (!system.empty()) messages.push_back({"system", system});
  messages.push_back({"user", user});
  return messages;
}

}  // namespace scout::chat
