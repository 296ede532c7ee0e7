#include "vision/media_prompt.h"

#include <fmt/format.h>

#include <stdexcept>

#include "chat/chat_prompt.h"

namespace scout::vision {

namespace {

size_t count_markers(std::string_view text) {
  size_t n = 0;
  for (size_t at = text.find(kMediaMarker); at != std::string_view::npos; at = text.find(kMediaMarker, at + 1)) ++n;
  return n;
}

}  // namespace

int64_t MediaPrompt::n_positions() const {
  int64_t n = 0;
  for (const PromptChunk& c : chunks) n += c.is_image() ? c.rows : static_cast<int64_t>(c.tokens.size());
  return n;
}

std::vector<int32_t> MediaPrompt::positions() const {
  std::vector<int32_t> out;
  for (const PromptChunk& c : chunks) {
    if (c.is_image()) out.insert(out.end(), static_cast<size_t>(c.rows), -1);
    else out.insert(out.end(), c.tokens.begin(), c.tokens.end());
  }
  return out;
}

std::vector<int32_t> MediaPrompt::text_tokens() const {
  std::vector<int32_t> out;
  for (const PromptChunk& c : chunks) out.insert(out.end(), c.tokens.begin(), c.tokens.end());
  return out;
}

std::string place_media_markers(const std::string& text, size_t images) {
  const size_t have = count_markers(text);
  if (have == images) return text;
  if (have != 0)
    throw std::runtime_error(fmt::format("the prompt has {} {} markers for {} image{}", have, kMediaMarker, images,
                                         images == 1 ? "" : "s"));
  std::string out;
  for (size_t i = 0; i < images; ++i) out += kMediaMarker;
  return out + text;
}

int32_t special_token_id(const tokenizer::Tokenizer& tok, std::string_view text) {
  const std::vector<int32_t> ids = tok.encode(text, /*add_bos=*/false, /*parse_special=*/true);
  return ids.size() == 1 && tok.token_text(ids[0]) == text ? ids[0] : -1;
}

MediaPrompt build_media_prompt(const tokenizer::Tokenizer& tok, const std::string& rendered,
                               const std::vector<std::vector<float>>& image_rows, int64_t d) {
  if (count_markers(rendered) != image_rows.size())
    throw std::runtime_error(fmt::format("the prompt has {} {} markers for {} images", count_markers(rendered),
                                         kMediaMarker, image_rows.size()));
  const int32_t start = special_token_id(tok, "<|image_start|>"), end = special_token_id(tok, "<|image_end|>");
  if (!image_rows.empty() && (start < 0 || end < 0))
    throw std::runtime_error("the text model's vocabulary has no <|image_start|>/<|image_end|> tokens: it does not take images");

  MediaPrompt p;
  auto text = [&](std::vector<int32_t> ids) {
    if (ids.empty()) return;
    if (!p.chunks.empty() && !p.chunks.back().is_image()) {
      p.chunks.back().tokens.insert(p.chunks.back().tokens.end(), ids.begin(), ids.end());
    } else {
      p.chunks.push_back({std::move(ids), {}, 0});
    }
  };
  size_t at = 0;
  for (size_t i = 0;; ++i) {
    const size_t m = rendered.find(kMediaMarker, at);
    const std::string_view piece = std::string_view(rendered).substr(at, m == std::string::npos ? std::string::npos : m - at);
    // The first piece carries the BOS (as for text prompts); later ones are bare.
    text(i == 0 ? chat::encode_chat_text(tok, piece) : tok.encode(piece, false, true));
    if (m == std::string::npos) break;
    const std::vector<float>& rows = image_rows[i];
    if (rows.empty() || rows.size() % static_cast<size_t>(d) != 0)
      throw std::logic_error(fmt::format("image {}: {} embedding values are not rows of {}", i + 1, rows.size(), d));
    text({start});
    p.chunks.push_back({{}, rows, static_cast<int64_t>(rows.size()) / d});
    text({end});
    at = m + kMediaMarker.size();
  }
  return p;
}

std::vector<float> eval_media_prompt(engine::Session& session, const MediaPrompt& prompt) {
  std::vector<float> logits;
  for (size_t i = 0; i < prompt.chunks.size(); ++i) {
    const PromptChunk& c = prompt.chunks[i];
    const bool last = i + 1 == prompt.chunks.size();
    if (c.is_image()) logits = session.eval_embeddings(c.embeddings, 0, last);
    else logits = session.eval(c.tokens);
  }
  return logits;
}

}  // namespace scout::vision
