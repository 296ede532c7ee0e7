// Meta's reference tiling of a Llama 4 image ("--vision-layout meta"), the
// preprocessing the model was trained with (shared/docs/llama4-vision.md,
// "llama.cpp versus Meta/HF", points 3-5), next to llama.cpp's (tiling.h),
// which stays the default:
//   - up to 16 tiles: every grid x * y <= 16, not llama.cpp's 3 x 3;
//   - the canvas with the smallest upscale >= 1 (else the least downscale),
//     the smallest such canvas on a tie (Meta's get_best_fit);
//   - the image is resized keeping its aspect ratio, never upscaled past the
//     tile size on a side (an image no larger than the canvas is not resized at
//     all), with Pillow's bilinear, and padded right/bottom with black;
//   - a single-tile image keeps its aspect ratio too (256x192 becomes 336x252
//     plus 84 black rows) and gets no global tile; a tiled one ends with the
//     global tile: the whole image stretched to S x S with Pillow's bilinear.
// Sources (llama-models models/llama4/preprocess.py VariableSizeImageTransform,
// chat_format.py; Pillow src/libImaging/Resample.c; torchvision's PIL resize)
// are cited in tiling_meta.cpp with what was checked in them.
#pragma once

#include <vector>

#include "vision/image.h"
#include "vision/tiling.h"

namespace scout::vision {

constexpr int kMetaMaxTiles = 16;  // chat_format.py: ChatFormat(max_num_chunks=16)

// Meta's find_supported_resolutions: for chunk counts max_tiles down to 1, the
// factor pairs (f, n/f) with f ascending, grouped by the ratio f/(n/f) in the
// order a ratio is first seen, each pair times tile_size. Meta names a pair
// (height, width), but every consumer (get_best_fit, resize_without_distortion,
// _pad, _split) reads its first element as the WIDTH; so Canvas.width is the
// first element here, which is the canvas Meta's code effectively uses. The set
// is symmetric, so only the order (irrelevant for the choice, see
// best_canvas_meta) depends on that.
std::vector<Canvas> meta_supported_canvases(int tile_size, int max_tiles = kMetaMaxTiles);

// Meta's get_best_fit (resize_to_max_canvas = False) for a width x height
// image: per canvas scale = min(cw / w, ch / h) in float32; the smallest scale
// >= 1 if any, else the largest scale < 1; among canvases with exactly that
// scale the smallest area. That smallest area is always unique (a canvas of
// equal area and scale would let a strictly smaller one reach the same scale),
// so the canvas order never matters.
Canvas best_canvas_meta(int width, int height, int tile_size, int max_tiles = kMetaMaxTiles);

// The size (width, height) Meta resizes the image to before padding it to
// `canvas` (resize_without_distortion with max_upscaling_size = tile_size, then
// get_max_res_without_distortion: in double, floor, each side at least 1).
Canvas meta_fit_size(int width, int height, Canvas canvas, int tile_size);

// Pillow's Image.resize(size, BILINEAR) of an 8-bit RGB image, bit for bit:
// antialiased triangle filter, 22-bit fixed-point weights, horizontal pass
// (only if the width changes) into an 8-bit intermediate, then vertical (only if
// the height changes). The same size gives a copy. torchvision's F.resize of a
// PIL image calls exactly this. Sizes must be positive.
Image resize_bilinear_pil(const Image& src, int width, int height);

// Meta's tiles: grid tiles row-major, then (only when there is more than one
// grid tile) the global tile. grid_x, grid_y = the canvas in tiles, also for a
// single-tile image (1 x 1; llama.cpp's tile_llamacpp leaves them 0 there).
Tiles tile_meta(const Image& image, int tile_size, int max_tiles = kMetaMaxTiles);

}  // namespace scout::vision
