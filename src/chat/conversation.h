// A chat conversation: the system prompt and the messages so far, and its JSON
// form for /save and /load: {"system": "...", "messages": [{"role": "user",
// "content": "...", "images": ["photo.png"]}, ...]} ("images" only when a
// message has some).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

#include "chat/chat_template.h"

namespace scout::chat {

struct Conversation {
  std::string system;             // empty: none
  std::vector<Message> messages;  // user and assistant, in order

  // What a template renders: the system message (when not empty), then the messages.
  std::vector<Message> for_template() const;

  // Drops the oldest exchange: the first message and what follows it up to the
  // next user message. The system prompt and the last message always stay.
  // Returns how many messages went.
  size_t drop_oldest_turn();

  nlohmann::ordered_json to_json() const;  // keys in the documented order
  // Throws std::runtime_error naming what is wrong (`what` prefixes it).
  static Conversation from_json(const nlohmann::json& j, const std::string& what);

  // Throws std::runtime_error naming the file on failure.
  void save(const std::string& path) const;
  static Conversation load(const std::string& path);

  bool operator==(const Conversation&) const = default;
};

}  // namespace scout::chat
