// An image as the text model reads it: tiled, encoded and laid out in one of
// two ways (shared/docs/llama4-vision.md, "llama.cpp versus Meta/HF").
//
// - LlamaCpp (the default, proven against the oracle): llama.cpp's tiling (at
//   most 3 x 3, bicubic, centred; an overview always), column-major tokens
//   inside a tile, and only <|image_start|> / <|image_end|> around the rows.
// - Meta (the layout the model was trained with): Meta's tiling (up to 16
//   tiles, Pillow bilinear, padded right and bottom, a global tile only for
//   tiled images), row-major tokens, tile separators and <|image|> before the
//   global tile; alpha is composited over white.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vision/image.h"
#include "vision/tiling.h"
#include "vision/vision_encoder.h"

namespace scout::vision {

enum class VisionLayout { LlamaCpp, Meta };

// "llamacpp" or "meta"; anything else is a std::invalid_argument naming the choices.
VisionLayout parse_vision_layout(const std::string& name);
// How images are decoded for a layout (llama.cpp keeps the stored colours).
Alpha alpha_for(VisionLayout layout);

struct EncodedImage {
  std::vector<float> rows;  // [n_rows][d_model]: each tile's tokens, grid row-major, then the overview/global tile
  int grid_x = 0;           // the grid in tiles; 0 x 0: the image is one tile (no overview or global tile)
  int grid_y = 0;
  size_t n_tiles = 0;       // tiles encoded (grid + overview, or 1)
};

// The layout's tiling and token order.
Tiles tile_image(const Image& image, int tile_size, VisionLayout layout);
TokenOrder token_order(VisionLayout layout);

// Tiles `image` for `layout` and encodes the tiles together.
EncodedImage encode_image(const VisionEncoder& enc, const Image& image, VisionLayout layout);

// The image a url names (a data: URI or a path; vision/image_source.h),
// decoded as the layout wants its alpha, tiled and encoded. `name` is what
// errors call it.
EncodedImage encode_image_at(const VisionEncoder& enc, const std::string& url, const std::string& name,
                             VisionLayout layout);

// Pointers to each, as build_media_prompt takes them.
std::vector<const EncodedImage*> pointers_to(const std::vector<EncodedImage>& images);

}  // namespace scout::vision
