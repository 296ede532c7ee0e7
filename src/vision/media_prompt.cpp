#include "vision/media_prompt.h"

#include <fmt/format.h>

#include <algorithm>
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

bool MediaPrompt::has_images() const {
  return std::any_of(chunks.begin(), chunks.end(), [](const PromptChunk& c) { return c.is_image(); });
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

MediaPrompt build_media_prompt(const tokenizer::Tokenizer& tok, std::string_view rendered,
                               const std::vector<const EncodedImage*>& images, int64_t d, VisionLayout layout,
                               bool starts_prompt) {
  // Without images the text is only text, markers and all (a chat on a text model may mention one).
  if (!images.empty() && count_markers(rendered) != images.size())
    throw std::runtime_error(fmt::format("the prompt has {} {} markers for {} images", count_markers(rendered),
                                         kMediaMarker, images.size()));
  // The layout's special tokens; a vocabulary without them does not take images.
  auto special = [&](std::string_view text) {
    const int32_t id = special_token_id(tok, text);
    if (id < 0)
      throw std::runtime_error(fmt::format("the text model's vocabulary has no {} token: it does not take images{}", text,
                                           layout == VisionLayout::Meta ? " in Meta's layout" : ""));
    return id;
  };
  int32_t start = -1, end = -1, image = -1, tile_x = -1, tile_y = -1;
  if (!images.empty()) {
    start = special("<|image_start|>");
    end = special("<|image_end|>");
    if (layout == VisionLayout::Meta) {
      image = special("<|image|>");
      tile_x = special("<|tile_x_separator|>");
      tile_y = special("<|tile_y_separator|>");
    }
  }

  MediaPrompt p;
  auto text = [&](std::vector<int32_t> ids) {
    if (ids.empty()) return;
    if (!p.chunks.empty() && !p.chunks.back().is_image()) {
      p.chunks.back().tokens.insert(p.chunks.back().tokens.end(), ids.begin(), ids.end());
    } else {
      p.chunks.push_back({std::move(ids), {}, 0});
    }
  };
  // Rows [first, first + n) of an image as one chunk.
  auto rows = [&](const EncodedImage& im, size_t first, size_t n) {
    const auto at = im.rows.begin() + static_cast<std::ptrdiff_t>(first * static_cast<size_t>(d));
    p.chunks.push_back({{}, std::vector<float>(at, at + static_cast<std::ptrdiff_t>(n * static_cast<size_t>(d))),
                        static_cast<int64_t>(n)});
  };
  size_t at = 0;
  for (size_t i = 0;; ++i) {
    const size_t m = images.empty() ? std::string_view::npos : rendered.find(kMediaMarker, at);
    const std::string_view piece = rendered.substr(at, m == std::string_view::npos ? std::string_view::npos : m - at);
    // The first piece of a prompt carries the BOS (as for text prompts); later ones are bare.
    text(i == 0 && starts_prompt ? chat::encode_chat_text(tok, piece) : tok.encode(piece, false, true));
    if (m == std::string_view::npos) break;
    const EncodedImage& im = *images[i];
    const size_t n_rows = im.rows.size() / static_cast<size_t>(d);
    const bool meta_grid_ok = im.grid_x > 0 ? im.n_tiles == static_cast<size_t>(im.grid_x) * im.grid_y + 1 : im.n_tiles == 1;
    if (im.n_tiles == 0 || n_rows == 0 || im.rows.size() % static_cast<size_t>(d) != 0 || n_rows % im.n_tiles != 0 ||
        (layout == VisionLayout::Meta && !meta_grid_ok))
      throw std::logic_error(fmt::format("image {}: {} values, {} tiles do not make rows of {}", i + 1, im.rows.size(),
                                         im.n_tiles, d));
    text({start});
    if (layout == VisionLayout::LlamaCpp) {
      rows(im, 0, n_rows);
    } else {
      // Meta: the grid row by row, tiles of a row apart by <|tile_x_separator|>,
      // each row closed by <|tile_y_separator|>; then <|image|> and the global tile.
      const size_t per_tile = n_rows / im.n_tiles;
      for (int y = 0; y < im.grid_y; ++y) {
        for (int x = 0; x < im.grid_x; ++x) {
          rows(im, (static_cast<size_t>(y) * im.grid_x + x) * per_tile, per_tile);
          if (x + 1 < im.grid_x) text({tile_x});
        }
        text({tile_y});
      }
      text({image});
      rows(im, (im.n_tiles - 1) * per_tile, per_tile);
    }
    text({end});
    at = m + kMediaMarker.size();
  }
  return p;
}

std::vector<float> eval_media_prompt(engine::Session& session, const MediaPrompt& prompt, uint32_t seq) {
  std::vector<float> logits;
  for (size_t i = 0; i < prompt.chunks.size(); ++i) {
    const PromptChunk& c = prompt.chunks[i];
    const bool last = i + 1 == prompt.chunks.size();
    if (c.is_image()) logits = session.eval_embeddings(c.embeddings, seq, last);
    else logits = session.eval_seq(seq, c.tokens);
  }
  return logits;
}

}  // namespace scout::vision
