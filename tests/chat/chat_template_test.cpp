// Chat templates: each format against hand-written text, detection, and the
// append-only property the chat session's cache reuse relies on.
#include <gtest/gtest.h>

#include <memory>

#include "chat/chat_prompt.h"
#include "chat/chat_template.h"
#include "chat/turn_end_tokenizer.h"
#include "gguf/reader.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace scout::chat {
namespace {

const std::vector<Message> kConversation = {
    {"system", "You are terse."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Bye"}};

std::string render(const char* name, std::span<const Message> m, bool gen = true) {
  return ChatTemplate::by_name(name).render(m, gen);
}

TEST(ChatTemplate, Llama4) {
  EXPECT_EQ(render("llama4", kConversation),
            "<|begin_of_text|>"
            "<|header_start|>system<|header_end|>\n\nYou are terse.<|eot|>"
            "<|header_start|>user<|header_end|>\n\nHi<|eot|>"
            "<|header_start|>assistant<|header_end|>\n\nHello!<|eot|>"
            "<|header_start|>user<|header_end|>\n\nBye<|eot|>"
            "<|header_start|>assistant<|header_end|>\n\n");
  // Content is trimmed; without the generation prompt the text ends at <|eot|>.
  const std::vector<Message> one = {{"user", "  Write a haiku about experts. \n"}};
  EXPECT_EQ(render("llama4", one, false),
            "<|begin_of_text|><|header_start|>user<|header_end|>\n\nWrite a haiku about experts.<|eot|>");
}

TEST(ChatTemplate, Llama3) {
  EXPECT_EQ(render("llama3", kConversation),
            "<|begin_of_text|>"
            "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama2) {
  EXPECT_EQ(render("llama2", kConversation),
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello! </s>"
            "<s>[INST] Bye [/INST]");
  const std::vector<Message> no_system = {{"user", " Hi "}};
  EXPECT_EQ(render("llama2", no_system), "<s>[INST] Hi [/INST]");
}

TEST(ChatTemplate, ChatML) {
  EXPECT_EQ(render("chatml", kConversation),
            "<|im_start|>system\nYou are terse.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n"
            "<|im_start|>user\nBye<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, Mistral) {
  EXPECT_EQ(render("mistral", kConversation), "<s> [INST] You are terse.\n\nHi [/INST] Hello!</s> [INST] Bye [/INST]");
  const std::vector<Message> no_system = {{"user", "Hi"}};
  EXPECT_EQ(render("mistral", no_system), "<s> [INST] Hi [/INST]");
}

TEST(ChatTemplate, EveryFormatIsAppendOnlyAndClosesReplies) {
  for (const std::string& name : template_names()) {
    const ChatTemplate t = ChatTemplate::by_name(name);
    EXPECT_EQ(t.name(), name);
    const std::string full = t.render(kConversation, true);
    for (size_t k = 1; k < kConversation.size(); ++k) {
      std::span<const Message> head(kConversation.data(), k);
      EXPECT_EQ(full.rfind(t.render(head, false), 0), 0u) << name << " k=" << k;
    }
    // A reply renders as the generation prompt, its content, then the close.
    std::span<const Message> before_reply(kConversation.data(), 2);
    std::span<const Message> with_reply(kConversation.data(), 3);
    const std::string prompt = t.render(before_reply, true);
    const std::string replied = t.render(with_reply, false);
    EXPECT_EQ(replied.rfind(prompt, 0), 0u) << name;
    const std::string close = t.assistant_close();
    ASSERT_GE(replied.size(), close.size());
    EXPECT_EQ(replied.substr(replied.size() - close.size()), close) << name;
    EXPECT_FALSE(t.end_of_turn_texts().empty());
  }
}

TEST(ChatTemplate, DetectsJinjaTemplatesBySubstrings) {
  auto detected = [](std::string_view jinja) {
    std::optional<ChatTemplate> t = ChatTemplate::detect(jinja);
    return t ? std::string(t->name()) : std::string("none");
  };
  EXPECT_EQ(detected("{{- bos_token }}{{- '<|header_start|>' + message['role'] + '<|header_end|>\\n\\n' }}"), "llama4");
  EXPECT_EQ(detected("{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' %}"), "llama3");
  EXPECT_EQ(detected("{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"), "chatml");
  EXPECT_EQ(detected("{% set content = '<<SYS>>\\n' + system_message %}{{ bos_token + '[INST] ' + content }}"), "llama2");
  EXPECT_EQ(detected("{{ bos_token }}{{ '[INST] ' + message['content'] + ' [/INST]' }}"), "mistral");
  EXPECT_EQ(detected("chatml"), "chatml");
  EXPECT_EQ(detected("{{ messages }}"), "none");
}

TEST(ChatTemplate, UnknownNameListsTheKnownOnes) {
  try {
    ChatTemplate::by_name("vicuna");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "unknown chat template 'vicuna' (known: llama4, llama3, llama2, chatml, mistral)");
  }
}

TEST(ChatTemplate, Trim) {
  EXPECT_EQ(trim(" \t\na b\r\n "), "a b");
  EXPECT_EQ(trim("   "), "");
  EXPECT_EQ(trim("x"), "x");
}

// --- with the shared llama4-tiny vocabulary ---

struct TinyVocab {
  gguf::GgufFile file;
  std::unique_ptr<tokenizer::Tokenizer> tok;
};

TinyVocab tiny() {
  gguf::GgufFile f = gguf::GgufFile::open(test::shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf");
  auto tok = tokenizer::Tokenizer::from_gguf(f);
  return {std::move(f), std::move(tok)};
}

TEST(ChatPrompt, Llama4PromptTokenizesToTheExpectedStructure) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  TinyVocab v = tiny();
  const ChatTemplate t = ChatTemplate::for_model(v.file);
  EXPECT_EQ(t.kind(), TemplateKind::Llama4);
  const std::vector<int32_t> ids = encode_chat_text(*v.tok, t.render(single_turn("", "Write a haiku about experts.")));
  // shared/testdata/llama4-tiny/prompts/chat.txt is this very prompt; llama.cpp
  // tokenized it (with BOS) to expected/*-chat.json's prompt_ids.
  const std::vector<int32_t> want = {4096, 4101, 1556, 4102, 368, 67, 1929, 262, 2818, 558, 97,
                                     1509, 2279, 1420, 26,   4104, 4101, 453, 395, 503, 4102, 368};
  EXPECT_EQ(ids, want);
  EXPECT_EQ(ids[0], 4096);   // <|begin_of_text|>, once
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 4096), 1);
  EXPECT_EQ(ids[1], 4101);   // <|header_start|>
  EXPECT_EQ(ids[3], 4102);   // <|header_end|>
  EXPECT_EQ(ids[15], 4104);  // <|eot|>
  EXPECT_EQ(find_special_token(*v.tok, "<|eot|>"), 4104);
  EXPECT_EQ(find_special_token(*v.tok, "hello"), -1);
}

TEST(ChatPrompt, BosIsNeverDoubledAndAddedWhenTheFormatLacksIt) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  TinyVocab v = tiny();
  ASSERT_TRUE(v.tok->add_bos());
  // The pitfall: the rendered text already starts with the BOS text.
  const std::string text = ChatTemplate::by_name("llama4").render(single_turn("", "hi"));
  const std::vector<int32_t> doubled = v.tok->encode(text, /*add_bos=*/true, /*parse_special=*/true);
  EXPECT_EQ(doubled[0], 4096);
  EXPECT_EQ(doubled[1], 4096);
  EXPECT_EQ(encode_chat_text(*v.tok, text)[1], 4101);
  // ChatML writes no BOS; this vocabulary wants one.
  const std::vector<int32_t> chatml = encode_chat_text(*v.tok, ChatTemplate::by_name("chatml").render(single_turn("", "hi")));
  EXPECT_EQ(chatml[0], 4096);
  EXPECT_NE(chatml[1], 4096);
}

TEST(ChatPrompt, TemplateForModelFiles) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  TinyVocab v = tiny();
  EXPECT_EQ(ChatTemplate::for_model(v.file, "chatml").kind(), TemplateKind::ChatML);
  const std::string stories = test::shared_dir() + "/models/stories260K/stories260K.gguf";
  gguf::GgufFile f = gguf::GgufFile::open(stories);
  try {
    ChatTemplate::for_model(f);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(stories + ": the model has no chat template"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("llama4, llama3, llama2, chatml, mistral"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ChatTemplate::for_model(f, "llama2").kind(), TemplateKind::Llama2);
}

TEST(ChatPrompt, TurnEndTokensStopGeneration) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  // Llama 4's <|eot|> already ends generation: nothing to wrap.
  TinyVocab v = tiny();
  tokenizer::Tokenizer* raw = v.tok.get();
  std::unique_ptr<tokenizer::Tokenizer> same = stop_at_turn_end(std::move(v.tok), ChatTemplate::by_name("llama4"));
  EXPECT_EQ(same.get(), raw);
  EXPECT_TRUE(same->is_eog(4104));
  // A wrapped tokenizer adds ids and delegates the rest.
  const int32_t header_start = 4101;
  EXPECT_FALSE(same->is_eog(header_start));
  const size_t n_vocab = same->n_vocab();
  TurnEndTokenizer wrapped(std::move(same), {header_start});
  EXPECT_TRUE(wrapped.is_eog(header_start));
  EXPECT_TRUE(wrapped.is_eog(4104));
  EXPECT_FALSE(wrapped.is_eog(1556));
  EXPECT_EQ(wrapped.n_vocab(), n_vocab);
  EXPECT_EQ(wrapped.bos(), 4096);
  EXPECT_EQ(wrapped.token_bytes(header_start), "<|header_start|>");
}

}  // namespace
}  // namespace scout::chat
