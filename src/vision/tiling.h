// From an image to the encoder's square tiles, as llama.cpp prepares a
// Llama 4 image (shared/docs/llama4-vision.md, "Preprocessing"): an overview
// (the whole image stretched to S x S with llama.cpp's bilinear) and, for an
// image larger than one tile, a grid of up to 3 x 3 tiles cut from the image
// resized into the best-fitting canvas with llama.cpp's bicubic, centred on
// black. The float steps are written as the spec states them, in float32 and
// without fused multiply-adds (CMakeLists.txt compiles tiling.cpp with
// -ffp-contract=off), so the tiles come out bit for bit as llama.cpp's.
#pragma once

#include <vector>

#include "vision/image.h"

namespace scout::vision {

struct Tiles {
  int grid_x = 0;  // tiles across and down the grid; 0 x 0 when the image fits one tile
  int grid_y = 0;
  std::vector<Image> tiles;  // S x S each: the grid row-major, then the overview
};

Tiles tile_llamacpp(const Image& image, int tile_size);

// The canvas (a multiple of the tile size, at most 3 x 3 tiles) a larger image is fitted into.
struct Canvas {
  int width = 0;
  int height = 0;
};
Canvas best_canvas_llamacpp(int width, int height, int tile_size);

// `image` pasted at (x, y) on a black canvas (whole tiles each way) and cut
// into tiles row-major: the grid part of a Tiles (both layouts use it).
Tiles cut_into_tiles(const Image& image, Canvas canvas, int x, int y, int tile_size);

// llama.cpp's resizers (clip.cpp), exposed for their tests: align-corners
// bilinear truncating to u8, and its bicubic rounding half away from zero.
Image resize_bilinear_llamacpp(const Image& src, int width, int height);
Image resize_bicubic_llamacpp(const Image& src, int width, int height);

}  // namespace scout::vision
