#include "vision/image_embedding.h"

#include <stdexcept>

#include "vision/image_source.h"
#include "vision/tiling.h"
#include "vision/tiling_meta.h"

namespace scout::vision {

VisionLayout parse_vision_layout(const std::string& name) {
  if (name == "llamacpp") return VisionLayout::LlamaCpp;
  if (name == "meta") return VisionLayout::Meta;
  throw std::invalid_argument("unknown vision layout '" + name + "' (llamacpp or meta)");
}

Alpha alpha_for(VisionLayout layout) { return layout == VisionLayout::Meta ? Alpha::OverWhite : Alpha::Drop; }

Tiles tile_image(const Image& image, int tile_size, VisionLayout layout) {
  return layout == VisionLayout::Meta ? tile_meta(image, tile_size) : tile_llamacpp(image, tile_size);
}

TokenOrder token_order(VisionLayout layout) {
  return layout == VisionLayout::Meta ? TokenOrder::RowMajor : TokenOrder::ColumnMajor;
}

EncodedImage encode_image(const VisionEncoder& enc, const Image& image, VisionLayout layout) {
  const int S = static_cast<int>(enc.hparams().image_size);
  const Tiles t = tile_image(image, S, layout);
  EncodedImage out;
  out.n_tiles = t.tiles.size();
  if (out.n_tiles > 1) {  // a one-tile image has no grid in either layout
    out.grid_x = t.grid_x;
    out.grid_y = t.grid_y;
  }
  out.rows = enc.encode(t.tiles, token_order(layout));
  return out;
}

EncodedImage encode_image_at(const VisionEncoder& enc, const std::string& url, const std::string& name,
                             VisionLayout layout) {
  return encode_image(enc, load_image_url(url, name, alpha_for(layout)), layout);
}

std::vector<const EncodedImage*> pointers_to(const std::vector<EncodedImage>& images) {
  std::vector<const EncodedImage*> out;
  for (const EncodedImage& im : images) out.push_back(&im);
  return out;
}

}  // namespace scout::vision
