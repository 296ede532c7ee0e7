// Conversations: JSON round trips, bad files, dropping the oldest exchange.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "chat/conversation.h"
#include "test_util.h"

namespace scout::chat {
namespace {

Conversation sample() {
  return {"Be brief.", {{"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Two\nlines"}, {"assistant", "ok"}}};
}

TEST(Conversation, SaveAndLoadRoundTrip) {
  test::TempDir tmp;
  const Conversation c = sample();
  c.save(tmp.path("c.json"));
  EXPECT_EQ(Conversation::load(tmp.path("c.json")), c);
  const std::vector<uint8_t> bytes = test::read_file(tmp.path("c.json"));
  nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end());
  EXPECT_EQ(j["system"], "Be brief.");
  EXPECT_EQ(j["messages"][2]["content"], "Two\nlines");
  EXPECT_EQ(c.for_template().front(), (Message{"system", "Be brief."}));
  EXPECT_EQ(c.for_template().size(), 5u);
}

TEST(Conversation, BadFilesNameTheProblem) {
  test::TempDir tmp;
  auto load_error = [&](const std::string& text) {
    test::write_file(tmp.path("c.json"), std::vector<uint8_t>(text.begin(), text.end()));
    try {
      Conversation::load(tmp.path("c.json"));
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(load_error("{"), tmp.path("c.json") + ": not valid JSON");
  EXPECT_NE(load_error("[]").find("a conversation is a JSON object"), std::string::npos);
  EXPECT_NE(load_error("{\"messages\": 3}").find("'messages' must be an array"), std::string::npos);
  EXPECT_NE(load_error("{\"messages\": [{\"role\": \"user\"}]}").find("string 'role' and 'content'"), std::string::npos);
  EXPECT_NE(load_error("{\"system\": 1, \"messages\": []}").find("'system' must be a string"), std::string::npos);
  EXPECT_EQ(load_error("{\"messages\": []}"), "no error");  // system is optional
  try {
    Conversation::load(tmp.path("missing.json"));
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), tmp.path("missing.json") + ": cannot read the conversation");
  }
}

TEST(Conversation, DropOldestTurnKeepsSystemAndLastMessage) {
  Conversation c = sample();
  c.messages.push_back({"user", "last"});
  EXPECT_EQ(c.drop_oldest_turn(), 2u);  // "Hi" and its reply
  EXPECT_EQ(c.messages.front(), (Message{"user", "Two\nlines"}));
  EXPECT_EQ(c.drop_oldest_turn(), 2u);
  EXPECT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.drop_oldest_turn(), 0u);
  EXPECT_EQ(c.messages.front().content, "last");
  EXPECT_EQ(c.system, "Be brief.");
}

}  // namespace
}  // namespace scout::chat
