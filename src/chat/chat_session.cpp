#include "chat/chat_session.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <nlohmann/json.hpp>

#include "engine/kv_snapshot.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
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
  // Image rows have no token to store; /load evaluates such a conversation anew.
  if (std::find(held_.begin(), held_.end(), -1) != held_.end()) return false;
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

const vision::EncodedImage& ChatSession::image(const std::string& path) {
  if (auto it = images_.find(path); it != images_.end()) return it->second;
  if (!vision_.encoder) throw std::runtime_error(path + ": images need a vision projector (--mmproj)");
  const auto t0 = std::chrono::steady_clock::now();
  vision::EncodedImage im = vision::encode_image_at(*vision_.encoder, path, path, vision_.layout);
  spdlog::info("image {}: {} tiles encoded in {:.2f} s", path, im.n_tiles,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return images_.emplace(path, std::move(im)).first->second;
}

vision::MediaPrompt ChatSession::media_prompt(std::string_view text, const Conversation& conv, size_t first,
                                              bool starts_prompt) {
  std::vector<const vision::EncodedImage*> images;
  for (size_t i = first; i < conv.messages.size(); ++i)
    for (const std::string& path : conv.messages[i].images) images.push_back(&image(path));
  return vision::build_media_prompt(tok_, text, images, session_.model().hparams().d_model, vision_.layout,
                                    starts_prompt);
}

std::optional<vision::MediaPrompt> ChatSession::extension(const Conversation& conv) {
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
  return media_prompt(text, conv, held.messages.size(), /*starts_prompt=*/false);
}

vision::MediaPrompt ChatSession::fit_whole(Conversation& conv, uint64_t room) {
  const uint64_t n_ctx = session_.n_ctx();
  auto build = [&](const Conversation& c) { return media_prompt(tmpl_.render(c.for_template()), c, 0, true); };
  vision::MediaPrompt p = build(conv);
  if (static_cast<uint64_t>(p.n_positions()) + room <= n_ctx) return p;
  // Check the last message alone first, so a message too long for any history
  // leaves the conversation as it was.
  Conversation last{conv.system, {conv.messages.back()}};
  const int64_t alone = build(last).n_positions();
  if (static_cast<uint64_t>(alone) >= n_ctx)
    throw std::runtime_error(fmt::format("the message does not fit the context: {} positions with the template{}, "
                                         "context {}",
                                         alone, conv.messages.back().images.empty() ? "" : " and its images", n_ctx));
  while (static_cast<uint64_t>(p.n_positions()) + room > n_ctx) {
    const size_t n = conv.drop_oldest_turn();
    if (n == 0) break;
    stats_.dropped += n;
    p = build(conv);
  }
  if (stats_.dropped > 0)
    spdlog::warn("context full: dropped the oldest {} messages (the system prompt stays); {} remain",
                 stats_.dropped, conv.messages.size());
  return p;
}

namespace {

// The prompt without its first n positions, all text tokens of its first chunk.
void drop_front(vision::MediaPrompt& p, size_t n) {
  std::vector<int32_t>& first = p.chunks.front().tokens;
  first.erase(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(n));
  if (first.empty()) p.chunks.erase(p.chunks.begin());
}

}  // namespace

engine::GenerateResult ChatSession::respond(Conversation& conv, const engine::GenerateOptions& opts,
                                            const std::function<void(std::string_view)>& on_text) {
  if (conv.messages.empty() || conv.messages.back().role != "user")
    throw std::runtime_error("a chat turn needs the user's message last");
  stats_ = {};
  const uint64_t room = reply_room(opts.max_tokens, session_.n_ctx());
  std::optional<vision::MediaPrompt> prompt = extension(conv);
  if (!prompt || held_.size() + static_cast<uint64_t>(prompt->n_positions()) + room > session_.n_ctx()) {
    vision::MediaPrompt whole = fit_whole(conv, room);
    const std::vector<int32_t> positions = whole.positions();
    // The session's text-only start can stay when the whole prompt begins with it.
    const bool held_text_only = std::find(held_.begin(), held_.end(), -1) == held_.end();
    if (!held_.empty() && held_text_only && held_.size() < positions.size() && held_.size() == session_.n_past() &&
        starts_with(positions, held_)) {
      drop_front(whole, held_.size());
    } else {
      reset();
      stats_.full_prompt = true;
    }
    prompt = std::move(whole);
  }
  stats_.reused = held_.size();
  stats_.evaluated = static_cast<size_t>(prompt->n_positions());
  spdlog::debug("chat turn: {} positions reused from the session, {} evaluated{}", stats_.reused, stats_.evaluated,
                stats_.full_prompt ? " (whole conversation)" : "");

  // Until the turn is done the session's contents are uncertain (eval may throw).
  held_conv_.reset();
  const std::vector<int32_t> text = prompt->text_tokens();  // what sampling penalties see
  engine::GenerateResult r;
  if (prompt->has_images()) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<float> logits = vision::eval_media_prompt(session_, *prompt);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r = engine::generate(session_, tok_, text, opts, on_text, logits);
    r.prompt_seconds = seconds;
  } else {
    r = engine::generate(session_, tok_, text, opts, on_text);
  }
  const std::vector<int32_t> positions = prompt->positions();
  held_.insert(held_.end(), positions.begin(), positions.end());
  held_.insert(held_.end(), r.ids.begin(), r.ids.end());
  held_.resize(session_.n_past());  // the last sampled token is not evaluated
  conv.messages.push_back({"assistant", trim(r.text), {}});
  held_conv_ = conv;
  return r;
}

}  // namespace scout::chat
