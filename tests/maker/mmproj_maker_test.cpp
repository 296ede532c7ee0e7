// The vision projector maker: keys key for key against the converter's file
// (shared tiny projector), every tensor's shape and type as the reader and
// VisionEncoder expect, determinism, value scales, a tile through the encoder,
// and `scout make-model --mmproj-preset` with its errors.
#include "maker/mmproj_maker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "gguf/reader.h"
#include "tensor/dequant.h"
#include "test_util.h"
#include "vision/mmproj.h"
#include "vision/vision_encoder.h"

namespace scout::maker {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using Shape = std::vector<uint64_t>;

Shape shape_of(const gguf::TensorInfo& t) { return Shape(t.ne.begin(), t.ne.begin() + t.n_dims); }

MmprojConfig tiny(const json& overrides = json::object()) {
  json j = mmproj_preset_json("tiny");
  j.update(overrides);
  return parse_mmproj_config(j);
}

std::vector<float> values(const gguf::TensorInfo& t) {
  std::vector<float> out(t.n_elements());
  dequantize_row(t.type, t.data, out.data(), static_cast<int64_t>(out.size()));
  return out;
}

double rms(const std::vector<float>& v) {
  double ss = 0;
  for (float x : v) ss += static_cast<double>(x) * x;
  return std::sqrt(ss / static_cast<double>(v.size()));
}

std::shared_ptr<backend::Backend> cpu() { return std::shared_ptr<backend::Backend>(backend::make_cpu_backend({2, true})); }

TEST(MakeMmproj, PresetsParseToTheDocumentedShapes) {
  const MmprojConfig s = parse_mmproj_config(mmproj_preset_json("scout"));
  EXPECT_EQ(s.hp.image_size, 336u);
  EXPECT_EQ(s.hp.patch_size, 14u);
  EXPECT_EQ(s.hp.width, 1408u);
  EXPECT_EQ(s.hp.ff, 5632u);
  EXPECT_EQ(s.hp.n_layer, 34u);
  EXPECT_EQ(s.hp.n_head, 16u);
  EXPECT_FLOAT_EQ(s.hp.eps, 1e-5f);
  EXPECT_EQ(s.hp.merge, 2u);
  EXPECT_EQ(s.hp.adapter, 4096u);
  EXPECT_EQ(s.hp.out_width, 5120u);
  EXPECT_EQ(s.weight_type, TensorType::F16);
  const MmprojConfig t = tiny();
  EXPECT_EQ(t.hp.width, 128u);
  EXPECT_EQ(t.hp.n_layer, 3u);
  EXPECT_EQ(t.hp.adapter, 192u);
  EXPECT_EQ(t.hp.out_width, 256u);
  EXPECT_THAT(mmproj_preset_names(), ::testing::ElementsAre("scout", "tiny"));
  EXPECT_THROW(mmproj_preset_json("nope"), std::runtime_error);
}

TEST(MakeMmproj, ScoutPlanHasTheRealShapes) {
  const std::vector<MmprojTensor> plan = plan_mmproj_tensors(parse_mmproj_config(mmproj_preset_json("scout")));
  EXPECT_EQ(plan.size(), 5u + 34u * 16u + 2u + 3u);
  std::map<std::string, const MmprojTensor*> by;
  for (const MmprojTensor& t : plan) by[t.name] = &t;
  EXPECT_EQ(by.at("v.patch_embd.weight")->ne, (Shape{588, 1408}));
  EXPECT_EQ(by.at("v.position_embd.weight")->ne, (Shape{1408, 577}));
  EXPECT_EQ(by.at("v.position_embd.weight")->type, TensorType::F32);
  EXPECT_EQ(by.at("v.blk.33.ffn_up.weight")->ne, (Shape{1408, 5632}));
  EXPECT_EQ(by.at("v.blk.33.ffn_down.weight")->ne, (Shape{5632, 1408}));
  EXPECT_EQ(by.at("mm.model.mlp.1.weight")->ne, (Shape{5632, 4096}));
  EXPECT_EQ(by.at("mm.model.mlp.2.weight")->ne, (Shape{4096, 4096}));
  EXPECT_EQ(by.at("mm.model.fc.weight")->ne, (Shape{4096, 5120}));
  // q8_0: every matrix but the patch embedding (588 = 18.4 blocks) is q8_0; that one falls back to f16.
  json j = mmproj_preset_json("scout");
  j["weight_type"] = "q8_0";
  for (const MmprojTensor& t : plan_mmproj_tensors(parse_mmproj_config(j))) {
    if (t.ne.size() == 1 || t.name == "v.position_embd.weight") EXPECT_EQ(t.type, TensorType::F32) << t.name;
    else if (t.name == "v.patch_embd.weight") EXPECT_EQ(t.type, TensorType::F16);
    else EXPECT_EQ(t.type, TensorType::Q8_0) << t.name;
  }
}

// Key for key, tensor for tensor, the converter's tiny file: same keys in the
// same order with the same values (but the name), same tensors, shapes, types.
TEST(MakeMmproj, TinyMatchesTheConvertersFileKeyForKey) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  test::TempDir dir;
  make_mmproj(tiny(), 1, dir.path("m.gguf"));
  const gguf::GgufFile ours = gguf::GgufFile::open(dir.path("m.gguf"));
  const gguf::GgufFile ref = gguf::GgufFile::open(test::vision_oracle_dir() + "mmproj-llama4-vision-tiny-f16.gguf");
  ASSERT_EQ(ours.metadata().size(), ref.metadata().size());
  for (size_t i = 0; i < ref.metadata().size(); ++i) {
    const auto& [rk, rv] = ref.metadata()[i];
    const auto& [ok, ov] = ours.metadata()[i];
    EXPECT_EQ(ok, rk) << "key " << i;
    EXPECT_EQ(ov.type(), rv.type()) << rk;
    if (rk != "general.name") EXPECT_EQ(ov.to_display(), rv.to_display()) << rk;
  }
  ASSERT_EQ(ours.tensors().size(), ref.tensors().size());
  for (size_t i = 0; i < ref.tensors().size(); ++i) {
    EXPECT_EQ(ours.tensors()[i].name, ref.tensors()[i].name) << i;
    EXPECT_EQ(shape_of(ours.tensors()[i]), shape_of(ref.tensors()[i])) << ref.tensors()[i].name;
    EXPECT_EQ(ours.tensors()[i].type, ref.tensors()[i].type) << ref.tensors()[i].name;
  }
}

TEST(MakeMmproj, ReadsBackWithEveryTypeAndOutputWidth) {
  test::TempDir dir;
  for (const char* type : {"f32", "f16", "bf16", "q8_0"}) {
    const MmprojConfig c = tiny({{"weight_type", type}, {"out_width", 320}, {"n_layer", 2}, {"eps", 1e-6}});
    const std::string path = dir.path(std::string(type) + ".gguf");
    make_mmproj(c, 7, path);
    const gguf::GgufFile f = gguf::GgufFile::open(path);
    ASSERT_TRUE(vision::is_mmproj(f));
    const vision::VisionHparams h = vision::read_vision_hparams(f);
    EXPECT_EQ(h.image_size, 336u);
    EXPECT_EQ(h.patch_size, 14u);
    EXPECT_EQ(h.width, 128u);
    EXPECT_EQ(h.ff, 512u);
    EXPECT_EQ(h.n_layer, 2u);
    EXPECT_EQ(h.n_head, 4u);
    EXPECT_FLOAT_EQ(h.eps, 1e-6f);
    EXPECT_EQ(h.merge, 2u);
    EXPECT_EQ(h.adapter, 192u);
    EXPECT_EQ(h.out_width, 320u);
    EXPECT_TRUE(h.gelu);
    EXPECT_EQ(h.mean, (std::array<float, 3>{0.5f, 0.5f, 0.5f}));
    EXPECT_EQ(f.get_uint("clip.vision.projection_dim"), 320u);
    const auto plan = plan_mmproj_tensors(c);
    ASSERT_EQ(f.tensors().size(), plan.size());
    for (const MmprojTensor& t : plan) {
      const gguf::TensorInfo* ti = f.find_tensor(t.name);
      ASSERT_NE(ti, nullptr) << t.name;
      EXPECT_EQ(shape_of(*ti), t.ne) << t.name;
      const bool matrix = t.ne.size() == 2 && t.name != "v.position_embd.weight";
      TensorType want = *type_from_name(type);
      if (!matrix) want = TensorType::F32;
      else if (want == TensorType::Q8_0 && t.name == "v.patch_embd.weight") want = TensorType::F16;  // 588 = 18.4 blocks
      EXPECT_EQ(ti->type, want) << type << " " << t.name;
    }
    const std::map<std::string, uint64_t> file_type = {{"f32", 0}, {"f16", 1}, {"q8_0", 7}, {"bf16", 32}};
    EXPECT_EQ(f.get_uint("general.file_type"), file_type.at(type)) << type;
    // And the encoder loads it.
    vision::VisionEncoder enc(path, cpu());
    EXPECT_EQ(enc.hparams().out_width, 320u);
  }
}

TEST(MakeMmproj, ValueScales) {
  test::TempDir dir;
  make_mmproj(tiny({{"weight_type", "f32"}}), 3, dir.path("m.gguf"));
  const gguf::GgufFile f = gguf::GgufFile::open(dir.path("m.gguf"));
  auto check = [&](const std::string& name, double mean, double sd) {
    const std::vector<float> v = values(*f.find_tensor(name));
    double m = 0;
    for (float x : v) m += x;
    m /= static_cast<double>(v.size());
    double var = 0;
    for (float x : v) var += (x - m) * (x - m);
    const double s = std::sqrt(var / static_cast<double>(v.size()));
    const double n = static_cast<double>(v.size());  // four standard errors
    EXPECT_NEAR(m, mean, 4 * sd / std::sqrt(n)) << name;
    EXPECT_NEAR(s, sd, 4 * sd / std::sqrt(2 * n)) << name;
  };
  check("v.blk.0.attn_q.weight", 0, 1 / std::sqrt(128.0));
  check("v.blk.1.ffn_down.weight", 0, 1 / std::sqrt(512.0));
  check("v.patch_embd.weight", 0, 1 / std::sqrt(588.0));
  check("mm.model.fc.weight", 0, 1 / std::sqrt(192.0));
  check("v.position_embd.weight", 0, 1 / std::sqrt(128.0));
  check("v.blk.2.ln2.weight", 1, 0.1);
  check("v.pre_ln.bias", 0, 0.01);
}

TEST(MakeMmproj, SameSeedSameBytesOtherSeedOtherBytes) {
  test::TempDir dir;
  make_mmproj(tiny(), 5, dir.path("a.gguf"));
  make_mmproj(tiny(), 5, dir.path("b.gguf"));
  make_mmproj(tiny(), 6, dir.path("c.gguf"));
  const auto a = test::read_file(dir.path("a.gguf")), b = test::read_file(dir.path("b.gguf")),
             c = test::read_file(dir.path("c.gguf"));
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
  // Every tensor differs, not just some.
  const gguf::GgufFile fa = gguf::GgufFile::open(dir.path("a.gguf")), fc = gguf::GgufFile::open(dir.path("c.gguf"));
  for (const auto& t : fa.tensors())
    EXPECT_NE(values(t), values(*fc.find_tensor(t.name))) << t.name;
}

TEST(MakeMmproj, TinyEncodesATileToFiniteSensibleValues) {
  test::TempDir dir;
  const std::string path = dir.path("m.gguf");
  make_mmproj(tiny({{"n_layer", 34}}), 11, path);  // the real depth, tiny width
  vision::VisionEncoder enc(path, cpu());
  vision::Image tile;
  tile.width = tile.height = 336;
  tile.rgb.resize(336 * 336 * 3);
  for (size_t i = 0; i < tile.rgb.size(); ++i) tile.rgb[i] = static_cast<uint8_t>((i * 7 + i / 1000) % 256);
  double last_rms = 0;
  const std::vector<float> out = enc.encode({tile}, vision::TokenOrder::ColumnMajor,
                                            [&](std::string_view stage, const std::vector<float>& rows, int64_t) {
                                              for (float x : rows) ASSERT_TRUE(std::isfinite(x)) << stage;
                                              if (stage == "layer_out-33") last_rms = rms(rows);
                                            });
  ASSERT_EQ(out.size(), 144u * 256u);
  for (float x : out) ASSERT_TRUE(std::isfinite(x));
  const double r = rms(out);
  EXPECT_GT(r, 0.05);
  EXPECT_LT(r, 10.0);
  EXPECT_GT(last_rms, 0.1);
  EXPECT_LT(last_rms, 100.0);
  // Tokens differ from one another (the image reaches the output).
  EXPECT_NE(std::vector<float>(out.begin(), out.begin() + 256), std::vector<float>(out.begin() + 256, out.begin() + 512));
}

TEST(MakeMmproj, BadConfigsAreClearErrors) {
  auto err = [](const json& over) {
    try {
      tiny(over);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(err({{"width", 130}}), HasSubstr("width 130 is not a multiple of n_head 4"));
  EXPECT_THAT(err({{"width", 120}, {"n_head", 4}}), HasSubstr("multiple of 4"));
  EXPECT_THAT(err({{"patch_size", 13}}), HasSubstr("patch_size 13"));
  EXPECT_THAT(err({{"merge", 5}}), HasSubstr("merge 5"));
  EXPECT_THAT(err({{"n_layer", 0}}), HasSubstr("'n_layer'"));
  EXPECT_THAT(err({{"out_width", -1}}), HasSubstr("'out_width'"));
  EXPECT_THAT(err({{"eps", 2}}), HasSubstr("eps"));
  EXPECT_THAT(err({{"image_std", {0.5, 0, 0.5}}}), HasSubstr("image_std"));
  EXPECT_THAT(err({{"image_mean", {0.5}}}), HasSubstr("image_mean"));
  EXPECT_THAT(err({{"weight_type", "q9"}}), HasSubstr("q9"));
  EXPECT_THAT(err({{"d_model", 5}}), HasSubstr("unknown field 'd_model'"));
}

// ---- Through the CLI --------------------------------------------------------

TEST(MakeMmprojCli, PresetWithFlagsAndSet) {
  test::TempDir dir;
  const std::string out = dir.path("m.gguf");
  const auto r = test::run_scout({"make-model", "--mmproj-preset", "tiny", "-o", out, "--seed", "9", "--type", "q8_0",
                                  "--layers", "2", "--set", "out_width=512", "--set", "name=cli-vision"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  const gguf::GgufFile f = gguf::GgufFile::open(out);
  const vision::VisionHparams h = vision::read_vision_hparams(f);
  EXPECT_EQ(h.n_layer, 2u);
  EXPECT_EQ(h.out_width, 512u);
  EXPECT_EQ(f.get_string("general.name"), "cli-vision");
  EXPECT_EQ(f.find_tensor("v.blk.1.attn_q.weight")->type, TensorType::Q8_0);
  // The same as the library writes for the same config and seed.
  make_mmproj(tiny({{"weight_type", "q8_0"}, {"n_layer", 2}, {"out_width", 512}, {"name", "cli-vision"}}), 9,
              dir.path("lib.gguf"));
  EXPECT_EQ(test::read_file(out), test::read_file(dir.path("lib.gguf")));

  std::ofstream(dir.path("c.json")) << R"({"width": 64, "n_head": 2, "ff": 128, "n_layer": 1, "adapter": 32})";
  const auto rc = test::run_scout({"make-model", "--mmproj-config", dir.path("c.json"), "-o", dir.path("c.gguf")});
  ASSERT_EQ(rc.exit_code, 0) << rc.err;
  EXPECT_EQ(vision::read_vision_hparams(gguf::GgufFile::open(dir.path("c.gguf"))).width, 64u);

  const auto list = test::run_scout({"make-model", "--list-presets"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("scout (--mmproj-preset)"));
  EXPECT_THAT(list.out, HasSubstr("tiny (--mmproj-preset)"));
}

TEST(MakeMmprojCli, BadOptionsAreOneErrorAndExit2) {
  test::TempDir dir;
  const std::string out = dir.path("m.gguf");
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  const std::vector<Case> cases = {
      {{"make-model", "--mmproj-preset", "tiny", "-o", out, "--set", "width=130"}, "width 130 is not a multiple of n_head 4"},
      {{"make-model", "--mmproj-preset", "scout", "-o", out, "--set", "n_head=15"}, "not a multiple of n_head 15"},
      {{"make-model", "--mmproj-preset", "nope", "-o", out}, "unknown mmproj preset 'nope'"},
      {{"make-model", "--mmproj-preset", "tiny", "-o", out, "--type", "q9"}, "q9"},
      {{"make-model", "--mmproj-preset", "tiny", "-o", out, "--set", "vocab.max_ranks=4"}, "unknown field 'vocab'"},
      {{"make-model", "--mmproj-preset", "tiny", "-o", out, "--vocab", "builtin"}, "--vocab"},
      {{"make-model", "--mmproj-preset", "tiny", "--preset", "tiny", "-o", out}, "excludes"},
      {{"make-model", "--mmproj-preset", "tiny"}, "--output"},
      {{"make-model", "--mmproj-config", dir.path("none.json"), "-o", out}, "none.json"},
  };
  for (const Case& c : cases) {
    const auto r = test::run_scout(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.names << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.names));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_FALSE(std::ifstream(out).good());
}

}  // namespace
}  // namespace scout::maker
