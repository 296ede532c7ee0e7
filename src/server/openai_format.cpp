#include "server/openai_format.h"

#include <chrono>
#include <random>

namespace scout::server {

std::string to_text(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

ojson error_body(int status, const std::string& message, const std::string& param, const std::string& code) {
  const char* type = status == 401   ? "authentication_error"
                     : status == 403 ? "permission_error"
                     : status == 404 ? "not_found_error"
                     : status == 503 ? "server_error"
                     : status >= 500 ? "server_error"
                                     : "invalid_request_error";
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? ojson(nullptr) : ojson(param)},
            {"code", code.empty() ? ojson(nullptr) : ojson(code)}}}};
}

ResponseHead make_head(Endpoint endpoint, const std::string& model, int top_logprobs) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string id = endpoint == Endpoint::ChatCompletions ? "chatcmpl-" : "cmpl-";
  for (int i = 0; i < 24; ++i) id += hex[rng() & 15];
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {endpoint, id, std::chrono::duration_cast<std::chrono::seconds>(now).count(), model, top_logprobs};
}

ojson usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

namespace {

std::string piece(const tokenizer::Tokenizer& tok, int32_t id) {
  const int32_t ids[1] = {id};
  return tok.decode(ids);
}

ojson bytes_of(const std::string& s) {
  ojson b = ojson::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

// Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}], "refusal": null}.
ojson chat_logprobs(const std::vector<engine::TokenLogprob>& lps, const tokenizer::Tokenizer& tok) {
  ojson content = ojson::array();
  for (const engine::TokenLogprob& lp : lps) {
    const std::string t = piece(tok, lp.id);
    ojson top = ojson::array();
    for (const auto& [id, logprob] : lp.top) {
      const std::string tt = piece(tok, id);
      top.push_back({{"token", tt}, {"logprob", logprob}, {"bytes", bytes_of(tt)}});
    }
    content.push_back({{"token", t}, {"logprob", lp.logprob}, {"bytes", bytes_of(t)}, {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

// Completions (the legacy shape): {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}.
ojson completion_logprobs(const std::vector<engine::TokenLogprob>& lps, const tokenizer::Tokenizer& tok,
                          size_t text_offset) {
  ojson tokens = ojson::array(), logprobs = ojson::array(), tops = ojson::array(), offsets = ojson::array();
  for (const engine::TokenLogprob& lp : lps) {
    const std::string t = piece(tok, lp.id);
    tokens.push_back(t);
    logprobs.push_back(lp.logprob);
    ojson top = ojson::object();
    for (const auto& [id, logprob] : lp.top) top[piece(tok, id)] = logprob;
    tops.push_back(top);
    offsets.push_back(text_offset);
    text_offset += t.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", logprobs}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

ojson logprobs_for(const ResponseHead& head, const std::vector<engine::TokenLogprob>& lps,
                   const tokenizer::Tokenizer& tok, size_t text_offset = 0) {
  if (head.top_logprobs < 0) return nullptr;
  return head.endpoint == Endpoint::ChatCompletions ? chat_logprobs(lps, tok) : completion_logprobs(lps, tok, text_offset);
}

}  // namespace

ojson completion_json(const ResponseHead& head, const std::vector<ChoiceText>& choices, const Usage& usage,
                      const tokenizer::Tokenizer& tok) {
  const bool chat = head.endpoint == Endpoint::ChatCompletions;
  ojson out = {{"id", head.id},
               {"object", chat ? "chat.completion" : "text_completion"},
               {"created", head.created},
               {"model", head.model},
               {"system_fingerprint", "scout"},
               {"choices", ojson::array()}};
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceText& c = choices[i];
    if (chat)
      out["choices"].push_back({{"index", i},
                                {"message", {{"role", "assistant"}, {"content", c.text}, {"refusal", nullptr}}},
                                {"logprobs", logprobs_for(head, c.logprobs, tok)},
                                {"finish_reason", c.finish_reason}});
    else
      out["choices"].push_back({{"index", i},
                                {"text", c.text},
                                {"logprobs", logprobs_for(head, c.logprobs, tok)},
                                {"finish_reason", c.finish_reason}});
  }
  out["usage"] = usage_json(usage);
  return out;
}

ojson chunk_json(const ResponseHead& head, uint32_t index, bool first, const std::string& text,
                 const std::optional<std::string>& finish_reason, const std::vector<engine::TokenLogprob>& logprobs,
                 const tokenizer::Tokenizer& tok, bool include_usage) {
  const bool chat = head.endpoint == Endpoint::ChatCompletions;
  ojson choice = {{"index", index}};
  if (chat) {
    ojson delta = ojson::object();
    if (first) delta["role"] = "assistant";
    if (first || !text.empty()) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = logprobs_for(head, logprobs, tok);
  choice["finish_reason"] = finish_reason ? ojson(*finish_reason) : ojson(nullptr);
  ojson out = {{"id", head.id},
               {"object", chat ? "chat.completion.chunk" : "text_completion"},
               {"created", head.created},
               {"model", head.model},
               {"system_fingerprint", "scout"},
               {"choices", ojson::array({choice})}};
  if (include_usage) out["usage"] = nullptr;
  return out;
}

ojson usage_chunk_json(const ResponseHead& head, const Usage& usage) {
  const bool chat = head.endpoint == Endpoint::ChatCompletions;
  return {{"id", head.id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", head.created},
          {"model", head.model},
          {"system_fingerprint", "scout"},
          {"choices", ojson::array()},
          {"usage", usage_json(usage)}};
}

}  // namespace scout::server
