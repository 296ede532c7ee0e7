#include "chat/conversation.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace scout::chat {

std::vector<Message> Conversation::for_template() const {
  std::vector<Message> out;
  out.reserve(messages.size() + 1);
  if (!system.empty()) out.push_back({"system", system});
  out.insert(out.end(), messages.begin(), messages.end());
  return out;
}

size_t Conversation::drop_oldest_turn() {
  if (messages.size() < 2) return 0;
  size_t n = 1;
  while (n + 1 < messages.size() && messages[n].role != "user") ++n;
  messages.erase(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(n));
  return n;
}

nlohmann::ordered_json Conversation::to_json() const {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Message& m : messages) {
    nlohmann::ordered_json msg = {{"role", m.role}, {"content", m.content}};
    if (!m.images.empty()) msg["images"] = m.images;
    list.push_back(std::move(msg));
  }
  return {{"system", system}, {"messages", std::move(list)}};
}

Conversation Conversation::from_json(const nlohmann::json& j, const std::string& what) {
  auto fail = [&](const std::string& why) { throw std::runtime_error(what + ": " + why); };
  if (!j.is_object()) fail("a conversation is a JSON object {\"system\": ..., \"messages\": [...]}");
  Conversation c;
  if (j.contains("system")) {
    if (!j["system"].is_string()) fail("'system' must be a string");
    c.system = j["system"].get<std::string>();
  }
  if (!j.contains("messages") || !j["messages"].is_array()) fail("'messages' must be an array");
  for (const nlohmann::json& m : j["messages"]) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      fail("each message must be an object with string 'role' and 'content'");
    Message msg{m["role"].get<std::string>(), m["content"].get<std::string>(), {}};
    if (m.contains("images")) {
      const nlohmann::json& im = m["images"];
      if (!im.is_array()) fail("'images' must be an array of image paths");
      for (const nlohmann::json& path : im) {
        if (!path.is_string()) fail("'images' must be an array of image paths");
        msg.images.push_back(path.get<std::string>());
      }
    }
    c.messages.push_back(std::move(msg));
  }
  return c;
}

void Conversation::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  // Replies of random-weight models can be any bytes: invalid UTF-8 is replaced.
  out << to_json().dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  if (!out) throw std::runtime_error(path + ": cannot write the conversation");
}

Conversation Conversation::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read the conversation");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw std::runtime_error(path + ": not valid JSON");
  return from_json(j, path);
}

}  // namespace scout::chat
