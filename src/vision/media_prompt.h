// A prompt with images in it: text and image rows in order, as the text model
// reads them (shared/docs/llama4-vision.md, "Prompt layout"). The rendered
// chat text holds a marker where each image goes; llama.cpp's layout puts
// <|image_start|>, the image's embedding rows (each tile's 144, grid tiles
// then the overview) and <|image_end|> there, one position per row. Meta's
// adds <|tile_x_separator|> between the tiles of a grid row,
// <|tile_y_separator|> after each grid row and <|image|> before the global
// tile (or before the only tile of a small image).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/session.h"
#include "tokenizer/tokenizer.h"
#include "vision/image_embedding.h"

namespace scout::vision {

inline constexpr std::string_view kMediaMarker = "<__media__>";

// A run of text tokens or of image rows ([rows][d_model] embeddings).
struct PromptChunk {
  std::vector<int32_t> tokens;
  std::vector<float> embeddings;
  int64_t rows = 0;  // image rows; 0 for text

  bool is_image() const { return rows > 0; }
};

struct MediaPrompt {
  std::vector<PromptChunk> chunks;

  int64_t n_positions() const;
  bool has_images() const;
  // One entry per position: the token id, or -1 where an image row goes (llama.cpp's prompt_ids).
  std::vector<int32_t> positions() const;
  // The text tokens only (what sampling penalties see).
  std::vector<int32_t> text_tokens() const;
};

// The text with `images` markers placed: the user's own markers when the text
// has exactly that many, else that many put before the text (llama.cpp's
// multimodal CLI puts images first in the user turn). A count that is
// neither is a std::runtime_error.
std::string place_media_markers(const std::string& text, size_t images);

// The chat-rendered text (markers in it) tokenized around the markers, each
// marker replaced by image i's rows (d values each) framed as `layout` says.
// Throws std::runtime_error when the vocabulary lacks the layout's image
// tokens or the marker count differs from the images' (with no images,
// markers are left as text). `starts_prompt`: the
// text begins the sequence (a BOS goes first as for any chat prompt); false
// for text that continues one (a chat's next turn).
MediaPrompt build_media_prompt(const tokenizer::Tokenizer& tok, std::string_view rendered,
                               const std::vector<const EncodedImage*>& images, int64_t d,
                               VisionLayout layout = VisionLayout::LlamaCpp, bool starts_prompt = true);

// The id of a special token written as text ("<|image_start|>"), or -1 when
// the vocabulary does not have it as one token.
int32_t special_token_id(const tokenizer::Tokenizer& tok, std::string_view text);

// Evaluates the chunks in order on `seq`; the logits after the last one.
std::vector<float> eval_media_prompt(engine::Session& session, const MediaPrompt& prompt, uint32_t seq = 0);

}  // namespace scout::vision
