// llama.cpp's tiling, against the tiles its encoder saw (shared oracle), and
// the canvas choice on the spec's examples.
#include "vision/tiling.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "test_util.h"

namespace scout::vision {
namespace {

struct Case {
  const char* name;
  const char* file;
  int tiles;
};

class TilesMatchLlamaCpp : public testing::TestWithParam<Case> {};

TEST_P(TilesMatchLlamaCpp, PixelForPixel) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  const Case& c = GetParam();
  const Tiles t = tile_llamacpp(load_image(test::vision_oracle_dir() + "images/" + c.file), 336);
  ASSERT_EQ(static_cast<int>(t.tiles.size()), c.tiles);
  std::ifstream js(test::vision_oracle_dir() + "expected/f32/" + c.name + ".json");
  const nlohmann::json j = nlohmann::json::parse(js);
  int image_chunks = 0;
  for (const auto& ch : j["chunks"]) image_chunks += ch["type"] == "image";
  EXPECT_EQ(image_chunks, c.tiles);
  for (int k = 0; k < c.tiles; ++k) {
    const Image want = load_image(test::vision_oracle_dir() + "expected/tiles/" + c.name + ".tile" + std::to_string(k) + ".png");
    ASSERT_EQ(want.width, 336);
    size_t differ = 0;
    for (size_t i = 0; i < want.rgb.size(); ++i) differ += want.rgb[i] != t.tiles[static_cast<size_t>(k)].rgb[i];
    EXPECT_EQ(differ, 0u) << c.name << " tile " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Oracle, TilesMatchLlamaCpp,
                         testing::Values(Case{"grad", "grad-256x192.png", 1}, Case{"wide", "wide-700x300.png", 4},
                                         Case{"photo", "photo-400x380.jpg", 5}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Tiling, CanvasChoiceFollowsTheSpecExamples) {
  EXPECT_EQ(best_canvas_llamacpp(700, 300, 336).width, 1008);
  EXPECT_EQ(best_canvas_llamacpp(700, 300, 336).height, 336);
  EXPECT_EQ(best_canvas_llamacpp(400, 380, 336).width, 672);
  EXPECT_EQ(best_canvas_llamacpp(400, 380, 336).height, 672);
  // Huge images use the largest grid; tall ones a 1 x 3 column.
  EXPECT_EQ(best_canvas_llamacpp(5000, 5000, 336).width, 1008);
  EXPECT_EQ(best_canvas_llamacpp(300, 2000, 336).width, 336);
  EXPECT_EQ(best_canvas_llamacpp(300, 2000, 336).height, 1008);
}

TEST(Tiling, SmallImagesAreOneStretchedTileAndOddSizesWork) {
  Image im;
  for (const auto& [w, h] : {std::pair{1, 1}, {336, 336}, {337, 1}, {1, 2000}, {999, 335}}) {
    im.width = w;
    im.height = h;
    im.rgb.assign(static_cast<size_t>(w) * h * 3, 200);
    const Tiles t = tile_llamacpp(im, 336);
    ASSERT_FALSE(t.tiles.empty());
    EXPECT_EQ(t.tiles.size(), w <= 336 && h <= 336 ? 1u : static_cast<size_t>(t.grid_x * t.grid_y + 1));
    for (const Image& tile : t.tiles) ASSERT_EQ(tile.rgb.size(), 336u * 336 * 3);
    // A flat image stays flat in the overview (the last tile).
    EXPECT_EQ(t.tiles.back().at(100, 100, 1), 200);
  }
}

TEST(Tiling, ResizersKeepCornersAndFlatColour) {
  Image im;
  im.width = 5;
  im.height = 4;
  im.rgb.resize(5 * 4 * 3);
  for (size_t i = 0; i < im.rgb.size(); ++i) im.rgb[i] = static_cast<uint8_t>(i * 11);
  const Image b = resize_bilinear_llamacpp(im, 9, 7);  // align-corners: the corners are kept
  EXPECT_EQ(b.at(0, 0, 0), im.at(0, 0, 0));
  EXPECT_EQ(b.at(8, 6, 2), im.at(4, 3, 2));
  const Image same = resize_bicubic_llamacpp(im, 5, 4);  // scale 1: the image itself
  EXPECT_EQ(same.rgb, im.rgb);
}

}  // namespace
}  // namespace scout::vision
