// Image rows in the text model against llama.cpp (shared oracle): the
// prompt with the image's embeddings at the -1 places, then the greedy
// continuation, logits within the README's bounds. Once with the oracle's
// embeddings (the text side alone), once with scout's own encoder (end to end).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "backend/backend.h"
#include "chat/chat_prompt.h"
#include "chat/chat_template.h"
#include "engine/session.h"
#include "models/model.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "vision/image_embedding.h"
#include "vision/media_prompt.h"
#include "vision/tiling.h"
#include "vision/vision_encoder.h"

namespace scout::vision {
namespace {

// Evaluates prompt_ids, taking consecutive embedding rows where an id is -1;
// returns the logits after the last.
std::vector<float> eval_prompt(engine::Session& s, const std::vector<int32_t>& ids, const std::vector<float>& embd,
                               size_t d) {
  std::vector<float> logits;
  size_t row = 0;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    const bool image = ids[i] < 0;
    while (j < ids.size() && (ids[j] < 0) == image) ++j;
    const bool last = j == ids.size();
    if (image) {
      logits = s.eval_embeddings(std::span(embd).subspan(row * d, (j - i) * d), 0, last);
      row += j - i;
    } else {
      logits = s.eval(std::span(ids).subspan(i, j - i));
    }
    i = j;
  }
  EXPECT_EQ(row * d, embd.size()) << "every embedding row used";
  return logits;
}

struct Case {
  const char* projector;
  const char* image;
  const char* file;
  bool own_encoder;
};

class ImagePrompt : public testing::TestWithParam<Case> {};

TEST_P(ImagePrompt, LogitsAndGreedyContinuationMatchLlamaCpp) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  const Case& c = GetParam();
  const std::string dir = test::vision_oracle_dir() + "expected/" + c.projector + "/";
  std::ifstream js(dir + c.image + ".json");
  const nlohmann::json j = nlohmann::json::parse(js);
  const auto model = Model::load(test::shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf");
  const size_t d = model->hparams().d_model, V = model->hparams().n_vocab;

  std::vector<float> embd = test::read_floats(dir + c.image + ".embd.f32");
  if (c.own_encoder) {
    VisionEncoder enc(test::vision_oracle_dir() + "mmproj-llama4-vision-tiny-" + c.projector + ".gguf",
                      std::shared_ptr<backend::Backend>(backend::make_cpu_backend({2, true})));
    embd = encode_image(enc, load_image(test::vision_oracle_dir() + "images/" + c.file), VisionLayout::LlamaCpp).rows;
  }
  engine::SessionOptions o;
  o.n_ctx = 2048;
  engine::Session s(*model, o);
  std::vector<float> logits = eval_prompt(s, j["prompt_ids"].get<std::vector<int32_t>>(), embd, d);
  const std::vector<float> want = test::read_floats(dir + c.image + ".logits.f32");
  ASSERT_EQ(logits.size(), V);
  ASSERT_EQ(want.size(), V);
  double worst = 0;
  for (size_t i = 0; i < V; ++i) worst = std::max(worst, std::abs(double(logits[i]) - want[i]));
  EXPECT_LE(worst, 0.1) << "logits after the prompt";

  const auto ids = j["ids"].get<std::vector<int32_t>>();
  const auto margins = j["margins"].get<std::vector<double>>();
  for (size_t step = 0; step < ids.size(); ++step) {
    double top_worst = 0;
    for (const auto& pair : j["top10"][step])
      top_worst = std::max(top_worst, std::abs(logits[pair[0].get<size_t>()] - pair[1].get<double>()));
    EXPECT_LE(top_worst, 0.1) << "step " << step;
    const auto best = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (margins[step] >= 0.2) EXPECT_EQ(best, ids[step]) << "step " << step;
    logits = s.eval(std::span(&ids[step], 1));
  }
}

TEST(MediaPrompt, LayoutIsLlamaCppsPromptIds) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  const auto model = Model::load(test::shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf");
  const auto tok = tokenizer::Tokenizer::from_gguf(model->file());
  const chat::ChatTemplate tmpl = chat::ChatTemplate::for_model(model->file(), "");
  const size_t d = model->hparams().d_model;
  for (const char* name : {"grad", "wide", "photo"}) {
    std::ifstream js(test::vision_oracle_dir() + "expected/f32/" + name + ".json");
    const nlohmann::json j = nlohmann::json::parse(js);
    const auto want = j["prompt_ids"].get<std::vector<int32_t>>();
    const std::vector<float> rows = test::read_floats(test::vision_oracle_dir() + "expected/f32/" + name + ".embd.f32");
    const std::string text = place_media_markers("Describe this image.", 1);
    EncodedImage im;
    im.rows = rows;
    im.n_tiles = rows.size() / d / 144;
    const MediaPrompt p = build_media_prompt(*tok, tmpl.render(chat::single_turn("", text)), {&im}, static_cast<int64_t>(d));
    EXPECT_EQ(p.positions(), want) << name;
    // Evaluated chunk by chunk, it gives the logits llama.cpp's prompt gave.
    engine::SessionOptions o;
    o.n_ctx = 2048;
    engine::Session s(*model, o);
    const std::vector<float> logits = eval_media_prompt(s, p), ref = test::read_floats(test::vision_oracle_dir() + "expected/f32/" + name + ".logits.f32");
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(double(logits[i]) - ref[i]));
    EXPECT_LE(worst, 0.1) << name;
  }
  // Markers: the user's own when the count matches, else images first; a wrong count is an error.
  EXPECT_EQ(place_media_markers("a <__media__> b", 1), "a <__media__> b");
  EXPECT_EQ(place_media_markers("ab", 2), "<__media__><__media__>ab");
  EXPECT_THROW(place_media_markers("<__media__>", 2), std::runtime_error);
}

// Meta's layout: the grid row by row with separators, <|image|> before the
// global tile; a one-tile image is <|image_start|><|image|> rows <|image_end|>.
// Each row's first value says which tile it came from.
TEST(MediaPrompt, MetaLayoutFramesTilesWithSeparators) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  const auto model = Model::load(test::shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf");
  const auto tok = tokenizer::Tokenizer::from_gguf(model->file());
  const int64_t d = model->hparams().d_model;
  const int32_t start = special_token_id(*tok, "<|image_start|>"), end = special_token_id(*tok, "<|image_end|>"),
                image = special_token_id(*tok, "<|image|>"), tx = special_token_id(*tok, "<|tile_x_separator|>"),
                ty = special_token_id(*tok, "<|tile_y_separator|>");
  // The tiny vocabulary's ids (shared/docs/llama4-vision.md).
  EXPECT_EQ(std::vector<int32_t>({start, end, image, tx, ty}), std::vector<int32_t>({4176, 4177, 4186, 4180, 4181}));
  const int per_tile = 3;  // rows per tile, small for the test
  auto fake = [&](int gx, int gy) {
    EncodedImage im;
    im.grid_x = gx;
    im.grid_y = gy;
    im.n_tiles = gx > 0 ? size_t(gx * gy + 1) : 1;
    for (size_t t = 0; t < im.n_tiles; ++t)
      for (int r = 0; r < per_tile; ++r)
        for (int64_t k = 0; k < d; ++k) im.rows.push_back(k == 0 ? float(t) : float(r));
    return im;
  };
  auto image_part = [&](const MediaPrompt& p) {  // positions from <|image_start|> to <|image_end|>
    const std::vector<int32_t> pos = p.positions();
    const auto a = std::find(pos.begin(), pos.end(), start), b = std::find(pos.begin(), pos.end(), end);
    return std::vector<int32_t>(a, b + 1);
  };
  auto tile_order = [&](const MediaPrompt& p) {  // the tile of each image row, in prompt order
    std::vector<int> tiles;
    for (const PromptChunk& c : p.chunks)
      for (int64_t r = 0; r < c.rows; ++r) tiles.push_back(int(c.embeddings[size_t(r * d)]));
    return tiles;
  };
  const std::vector<int32_t> rows(per_tile, -1);
  auto cat = [](std::initializer_list<std::vector<int32_t>> parts) {
    std::vector<int32_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };

  const EncodedImage grid = fake(2, 2);
  const MediaPrompt p = build_media_prompt(*tok, "<|begin_of_text|>a<__media__>b", {&grid}, d, VisionLayout::Meta);
  EXPECT_EQ(image_part(p), cat({{start}, rows, {tx}, rows, {ty}, rows, {tx}, rows, {ty}, {image}, rows, {end}}));
  EXPECT_EQ(tile_order(p), std::vector<int>({0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}));

  const EncodedImage wide = fake(3, 1);
  EXPECT_EQ(image_part(build_media_prompt(*tok, "<__media__>", {&wide}, d, VisionLayout::Meta)),
            cat({{start}, rows, {tx}, rows, {tx}, rows, {ty}, {image}, rows, {end}}));
  const EncodedImage single = fake(0, 0);
  EXPECT_EQ(image_part(build_media_prompt(*tok, "<__media__>", {&single}, d, VisionLayout::Meta)),
            cat({{start, image}, rows, {end}}));
  // The same single tile in llama.cpp's layout has no <|image|>.
  EXPECT_EQ(image_part(build_media_prompt(*tok, "<__media__>", {&single}, d, VisionLayout::LlamaCpp)),
            cat({{start}, rows, {end}}));
  // Without images a marker is plain text (a chat on a text model may quote one).
  const MediaPrompt plain = build_media_prompt(*tok, "say <__media__>", {}, d, VisionLayout::Meta);
  ASSERT_EQ(plain.chunks.size(), 1u);
  EXPECT_EQ(plain.chunks[0].tokens, chat::encode_chat_text(*tok, "say <__media__>"));
  // A grid that does not match the tiles is a programming error, not a silent misplacement.
  EncodedImage bad = fake(2, 2);
  bad.grid_x = 3;
  EXPECT_THROW(build_media_prompt(*tok, "<__media__>", {&bad}, d, VisionLayout::Meta), std::logic_error);
}

INSTANTIATE_TEST_SUITE_P(
    Oracle, ImagePrompt,
    testing::Values(Case{"f32", "grad", "grad-256x192.png", false}, Case{"f32", "wide", "wide-700x300.png", false},
                    Case{"f32", "photo", "photo-400x380.jpg", false}, Case{"f16", "grad", "grad-256x192.png", false},
                    Case{"f16", "wide", "wide-700x300.png", false}, Case{"f16", "photo", "photo-400x380.jpg", false},
                    Case{"f32", "photo", "photo-400x380.jpg", true}, Case{"f16", "wide", "wide-700x300.png", true}),
    [](const auto& info) {
      return std::string(info.param.projector) + "_" + info.param.image + (info.param.own_encoder ? "_own_encoder" : "");
    });

}  // namespace
}  // namespace scout::vision
