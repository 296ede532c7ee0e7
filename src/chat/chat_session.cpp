#include "chat/chat_session.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <nlohmann/json.hpp>

#include "engine/kv_snapshot.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "chat/chat_prompt.h"

namespace scout::chat {

namespace {

// Free positions a turn wants for its reply: the token limit, at most half
// the context; a quarter of it for replies without a limit.
uint64_t reply_room(int64_t max_tokens, uint64_t n_ctx) {
  if (max_tokens > 0) return std::min<uint64_t>(static_cast<uint64_t>(max_tokens), n_ctx / 2);
  return n_ctx / 4;
}

bool starts_with(const std::vector<int32_t>& ids, const std::vector<int32_t>& prefix) {
  return prefix.size() <= ids.size() && std::equal(prefix.begin(), prefix.end(), ids.begin());
}

}  // namespace

void ChatSession::reset() {
  session_.reset();
  held_.clear();
  held_conv_.reset();
}

namespace {

// Which conversation a saved cache stands for: a hash of its JSON.
uint64_t conversation_tag(const Conversation& conv) {
  const std::string text = conv.to_json().dump();
  return XXH3_64bits(text.data(), text.size());
}

}  // namespace

bool ChatSession::save_kv(const std::string& path, const Conversation& conv) const {
  if (!held_conv_ || held_.empty() || held_.size() != session_.n_past() || held_conv_->to_json() != conv.to_json())
    return false;
  engine::save_snapshot(path, session_, 0, held_, {}, conversation_tag(conv));
  return true;
}

void ChatSession::load_kv(const std::string& path, const Conversation& conv) {
  reset();
  engine::LoadedSnapshot snap = engine::load_snapshot(path, session_, 0);
  if (snap.tag != conversation_tag(conv)) {
    reset();
    throw engine::SnapshotError("it was saved for another conversation");
  }
  held_ = std::move(snap.tokens);
  held_conv_ = conv;
}

std::optional<std::vector<int32_t>> ChatSession::extension(const Conversation& conv) const {
  if (!held_conv_ || held_.empty() || held_.size() != session_.n_past()) return std::nullopt;
  const Conversation& held = *held_conv_;
  if (held.system != conv.system || held.messages.size() >= conv.messages.size() ||
      !std::equal(held.messages.begin(), held.messages.end(), conv.messages.begin()))
    return std::nullopt;
  // Every format is append-only, so the new text is what rendering the whole
  // conversation adds to rendering the held one.
  const std::string before = tmpl_.render(held.for_template(), /*add_generation_prompt=*/false);
  const std::string after = tmpl_.render(conv.for_template(), /*add_generation_prompt=*/true);
  if (after.compare(0, before.size(), before) != 0) return std::nullopt;
  std::string text = after.substr(before.size());
  // `before` ends with the close of the last reply; the session does not hold it yet.
  if (!held.messages.empty() && held.messages.back().role == "assistant") text = tmpl_.assistant_close() + text;
  return tok_.encode(text, /*add_bos=*/false, /*parse_special=*/true);
}

std::vector<int32_t> ChatSession::fit_whole(Conversation& conv, uint64_t room) {
  const uint64_t n_ctx = session_.n_ctx();
  auto encode = [&](const Conversation& c) { return encode_chat_text(tok_, tmpl_.render(c.for_template())); };
  std::vector<int32_t> ids = encode(conv);
  if (ids.size() + room <= n_ctx) return ids;
  // Check the last message alone first, so a message too long for any history
  // leaves the conversation as it was.
  Conversation last{conv.system, {conv.messages.back()}};
  const std::vector<int32_t> alone = encode(last);
  if (alone.size() >= n_ctx)
    throw std::runtime_error(fmt::format("the message does not fit the context: {} tokens with the template, context {}",
                                         alone.size(), n_ctx));
  while (ids.size() + room > n_ctx) {
    const size_t n = conv.drop_oldest_turn();
    if (n == 0) break;
    stats_.dropped += n;
    ids = encode(conv);
  }
  if (stats_.dropped > 0)
    spdlog::warn("context full: dropped the oldest {} messages (the system prompt stays); {} remain",
                 stats_.dropped, conv.messages.size());
  return ids;
}

engine::GenerateResult ChatSession::respond(Conversation& conv, const engine::GenerateOptions& opts,
                                            const std::function<void(std::string_view)>& on_text) {
  if (conv.messages.empty() || conv.messages.back().role != "user")
    throw std::runtime_error("a chat turn needs the user's message last");
  stats_ = {};
  const uint64_t room = reply_room(opts.max_tokens, session_.n_ctx());
  std::optional<std::vector<int32_t>> prompt = extension(conv);
  if (!prompt || held_.size() + prompt->size() + room > session_.n_ctx()) {
    std::vector<int32_t> whole = fit_whole(conv, room);
    if (!held_.empty() && held_.size() < whole.size() && held_.size() == session_.n_past() && starts_with(whole, held_)) {
      prompt.emplace(whole.begin() + static_cast<std::ptrdiff_t>(held_.size()), whole.end());
    } else {
      reset();
      stats_.full_prompt = true;
      prompt = std::move(whole);
    }
  }
  stats_.reused = held_.size();
  stats_.evaluated = prompt->size();
  spdlog::debug("chat turn: {} tokens reused from the session, {} evaluated{}", stats_.reused, stats_.evaluated,
                stats_.full_prompt ? " (whole conversation)" : "");

  // Until the turn is done the session's contents are uncertain (eval may throw).
  held_conv_.reset();
  engine::GenerateResult r = engine::generate(session_, tok_, *prompt, opts, on_text);
  held_.insert(held_.end(), prompt->begin(), prompt->end());
  held_.insert(held_.end(), r.ids.begin(), r.ids.end());
  held_.resize(session_.n_past());  // the last sampled token is not evaluated
  conv.messages.push_back({"assistant", trim(r.text)});
  held_conv_ = conv;
  return r;
}

}  // namespace scout::chat
