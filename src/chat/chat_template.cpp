#include "chat/chat_template.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <stdexcept>

#include "gguf/reader.h"

namespace scout::chat {

namespace {

struct NamedKind {
  const char* name;
  TemplateKind kind;
};
constexpr std::array<NamedKind, 5> kTemplates = {{
    {"llama4", TemplateKind::Llama4},
    {"llama3", TemplateKind::Llama3},
    {"llama2", TemplateKind::Llama2},
    {"chatml", TemplateKind::ChatML},
    {"mistral", TemplateKind::Mistral},
}};

std::string known_names() { return fmt::format("{}", fmt::join(template_names(), ", ")); }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Llama 3 and 4: a header per message, content trimmed, an end-of-turn token.
std::string render_headers(std::span<const Message> messages, bool add_generation_prompt, const char* bos,
                           const char* open, const char* close, const char* eot) {
  std::string out = bos;
  auto header = [&](std::string_view role) { out.append(open).append(role).append(close).append("\n\n"); };
  for (const Message& m : messages) {
    header(m.role);
    out += trim(m.content);
    out += eot;
  }
  if (add_generation_prompt) header("assistant");
  return out;
}

std::string render_chatml(std::span<const Message> messages, bool add_generation_prompt) {
  std::string out;
  for (const Message& m : messages)
    out.append("<|im_start|>").append(m.role).append("\n").append(m.content).append("<|im_end|>\n");
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// Llama 2 chat (Meta's reference and the Hugging Face template): each user
// message opens an exchange "<s>[INST] ... [/INST]", the reply closes it with
// " ... </s>". System text goes, in <<SYS>> markers, into the next user message.
std::string render_llama2(std::span<const Message> messages) {
  std::string out, system;
  for (const Message& m : messages) {
    if (m.role == "system") {
      system += m.content;
    } else if (m.role == "assistant") {
      out.append(" ").append(trim(m.content)).append(" </s>");
    } else {
      std::string content = m.content;
      if (!system.empty()) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
      system.clear();
      out.append("<s>[INST] ").append(trim(content)).append(" [/INST]");
    }
  }
  return out;  // the reply follows " [/INST]" directly: no generation prompt
}

// Mistral tokenizer v1: "<s> [INST] user [/INST] reply</s> [INST] ...", the
// system text prepended to the next user message.
std::string render_mistral(std::span<const Message> messages) {
  std::string out = "<s>", system;
  for (const Message& m : messages) {
    if (m.role == "system") {
      system += m.content + "\n\n";
    } else if (m.role == "assistant") {
      out.append(" ").append(m.content).append("</s>");
    } else {
      out.append(" [INST] ").append(system).append(m.content).append(" [/INST]");
      system.clear();
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string>& template_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const NamedKind& t : kTemplates) v.emplace_back(t.name);
    return v;
  }();
  return names;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

ChatTemplate ChatTemplate::by_name(std::string_view name) {
  for (const NamedKind& t : kTemplates)
    if (name == t.name) return ChatTemplate(t.kind);
  throw std::runtime_error(fmt::format("unknown chat template '{}' (known: {})", name, known_names()));
}

std::optional<ChatTemplate> ChatTemplate::detect(std::string_view jinja) {
  for (const NamedKind& t : kTemplates)
    if (jinja == t.name) return ChatTemplate(t.kind);
  auto has = [&](std::string_view s) { return jinja.find(s) != std::string_view::npos; };
  if (has("<|header_start|>")) return ChatTemplate(TemplateKind::Llama4);
  if (has("<|start_header_id|>")) return ChatTemplate(TemplateKind::Llama3);
  if (has("<|im_start|>")) return ChatTemplate(TemplateKind::ChatML);
  if (has("[INST]")) return ChatTemplate(has("<<SYS>>") ? TemplateKind::Llama2 : TemplateKind::Mistral);
  return std::nullopt;
}

ChatTemplate ChatTemplate::for_model(const gguf::GgufFile& file, std::string_view override_name) {
  if (!override_name.empty()) return by_name(override_name);
  if (file.get_string("general.architecture").value_or("") == "llama4") return ChatTemplate(TemplateKind::Llama4);
  const std::optional<std::string> jinja = file.get_string("tokenizer.chat_template");
  if (!jinja)
    throw std::runtime_error(fmt::format("{}: the model has no chat template (tokenizer.chat_template); "
                                         "name one with --chat-template ({})",
                                         file.path(), known_names()));
  if (std::optional<ChatTemplate> t = detect(*jinja)) return *t;
  throw std::runtime_error(fmt::format("{}: unrecognised tokenizer.chat_template; name one with --chat-template ({})",
                                       file.path(), known_names()));
}

const char* ChatTemplate::name() const {
  for (const NamedKind& t : kTemplates)
    if (t.kind == kind_) return t.name;
  return "unknown";
}

std::string ChatTemplate::render(std::span<const Message> messages, bool add_generation_prompt) const {
  switch (kind_) {
    case TemplateKind::Llama4:
      return render_headers(messages, add_generation_prompt, "<|begin_of_text|>", "<|header_start|>", "<|header_end|>",
                            "<|eot|>");
    case TemplateKind::Llama3:
      return render_headers(messages, add_generation_prompt, "<|begin_of_text|>", "<|start_header_id|>",
                            "<|end_header_id|>", "<|eot_id|>");
    case TemplateKind::ChatML: return render_chatml(messages, add_generation_prompt);
    case TemplateKind::Llama2: return render_llama2(messages);
    case TemplateKind::Mistral: return render_mistral(messages);
  }
  return {};
}

std::string ChatTemplate::assistant_close() const {
  switch (kind_) {
    case TemplateKind::Llama4: return "<|eot|>";
    case TemplateKind::Llama3: return "<|eot_id|>";
    case TemplateKind::ChatML: return "<|im_end|>\n";
    case TemplateKind::Llama2: return " </s>";
    case TemplateKind::Mistral: return "</s>";
  }
  return {};
}

std::vector<std::string> ChatTemplate::end_of_turn_texts() const {
  switch (kind_) {
    case TemplateKind::Llama4: return {"<|eot|>", "<|eom|>"};
    case TemplateKind::Llama3: return {"<|eot_id|>", "<|eom_id|>"};
    case TemplateKind::ChatML: return {"<|im_end|>"};
    case TemplateKind::Llama2:
    case TemplateKind::Mistral: return {"</s>"};
  }
  return {};
}

}  // namespace scout::chat
