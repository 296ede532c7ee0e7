// The vision encoder against llama.cpp's (shared oracle, llama4-vision-tiny):
// every stage of the first tile, and the embeddings of all three images with
// the f32 and the f16 projector, within the README's bounds.
#include "vision/vision_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <string>

#include "backend/backend.h"
#include "test_util.h"
#include "vision/tiling.h"

namespace scout::vision {
namespace {

struct Diff {
  double max = 0, rms = 0;
};
Diff diff(const std::vector<float>& a, const std::vector<float>& b) {
  Diff d;
  double ss = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::abs(static_cast<double>(a[i]) - b[i]);
    d.max = std::max(d.max, e);
    ss += e * e;
  }
  d.rms = std::sqrt(ss / static_cast<double>(a.size()));
  return d;
}

std::shared_ptr<backend::Backend> cpu() { return std::shared_ptr<backend::Backend>(backend::make_cpu_backend({2, true})); }

TEST(VisionEncoder, EveryStageOfTheFirstTileMatchesLlamaCpp) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  VisionEncoder enc(test::vision_oracle_dir() + "mmproj-llama4-vision-tiny-f32.gguf", cpu());
  const Tiles t = tile_llamacpp(load_image(test::vision_oracle_dir() + "images/grad-256x192.png"), 336);
  std::map<std::string, std::vector<float>> seen;
  enc.encode(t.tiles, TokenOrder::ColumnMajor,
             [&](std::string_view stage, const std::vector<float>& rows, int64_t) { seen[std::string(stage)] = rows; });
  const std::map<std::string, double> bound = {{"patch_conv", 1e-4}, {"pos_embed", 1e-4}, {"pre_ln", 1e-4},
                                               {"layer_out-0", 0.005}, {"layer_out-1", 0.005}, {"layer_out-2", 0.005},
                                               {"pixel_shuffle", 0.005}, {"adapter_mlp", 0.02}, {"projected", 0.01}};
  for (const auto& [stage, limit] : bound) {
    const std::vector<float> want = test::read_floats(test::vision_oracle_dir() + "expected/f32/grad.c0." + stage + ".f32");
    ASSERT_TRUE(seen.count(stage)) << stage;
    ASSERT_EQ(seen[stage].size(), want.size()) << stage;
    const Diff d = diff(seen[stage], want);
    EXPECT_LE(d.max, limit) << stage << " (rms " << d.rms << ")";
  }
}

struct EmbdCase {
  const char* projector;  // f32 or f16
  const char* image;
  const char* file;
};

class VisionEmbeddings : public testing::TestWithParam<EmbdCase> {};

TEST_P(VisionEmbeddings, MatchLlamaCppWithinTheOracleBounds) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  const EmbdCase& c = GetParam();
  VisionEncoder enc(test::vision_oracle_dir() + "mmproj-llama4-vision-tiny-" + c.projector + ".gguf", cpu());
  const Tiles t = tile_llamacpp(load_image(test::vision_oracle_dir() + "images/" + c.file), 336);
  const std::vector<float> got = enc.encode(t.tiles, TokenOrder::ColumnMajor);
  const std::vector<float> want = test::read_floats(test::vision_oracle_dir() + "expected/" + c.projector + "/" + c.image + ".embd.f32");
  ASSERT_EQ(got.size(), want.size());
  const Diff d = diff(got, want);
  EXPECT_LE(d.max, 0.01) << c.projector << " " << c.image;
  EXPECT_LE(d.rms, 0.002) << c.projector << " " << c.image;
}

INSTANTIATE_TEST_SUITE_P(Oracle, VisionEmbeddings,
                         testing::Values(EmbdCase{"f32", "grad", "grad-256x192.png"},
                                         EmbdCase{"f32", "wide", "wide-700x300.png"},
                                         EmbdCase{"f32", "photo", "photo-400x380.jpg"},
                                         EmbdCase{"f16", "grad", "grad-256x192.png"},
                                         EmbdCase{"f16", "wide", "wide-700x300.png"},
                                         EmbdCase{"f16", "photo", "photo-400x380.jpg"}),
                         [](const auto& info) { return std::string(info.param.projector) + "_" + info.param.image; });

TEST(VisionEncoder, RowMajorOrderIsTheTransposeOfLlamaCpps) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  VisionEncoder enc(test::vision_oracle_dir() + "mmproj-llama4-vision-tiny-f32.gguf", cpu());
  const Tiles t = tile_llamacpp(load_image(test::vision_oracle_dir() + "images/grad-256x192.png"), 336);
  const std::vector<float> col = enc.encode(t.tiles, TokenOrder::ColumnMajor);
  const std::vector<float> row = enc.encode(t.tiles, TokenOrder::RowMajor);
  const size_t w = enc.hparams().out_width;
  for (size_t r2 = 0; r2 < 12; ++r2)
    for (size_t c2 = 0; c2 < 12; ++c2)
      for (size_t i = 0; i < w; i += 17)
        ASSERT_EQ(row[(r2 * 12 + c2) * w + i], col[(c2 * 12 + r2) * w + i]) << r2 << "," << c2;
}

TEST(VisionEncoder, RefusesFilesThatAreNotLlama4Projectors) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  EXPECT_THROW(VisionEncoder(test::shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf", cpu()), gguf::GgufError);
}

}  // namespace
}  // namespace scout::vision
