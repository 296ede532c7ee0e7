// Chat templates: a conversation (system, user and assistant messages) turned
// into the prompt text an instruct model was trained on, special-token text
// included ("<|header_start|>", "<s>", ...).
//
// The rendered text is meant for Tokenizer::encode(text, add_bos = false,
// parse_special = true): formats that start with a BOS write its text
// ("<|begin_of_text|>", "<s>") themselves. The duplicate-BOS pitfall: encoding
// with add_bos = true as well gives two BOS tokens, which instruct models
// answer noticeably worse to. encode_chat_text() (chat/chat_prompt.h) does it
// right and is what callers should use.
//
// Formats (name: source of the definition):
//   llama4  Meta's Llama 4 instruct template (shared doc, llama.cpp llama4)
//   llama3  Meta's Llama 3 instruct template (llama.cpp llama3)
//   llama2  Meta's Llama 2 chat template (Hugging Face Llama-2-chat): <<SYS>> in
//           the first [INST], every exchange wrapped in <s> ... </s>
//   chatml  <|im_start|>ROLE\nCONTENT<|im_end|>\n (OpenAI ChatML; llama.cpp chatml)
//   mistral Mistral tokenizer-v1 instruct format (Mistral 7B Instruct v0.1/v0.2,
//           Mixtral 8x7B; mistral-common, llama.cpp mistral-v1): the system
//           prompt is prepended to the first user message
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace scout::gguf {
class GgufFile;
}

namespace scout::chat {

struct Message {
  std::string role;  // "system", "user", "assistant" (other roles render as the format allows)
  std::string content;
  // Images in the message, in order: where each goes, content has a
  // <__media__> marker (vision/media_prompt.h). A path or a data: URI.
  std::vector<std::string> images = {};
  bool operator==(const Message&) const = default;
};

enum class TemplateKind { Llama4, Llama3, Llama2, ChatML, Mistral };

class ChatTemplate {
 public:
  // By name ("llama4", ...); throws std::runtime_error listing the known names.
  static ChatTemplate by_name(std::string_view name);
  // Recognises a Jinja tokenizer.chat_template by distinctive substrings;
  // nullopt when none matches.
  static std::optional<ChatTemplate> detect(std::string_view jinja);
  // The template for a model file: `override_name` when not empty, llama4 for
  // llama4 files, else detected from tokenizer.chat_template. Throws
  // std::runtime_error naming the file when nothing fits.
  static ChatTemplate for_model(const gguf::GgufFile& file, std::string_view override_name = {});

  explicit ChatTemplate(TemplateKind kind) : kind_(kind) {}
  TemplateKind kind() const { return kind_; }
  const char* name() const;

  // The prompt text for `messages`; with add_generation_prompt, followed by
  // the opening of the assistant's reply, so the model writes the reply next.
  // Every format here is append-only: rendering more messages only appends text.
  std::string render(std::span<const Message> messages, bool add_generation_prompt = true) const;

  // The text that closes an assistant message after its content. A reply that
  // ended at an end-of-turn token has sampled, but not evaluated, its start.
  std::string assistant_close() const;
  // Special-token texts that end an assistant turn (they stop generation).
  std::vector<std::string> end_of_turn_texts() const;

 private:
  TemplateKind kind_;
};

// "llama4, llama3, llama2, chatml, mistral".
const std::vector<std::string>& template_names();

// Trims ASCII whitespace at both ends, as Jinja's `trim` and Python's strip().
std::string trim(std::string_view s);

}  // namespace scout::chat
