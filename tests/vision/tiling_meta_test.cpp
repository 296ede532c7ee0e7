// Meta's tiling (tiling_meta.h) against a plain reference of the spec written
// here independently: the canvas by enumerating every x * y <= max grid, the
// Pillow resize as dense per-output-sample filter evaluation over every input
// sample, the tiles by per-pixel index arithmetic; plus hand-computed cases
// (Meta's own docstring examples, Pillow resizes worked out on paper).
#include "vision/tiling_meta.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

// Same float semantics as the production file (no fused multiply-adds).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace scout::vision {
namespace {

constexpr int S = 336;

// A deterministic image with every byte in 1..255 (so black padding is telling).
Image noise(int w, int h, uint64_t seed) {
  Image im;
  im.width = w;
  im.height = h;
  im.rgb.resize(static_cast<size_t>(w) * h * 3);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& b : im.rgb) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(1 + x % 255);
  }
  return im;
}

Image row(std::vector<std::vector<int>> px) {  // one row of RGB pixels
  Image im;
  im.width = static_cast<int>(px.size());
  im.height = 1;
  for (const auto& p : px)
    for (int v : p) im.rgb.push_back(static_cast<uint8_t>(v));
  return im;
}

// ---- the reference ---------------------------------------------------------

// The canvas rule applied directly to every grid x * y <= max (width x tiles across).
Canvas ref_canvas(int w, int h, int tile, int max_tiles) {
  struct Cand {
    int cw, ch;
    float scale;
  };
  std::vector<Cand> all;
  for (int x = 1; x <= max_tiles; ++x)
    for (int y = 1; x * y <= max_tiles; ++y) {
      const float a = static_cast<float>(x * tile) / static_cast<float>(w);
      const float b = static_cast<float>(y * tile) / static_cast<float>(h);
      all.push_back({x * tile, y * tile, a < b ? a : b});
    }
  bool have_up = false;
  float pick = 0;
  for (const Cand& c : all)
    if (c.scale >= 1 && (!have_up || c.scale < pick)) pick = c.scale, have_up = true;
  if (!have_up)
    for (const Cand& c : all)
      if (c.scale > pick) pick = c.scale;
  Canvas best{0, 0};
  int ties = 0;
  for (const Cand& c : all) {
    if (c.scale != pick) continue;
    const long area = long{c.cw} * c.ch, best_area = long{best.width} * best.height;
    if (best.width == 0 || area < best_area) best = {c.cw, c.ch}, ties = 1;
    else if (area == best_area) ++ties;
  }
  EXPECT_EQ(ties, 1) << "two canvases of the same scale and area for " << w << "x" << h;
  return best;
}

// The resize target: each side capped at max(side, S) and the canvas side, then
// the largest aspect-keeping size inside that box (floor), at least 1.
std::pair<int, int> ref_fit(int w, int h, Canvas c, int tile) {
  const int box_w = std::min(std::max(w, tile), c.width), box_h = std::min(std::max(h, tile), c.height);
  const double by_w = static_cast<double>(box_w) / w, by_h = static_cast<double>(box_h) / h;
  int nw = box_w, nh = box_h;
  if (by_h <= by_w) nw = std::min(box_w, static_cast<int>(std::floor(w * by_h)));
  else nh = std::min(box_h, static_cast<int>(std::floor(h * by_w)));
  return {std::max(nw, 1), std::max(nh, 1)};
}

// Pillow's weights, one output sample at a time, evaluated over every input
// sample (those outside Pillow's rounded window count as zero), normalised in
// double, then to 22-bit fixed point rounded away from zero. Zeros dropped.
std::vector<std::vector<std::pair<int, long>>> ref_weights(int n_in, int n_out) {
  const double scale = static_cast<double>(n_in) / n_out;
  const double fs = std::max(scale, 1.0);
  std::vector<std::vector<std::pair<int, long>>> out(static_cast<size_t>(n_out));
  for (int o = 0; o < n_out; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = static_cast<int>(center - fs + 0.5), hi = static_cast<int>(center + fs + 0.5);
    std::vector<double> w(static_cast<size_t>(n_in), 0.0);
    double sum = 0;
    for (int i = 0; i < n_in; ++i) {
      if (i < lo || i >= hi) continue;
      const double t = std::fabs((i - center + 0.5) * (1.0 / fs));
      w[static_cast<size_t>(i)] = t < 1 ? 1 - t : 0;
      sum += w[static_cast<size_t>(i)];
    }
    for (int i = 0; i < n_in; ++i) {
      const double v = w[static_cast<size_t>(i)] / sum * 4194304.0;
      const long k = static_cast<long>(v < 0 ? v - 0.5 : v + 0.5);
      if (k != 0) out[static_cast<size_t>(o)].emplace_back(i, k);
    }
  }
  return out;
}

uint8_t ref_round(long acc) {  // (acc + 2^21) >> 22, clamped
  const long v = (acc + 2097152) >> 22;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

Image ref_resize(const Image& in, int W, int H) {
  Image cur = in;
  if (W != in.width) {  // along x, every row
    const auto k = ref_weights(in.width, W);
    Image next;
    next.width = W;
    next.height = cur.height;
    next.rgb.resize(static_cast<size_t>(W) * cur.height * 3);
    for (int y = 0; y < cur.height; ++y)
      for (int x = 0; x < W; ++x)
        for (int ch = 0; ch < 3; ++ch) {
          long acc = 0;
          for (const auto& [i, w] : k[static_cast<size_t>(x)]) acc += w * cur.at(i, y, ch);
          next.at(x, y, ch) = ref_round(acc);
        }
    cur = std::move(next);
  }
  if (H != in.height) {  // along y, every column
    const auto k = ref_weights(in.height, H);
    Image next;
    next.width = cur.width;
    next.height = H;
    next.rgb.resize(static_cast<size_t>(cur.width) * H * 3);
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < cur.width; ++x)
        for (int ch = 0; ch < 3; ++ch) {
          long acc = 0;
          for (const auto& [i, w] : k[static_cast<size_t>(y)]) acc += w * cur.at(x, i, ch);
          next.at(x, y, ch) = ref_round(acc);
        }
    cur = std::move(next);
  }
  return cur;
}

// Tile k's pixel (x, y): the canvas pixel (tx * S + x, ty * S + y), which is the
// resized image's where it covers the canvas, black elsewhere.
std::vector<Image> ref_tiles(const Image& im, int tile, int max_tiles) {
  const Canvas c = ref_canvas(im.width, im.height, tile, max_tiles);
  const auto [fw, fh] = ref_fit(im.width, im.height, c, tile);
  const Image r = ref_resize(im, fw, fh);
  const int gx = c.width / tile, gy = c.height / tile;
  std::vector<Image> out;
  for (int k = 0; k < gx * gy; ++k) {
    Image t;
    t.width = t.height = tile;
    t.rgb.assign(static_cast<size_t>(tile) * tile * 3, 0);
    for (int y = 0; y < tile; ++y)
      for (int x = 0; x < tile; ++x) {
        const int cx = (k % gx) * tile + x, cy = (k / gx) * tile + y;
        if (cx < fw && cy < fh)
          for (int ch = 0; ch < 3; ++ch) t.at(x, y, ch) = r.at(cx, cy, ch);
      }
    out.push_back(std::move(t));
  }
  if (out.size() > 1) out.push_back(ref_resize(im, tile, tile));
  return out;
}

// ---- canvases --------------------------------------------------------------

TEST(MetaTilingCanvases, OrderIsMetas) {
  // Meta's docstring: max_num_chunks = 4, patch_size = 224 (first element = width here).
  const std::vector<std::pair<int, int>> want4 = {{224, 896}, {448, 448}, {224, 224}, {896, 224},
                                                  {224, 672}, {672, 224}, {224, 448}, {448, 224}};
  const std::vector<Canvas> got4 = meta_supported_canvases(224, 4);
  ASSERT_EQ(got4.size(), want4.size());
  for (size_t i = 0; i < want4.size(); ++i) {
    EXPECT_EQ(got4[i].width, want4[i].first) << i;
    EXPECT_EQ(got4[i].height, want4[i].second) << i;
  }
  // 16: ratio 1/16, then 1/4 (2x8, later 1x4), 1 (4x4, 3x3, 2x2, 1x1), 4, 16, then 15's.
  const std::vector<std::pair<int, int>> head16 = {{1, 16}, {2, 8}, {1, 4}, {4, 4}, {3, 3}, {2, 2},
                                                   {1, 1},  {8, 2}, {4, 1}, {16, 1}, {1, 15}, {3, 5}};
  const std::vector<Canvas> got16 = meta_supported_canvases(S);
  ASSERT_EQ(got16.size(), 50u);  // sum of the divisor counts of 1..16
  for (size_t i = 0; i < head16.size(); ++i) {
    EXPECT_EQ(got16[i].width, head16[i].first * S) << i;
    EXPECT_EQ(got16[i].height, head16[i].second * S) << i;
  }
  int n = 0;  // every x * y <= 16 exactly once
  for (int x = 1; x <= 16; ++x)
    for (int y = 1; x * y <= 16; ++y, ++n) {
      int seen = 0;
      for (const Canvas& c : got16) seen += c.width == x * S && c.height == y * S;
      EXPECT_EQ(seen, 1) << x << "x" << y;
    }
  EXPECT_EQ(n, 50);
}

TEST(MetaTilingCanvases, HandExamples) {
  struct Ex {
    int w, h, tile, max, cw, ch;
  };
  for (const Ex& e : {Ex{700, 300, S, 16, 1008, 336}, Ex{256, 192, S, 16, 336, 336}, Ex{1000, 1000, S, 16, 1008, 1008},
                      Ex{2000, 300, S, 16, 2016, 336}, Ex{300, 2000, S, 16, 336, 2016}, Ex{5000, 5000, S, 16, 1344, 1344},
                      Ex{1, 1, S, 16, 336, 336}, Ex{400, 100, S, 16, 672, 336}, Ex{336, 336, S, 16, 336, 336},
                      Ex{337, 336, S, 16, 672, 336},
                      // Meta's get_best_fit docstring: a 200 wide, 300 tall image -> 224 x 448.
                      Ex{200, 300, 224, 4, 224, 448}}) {
    const Canvas c = best_canvas_meta(e.w, e.h, e.tile, e.max);
    EXPECT_EQ(c.width, e.cw) << e.w << "x" << e.h;
    EXPECT_EQ(c.height, e.ch) << e.w << "x" << e.h;
  }
  // Fitted sizes: small ones grow to S on the long side; larger ones are not resized.
  const Canvas f1 = meta_fit_size(256, 192, {336, 336}, S);
  EXPECT_EQ(f1.width, 336);
  EXPECT_EQ(f1.height, 252);
  const Canvas f2 = meta_fit_size(700, 300, {1008, 336}, S);
  EXPECT_EQ(f2.width, 700);
  EXPECT_EQ(f2.height, 300);
  const Canvas f3 = meta_fit_size(1000, 1000, {1008, 1008}, S);
  EXPECT_EQ(f3.width, 1000);
  EXPECT_EQ(f3.height, 1000);
  const Canvas f4 = meta_fit_size(1, 1, {336, 336}, S);
  EXPECT_EQ(f4.width, 336);
  EXPECT_EQ(f4.height, 336);
}

TEST(MetaTilingCanvases, MatchReferenceOnManySizes) {
  std::vector<int> sides = {1, 2, 3, 7, 13, 100, 167, 168, 169, 255, 256, 335, 336, 337, 500, 671, 672, 673, 1000,
                            1007, 1008, 1009, 1343, 1344, 1345, 2000, 2016, 2017, 3000, 5000, 5376, 5377, 10000, 32768};
  for (int w = 1; w < 6000; w += 37) sides.push_back(w);
  for (const int w : sides)
    for (const int h : sides)
      for (const int max_tiles : {16, 9, 4, 1}) {
        const Canvas want = ref_canvas(w, h, S, max_tiles), got = best_canvas_meta(w, h, S, max_tiles);
        ASSERT_EQ(got.width, want.width) << w << "x" << h << " max " << max_tiles;
        ASSERT_EQ(got.height, want.height) << w << "x" << h << " max " << max_tiles;
        const auto [fw, fh] = ref_fit(w, h, want, S);
        const Canvas fit = meta_fit_size(w, h, got, S);
        ASSERT_EQ(fit.width, fw) << w << "x" << h;
        ASSERT_EQ(fit.height, fh) << w << "x" << h;
        ASSERT_LE(fit.width, got.width);
        ASSERT_LE(fit.height, got.height);
      }
}

// ---- Pillow's bilinear -----------------------------------------------------

TEST(MetaTilingResize, HandComputed) {
  // 2 -> 4 (scale 1/2, no antialias widening): centres 0.25, 0.75, 1.25, 1.75;
  // weights (1), (3/4, 1/4), (1/4, 3/4), (1); +2^21 then >> 22 rounds halves up.
  const Image up = resize_bilinear_pil(row({{0, 100, 10}, {255, 200, 20}}), 4, 1);
  const std::vector<uint8_t> want_up = {0, 100, 10, 64, 125, 13, 191, 175, 18, 255, 200, 20};
  EXPECT_EQ(up.rgb, want_up);
  // The same as a column: only the vertical pass runs.
  Image col = row({{0, 100, 10}, {255, 200, 20}});
  col.width = 1;
  col.height = 2;
  const Image upv = resize_bilinear_pil(col, 1, 4);
  EXPECT_EQ(upv.rgb, want_up);
  // 4 -> 2 (scale 2, support 2): centres 1 and 3, weights (3, 3, 1)/7 over
  // pixels 0..2 and (1, 3, 3)/7 over 1..3; fixed point 1797559, 1797559, 599186.
  // R 0,70,140,210 -> 50, 160 (exactly 50.4999.. and 160.5000.. before the shift);
  // G flat 255 stays 255; B 7,0,0,0 -> 3, 0.
  const Image down = resize_bilinear_pil(row({{0, 255, 7}, {70, 255, 0}, {140, 255, 0}, {210, 255, 0}}), 2, 1);
  const std::vector<uint8_t> want_down = {50, 255, 3, 160, 255, 0};
  EXPECT_EQ(down.rgb, want_down);
  // Same size: a copy. To 1 x 1: the weighted mean of a flat image is itself.
  const Image n = noise(5, 3, 1);
  EXPECT_EQ(resize_bilinear_pil(n, 5, 3).rgb, n.rgb);
  Image flat = noise(9, 4, 2);
  for (auto& b : flat.rgb) b = 77;
  EXPECT_EQ(resize_bilinear_pil(flat, 1, 1).rgb, (std::vector<uint8_t>{77, 77, 77}));
}

TEST(MetaTilingResize, MatchReference) {
  struct Sz {
    int w, h, W, H;
  };
  uint64_t seed = 10;
  for (const Sz& s : {Sz{2, 2, 4, 4}, Sz{4, 4, 2, 2}, Sz{1, 1, 336, 336}, Sz{1, 7, 336, 336}, Sz{7, 1, 5, 9},
                      Sz{256, 192, 336, 252}, Sz{97, 61, 336, 336}, Sz{500, 40, 336, 336}, Sz{40, 500, 21, 263},
                      Sz{1000, 3, 336, 1}, Sz{997, 13, 3, 13}, Sz{13, 997, 13, 3}, Sz{333, 335, 336, 334},
                      Sz{1345, 7, 1344, 7}, Sz{640, 480, 1, 1}, Sz{123, 457, 457, 123}, Sz{9, 9, 9, 20}}) {
    const Image im = noise(s.w, s.h, ++seed);
    const Image got = resize_bilinear_pil(im, s.W, s.H), want = ref_resize(im, s.W, s.H);
    ASSERT_EQ(got.width, s.W);
    ASSERT_EQ(got.height, s.H);
    EXPECT_EQ(got.rgb, want.rgb) << s.w << "x" << s.h << " -> " << s.W << "x" << s.H;
  }
}

// ---- tiles -----------------------------------------------------------------

TEST(MetaTilingTiles, SmallImageIsOnePaddedTileWithoutGlobal) {
  const Image im = noise(256, 192, 3);
  const Tiles t = tile_meta(im, S);
  EXPECT_EQ(t.grid_x, 1);
  EXPECT_EQ(t.grid_y, 1);
  ASSERT_EQ(t.tiles.size(), 1u);
  const Image r = resize_bilinear_pil(im, 336, 252);
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(t.tiles[0].at(x, y, c), y < 252 ? r.at(x, y, c) : 0) << x << "," << y;  // 84 black rows
}

TEST(MetaTilingTiles, WideImageIsPaddedNotResized) {
  const Image im = noise(700, 300, 4);
  const Tiles t = tile_meta(im, S);
  EXPECT_EQ(t.grid_x, 3);
  EXPECT_EQ(t.grid_y, 1);
  ASSERT_EQ(t.tiles.size(), 4u);
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x) {
        const int ix = k * S + x;
        for (int c = 0; c < 3; ++c)
          ASSERT_EQ(t.tiles[static_cast<size_t>(k)].at(x, y, c), ix < 700 && y < 300 ? im.at(ix, y, c) : 0)
              << k << ":" << x << "," << y;
      }
  EXPECT_EQ(t.tiles[3].rgb, resize_bilinear_pil(im, S, S).rgb);  // global: stretched
}

TEST(MetaTilingTiles, MatchReference) {
  struct Sz {
    int w, h;
  };
  uint64_t seed = 100;
  for (const Sz& s : {Sz{1, 1}, Sz{1, 7}, Sz{7, 1}, Sz{1, 500}, Sz{500, 1}, Sz{3, 1000}, Sz{1000, 3}, Sz{256, 192},
                      Sz{336, 336}, Sz{337, 336}, Sz{335, 337}, Sz{672, 336}, Sz{700, 300}, Sz{1000, 1000},
                      Sz{2000, 300}, Sz{300, 2000}, Sz{1009, 1009}, Sz{1345, 1345}, Sz{99, 1234}, Sz{4000, 200}}) {
    const Image im = noise(s.w, s.h, ++seed);
    const Tiles got = tile_meta(im, S);
    const std::vector<Image> want = ref_tiles(im, S, kMetaMaxTiles);
    const Canvas c = best_canvas_meta(s.w, s.h, S);
    EXPECT_EQ(got.grid_x, c.width / S);
    EXPECT_EQ(got.grid_y, c.height / S);
    ASSERT_EQ(got.tiles.size(), want.size()) << s.w << "x" << s.h;
    ASSERT_EQ(got.tiles.size(), got.grid_x * got.grid_y == 1 ? 1u : static_cast<size_t>(got.grid_x * got.grid_y + 1));
    for (size_t k = 0; k < want.size(); ++k) {
      ASSERT_EQ(got.tiles[k].width, S);
      ASSERT_EQ(got.tiles[k].height, S);
      EXPECT_EQ(got.tiles[k].rgb, want[k].rgb) << s.w << "x" << s.h << " tile " << k;
    }
  }
  // A smaller grid limit and tile size work the same way.
  const Image im = noise(50, 20, 7);
  const Tiles got = tile_meta(im, 14, 4);
  const std::vector<Image> want = ref_tiles(im, 14, 4);
  ASSERT_EQ(got.tiles.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) EXPECT_EQ(got.tiles[k].rgb, want[k].rgb) << k;
}

}  // namespace
}  // namespace scout::vision
