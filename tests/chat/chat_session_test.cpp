// Chat turns on one session (the embedded default model, greedy): a turn that
// extends the conversation evaluates only its new tokens and continues exactly
// as evaluating everything at once would; cancelled replies, edited histories
// and a full context.
#include <gtest/gtest.h>

#include <memory>

#include "chat/chat_prompt.h"
#include "chat/chat_session.h"
#include "chat/turn_end_tokenizer.h"
#include "models/model.h"
#include "engine/generate.h"
#include "engine/session.h"
#include "test_util.h"

namespace scout::chat {
namespace {

class ChatSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = Model::load(test::default_model_path());
    tmpl_ = std::make_unique<ChatTemplate>(ChatTemplate::for_model(model_->file()));
    tok_ = stop_at_turn_end(tokenizer::Tokenizer::from_gguf(model_->file()), *tmpl_);
  }
  engine::SessionOptions ctx(uint64_t n) {
    engine::SessionOptions so;
    so.n_ctx = n;
    return so;
  }
  static engine::GenerateOptions greedy(int64_t n) {
    engine::GenerateOptions go;
    go.max_tokens = n;
    go.sampler.temperature = 0;
    return go;
  }
  size_t count(const std::string& text) const { return tok_->encode(text, false, true).size(); }

  std::unique_ptr<Model> model_;
  std::unique_ptr<ChatTemplate> tmpl_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
};

TEST_F(ChatSessionTest, ExtendingTurnEvaluatesOnlyItsNewTokens) {
  ASSERT_EQ(tmpl_->kind(), TemplateKind::Llama4);
  engine::Session session(*model_, ctx(1024));
  ChatSession chat(session, *tok_, *tmpl_);
  Conversation conv{"Be brief.", {{"user", "Hello there"}}};
  const std::string first_prompt = tmpl_->render(conv.for_template());
  chat.respond(conv, greedy(8));
  EXPECT_TRUE(chat.last_turn().full_prompt);
  EXPECT_EQ(chat.last_turn().reused, 0u);
  EXPECT_EQ(chat.last_turn().evaluated, encode_chat_text(*tok_, first_prompt).size());
  ASSERT_EQ(conv.messages.size(), 2u);
  EXPECT_EQ(conv.messages[1].role, "assistant");
  const size_t held = chat.held_tokens().size();
  EXPECT_EQ(held, session.n_past());

  conv.messages.push_back({"user", "Second message"});
  const engine::GenerateResult r2 = chat.respond(conv, greedy(8));
  const TurnStats& s = chat.last_turn();
  EXPECT_FALSE(s.full_prompt);
  EXPECT_EQ(s.reused, held);
  // The reply's close (sampled or not, never evaluated), the new message, the header.
  EXPECT_EQ(s.evaluated, count("<|eot|><|header_start|>user<|header_end|>\n\nSecond message<|eot|>"
                               "<|header_start|>assistant<|header_end|>\n\n"));
  EXPECT_EQ(chat.held_tokens().size(), session.n_past());

  // Reusing the cache is the same as evaluating the whole sequence at once.
  const std::vector<int32_t> whole(chat.held_tokens().begin(),
                                   chat.held_tokens().begin() + static_cast<std::ptrdiff_t>(s.reused + s.evaluated));
  engine::Session fresh(*model_, ctx(1024));
  const engine::GenerateResult again = engine::generate(fresh, *tok_, whole, greedy(8));
  EXPECT_EQ(again.ids, r2.ids);
}

TEST_F(ChatSessionTest, CancelledReplyKeepsTheSessionUsable) {
  engine::Session session(*model_, ctx(1024));
  ChatSession chat(session, *tok_, *tmpl_);
  Conversation conv{"", {{"user", "Tell me a long story"}}};
  engine::GenerateOptions go = greedy(1000);
  int asked = 0;
  go.should_stop = [&] { return ++asked > 3; };
  const engine::GenerateResult r = chat.respond(conv, go);
  EXPECT_EQ(r.stop_reason, engine::StopReason::Cancelled);
  EXPECT_EQ(r.ids.size(), 3u);
  EXPECT_EQ(chat.held_tokens().size(), session.n_past());  // every sampled token was evaluated
  conv.messages.push_back({"user", "Go on"});
  chat.respond(conv, greedy(4));
  EXPECT_FALSE(chat.last_turn().full_prompt);
  EXPECT_EQ(chat.last_turn().evaluated,
            count("<|eot|><|header_start|>user<|header_end|>\n\nGo on<|eot|><|header_start|>assistant<|header_end|>\n\n"));
}

TEST_F(ChatSessionTest, EditedHistoryOrResetEvaluatesEverything) {
  engine::Session session(*model_, ctx(1024));
  ChatSession chat(session, *tok_, *tmpl_);
  Conversation conv{"", {{"user", "One"}}};
  chat.respond(conv, greedy(4));
  conv.messages[1].content = "an edited reply";
  conv.messages.push_back({"user", "Two"});
  chat.respond(conv, greedy(4));
  EXPECT_TRUE(chat.last_turn().full_prompt);
  EXPECT_EQ(chat.last_turn().evaluated, encode_chat_text(*tok_, tmpl_->render(
      std::vector<Message>(conv.messages.begin(), conv.messages.end() - 1))).size());
  chat.reset();
  EXPECT_EQ(session.n_past(), 0u);
  conv.messages.push_back({"user", "Three"});
  chat.respond(conv, greedy(4));
  EXPECT_TRUE(chat.last_turn().full_prompt);
}

TEST_F(ChatSessionTest, FullContextDropsTheOldestTurnsAndKeepsTheSystemPrompt) {
  engine::Session session(*model_, ctx(160));
  ChatSession chat(session, *tok_, *tmpl_);
  Conversation conv{"Be brief.", {}};
  size_t dropped = 0;
  for (int turn = 0; turn < 8; ++turn) {
    conv.messages.push_back({"user", "Message number " + std::to_string(turn) + ", padded out a little."});
    chat.respond(conv, greedy(16));
    dropped += chat.last_turn().dropped;
    if (chat.last_turn().dropped > 0) EXPECT_TRUE(chat.last_turn().full_prompt);
    EXPECT_LE(session.n_past(), session.n_ctx());
    EXPECT_EQ(chat.held_tokens().size(), session.n_past());
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(conv.system, "Be brief.");
  EXPECT_EQ(conv.messages.front().role, "user");
  EXPECT_EQ(conv.messages[conv.messages.size() - 2].content, "Message number 7, padded out a little.");

  // A message that cannot fit at all is refused and leaves the conversation alone.
  const Conversation before = conv;
  conv.messages.push_back({"user", std::string(400, 'x')});
  EXPECT_THROW(chat.respond(conv, greedy(4)), std::runtime_error);
  conv.messages.pop_back();
  EXPECT_EQ(conv, before);
}

}  // namespace
}  // namespace scout::chat
