#include "vision/tiling.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace scout::vision {

namespace {

// The cubic through q(-1), q(0), q(1), q(2) at t in [0, 1): coefficients
// formed in double and stored as float, the polynomial in float.
float cubic(float qm1, float q0, float q1, float q2, float t) {
  const float d0 = qm1 - q0, d2 = q1 - q0, d3 = q2 - q0;
  const auto a1 = static_cast<float>(-1.0 / 3 * d0 + d2 - 1.0 / 6 * d3);
  const auto a2 = static_cast<float>(1.0 / 2 * d0 + 1.0 / 2 * d2);
  const auto a3 = static_cast<float>(-1.0 / 6 * d0 - 1.0 / 2 * d2 + 1.0 / 6 * d3);
  return q0 + a1 * t + a2 * t * t + a3 * t * t * t;
}

}  // namespace

Image resize_bilinear_llamacpp(const Image& src, int width, int height) {
  Image out = Image::blank(width, height);
  const float sx = width > 1 ? static_cast<float>(src.width - 1) / static_cast<float>(width - 1) : 0.0f;
  const float sy = height > 1 ? static_cast<float>(src.height - 1) / static_cast<float>(height - 1) : 0.0f;
  for (int Y = 0; Y < height; ++Y) {
    const float fy = static_cast<float>(Y) * sy;
    const int y0 = std::min(static_cast<int>(fy), src.height - 1), y1 = std::min(y0 + 1, src.height - 1);
    const float ty = fy - static_cast<float>(y0);
    for (int X = 0; X < width; ++X) {
      const float fx = static_cast<float>(X) * sx;
      const int x0 = std::min(static_cast<int>(fx), src.width - 1), x1 = std::min(x0 + 1, src.width - 1);
      const float tx = fx - static_cast<float>(x0);
      for (int c = 0; c < 3; ++c) {
        const float p00 = src.at(x0, y0, c), p10 = src.at(x1, y0, c), p01 = src.at(x0, y1, c), p11 = src.at(x1, y1, c);
        const float top = p00 + (p10 - p00) * tx, bottom = p01 + (p11 - p01) * tx;
        out.at(X, Y, c) = static_cast<uint8_t>(top + (bottom - top) * ty);  // truncation, as llama.cpp
      }
    }
  }
  return out;
}

Image resize_bicubic_llamacpp(const Image& src, int width, int height) {
  Image out = Image::blank(width, height);
  const float tx = static_cast<float>(src.width) / static_cast<float>(width);
  const float ty = static_cast<float>(src.height) / static_cast<float>(height);
  auto cx = [&](int x) { return std::clamp(x, 0, src.width - 1); };
  auto cy = [&](int y) { return std::clamp(y, 0, src.height - 1); };
  for (int Y = 0; Y < height; ++Y) {
    const float fy = ty * static_cast<float>(Y);
    const int y = static_cast<int>(fy);
    const float dy = fy - static_cast<float>(y);
    for (int X = 0; X < width; ++X) {
      const float fx = tx * static_cast<float>(X);
      const int x = static_cast<int>(fx);
      const float dx = fx - static_cast<float>(x);
      for (int c = 0; c < 3; ++c) {
        float col[4];
        for (int j = 0; j < 4; ++j) {
          const int yy = cy(y - 1 + j);
          col[j] = cubic(src.at(cx(x - 1), yy, c), src.at(cx(x), yy, c), src.at(cx(x + 1), yy, c),
                         src.at(cx(x + 2), yy, c), dx);
        }
        const float v = cubic(col[0], col[1], col[2], col[3], dy);
        out.at(X, Y, c) = static_cast<uint8_t>(std::clamp(std::round(v), 0.0f, 255.0f));
      }
    }
  }
  return out;
}

Canvas best_canvas_llamacpp(int width, int height, int tile_size) {
  // Candidates x = 1..3 (outer), y = 1..3 (inner), without 1 x 1: the first
  // with the largest effective resolution, ties to strictly less waste.
  const int64_t original = int64_t{width} * height;
  Canvas best;
  int64_t best_effective = -1, best_waste = 0;
  for (int x = 1; x <= 3; ++x)
    for (int y = 1; y <= 3; ++y) {
      if (x == 1 && y == 1) continue;
      const int cw = x * tile_size, ch = y * tile_size;
      const float scale = std::min(static_cast<float>(cw) / static_cast<float>(width),
                                   static_cast<float>(ch) / static_cast<float>(height));
      const auto fw = static_cast<int64_t>(static_cast<float>(width) * scale);
      const auto fh = static_cast<int64_t>(static_cast<float>(height) * scale);
      const int64_t effective = std::min(fw * fh, original), waste = int64_t{cw} * ch - effective;
      if (effective > best_effective || (effective == best_effective && waste < best_waste)) {
        best = {cw, ch};
        best_effective = effective;
        best_waste = waste;
      }
    }
  return best;
}

Tiles tile_llamacpp(const Image& image, int S) {
  Tiles t;
  Image overview =
      image.width == S && image.height == S ? image : resize_bilinear_llamacpp(image, S, S);
  if (image.width <= S && image.height <= S) {
    t.tiles.push_back(std::move(overview));
    return t;
  }
  const Canvas c = best_canvas_llamacpp(image.width, image.height, S);
  const float scale = std::min(static_cast<float>(c.width) / static_cast<float>(image.width),
                               static_cast<float>(c.height) / static_cast<float>(image.height));
  const int nw = std::min(static_cast<int>(std::ceil(static_cast<float>(image.width) * scale)), c.width);
  const int nh = std::min(static_cast<int>(std::ceil(static_cast<float>(image.height) * scale)), c.height);
  // Centred on the black canvas.
  t = cut_into_tiles(resize_bicubic_llamacpp(image, nw, nh), c, (c.width - nw) / 2, (c.height - nh) / 2, S);
  t.tiles.push_back(std::move(overview));
  return t;
}

Tiles cut_into_tiles(const Image& image, Canvas c, int x, int y, int S) {
  Image canvas = Image::blank(c.width, c.height);
  for (int row = 0; row < image.height; ++row)
    std::copy_n(&image.rgb[static_cast<size_t>(row) * image.width * 3], static_cast<size_t>(image.width) * 3,
                &canvas.rgb[(static_cast<size_t>(row + y) * c.width + x) * 3]);
  Tiles t;
  t.grid_x = c.width / S;
  t.grid_y = c.height / S;
  for (int ty = 0; ty < t.grid_y; ++ty)
    for (int tx = 0; tx < t.grid_x; ++tx) {
      Image tile = Image::blank(S, S);
      for (int row = 0; row < S; ++row)
        std::copy_n(&canvas.rgb[(static_cast<size_t>(ty * S + row) * c.width + static_cast<size_t>(tx) * S) * 3],
                    static_cast<size_t>(S) * 3, &tile.rgb[static_cast<size_t>(row) * S * 3]);
      t.tiles.push_back(std::move(tile));
    }
  return t;
}

}  // namespace scout::vision
