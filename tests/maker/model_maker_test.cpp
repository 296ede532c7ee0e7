// The model maker: layouts of every architecture variant, types and
// fallbacks, value statistics, determinism, the tiny preset against the shared
// reference file, sparse --no-data files, and the make-model command.
#include "maker/model_maker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "gguf/reader.h"
#include "models/registry.h"
#include "tensor/dequant.h"
#include "test_util.h"

namespace scout::maker {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using Shape = std::vector<uint64_t>;

// A small llama4 MoE model with the built-in vocabulary (2304 tokens).
json small_json() {
  return {{"n_layer", 2}, {"d_model", 64}, {"n_head", 4}, {"n_head_kv", 2}, {"head_dim", 16},
          {"n_expert", 4}, {"n_expert_used", 1}, {"expert_ff", 32}, {"dense_ff", 96},
          {"context_length", 4096}, {"weight_type", "f16"}, {"vocab", {{"builtin", true}}}};
}

ModelConfig small(const json& overrides = json::object()) {
  json j = small_json();
  j.update(overrides);
  return parse_model_config(j);
}

Shape shape_of(const gguf::TensorInfo& t) { return Shape(t.ne.begin(), t.ne.begin() + t.n_dims); }

std::map<std::string, Shape> shapes(const gguf::GgufFile& f) {
  std::map<std::string, Shape> m;
  for (const auto& t : f.tensors()) m[t.name] = shape_of(t);
  return m;
}

std::vector<float> values(const gguf::TensorInfo& t) {
  std::vector<float> out(t.n_elements());
  dequantize_row(t.type, t.data, out.data(), static_cast<int64_t>(out.size()));
  return out;
}

struct Stats {
  double mean = 0, std = 0;
};
Stats stats(const std::vector<float>& v) {
  Stats s;
  for (float x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (float x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size()));
  return s;
}

class MakerTest : public ::testing::Test {
 protected:
  gguf::GgufFile make(const ModelConfig& c, uint64_t seed = 1, const std::string& name = "m.gguf") {
    make_model(c, seed, dir_.path(name));
    return gguf::GgufFile::open(dir_.path(name));
  }
  test::TempDir dir_;
};

TEST_F(MakerTest, Llama4MoeLayout) {
  const gguf::GgufFile f = make(small());
  const auto s = shapes(f);
  EXPECT_EQ(f.tensors().size(), 3u + 2u * 13u);
  EXPECT_EQ(s.at("token_embd.weight"), (Shape{64, 2304}));
  EXPECT_EQ(s.at("output_norm.weight"), (Shape{64}));
  EXPECT_EQ(s.at("output.weight"), (Shape{64, 2304}));
  EXPECT_EQ(s.at("blk.1.attn_q.weight"), (Shape{64, 64}));
  EXPECT_EQ(s.at("blk.1.attn_k.weight"), (Shape{64, 32}));
  EXPECT_EQ(s.at("blk.1.attn_v.weight"), (Shape{64, 32}));
  EXPECT_EQ(s.at("blk.1.attn_output.weight"), (Shape{64, 64}));
  EXPECT_EQ(s.at("blk.1.ffn_gate_inp.weight"), (Shape{64, 4}));
  EXPECT_EQ(s.at("blk.1.ffn_gate_exps.weight"), (Shape{64, 32, 4}));
  EXPECT_EQ(s.at("blk.1.ffn_up_exps.weight"), (Shape{64, 32, 4}));
  EXPECT_EQ(s.at("blk.1.ffn_down_exps.weight"), (Shape{32, 64, 4}));
  EXPECT_EQ(s.at("blk.1.ffn_gate_shexp.weight"), (Shape{64, 32}));
  EXPECT_EQ(s.at("blk.1.ffn_down_shexp.weight"), (Shape{32, 64}));
  EXPECT_EQ(f.find_tensor("blk.0.attn_norm.weight")->type, TensorType::F32);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_gate_inp.weight")->type, TensorType::F32);
  EXPECT_EQ(f.find_tensor("blk.0.attn_q.weight")->type, TensorType::F16);

  EXPECT_EQ(f.architecture(), "llama4");
  EXPECT_EQ(f.get_uint("general.file_type"), 1u);
  EXPECT_EQ(f.get_uint("general.quantization_version"), 2u);
  EXPECT_EQ(f.get_uint("llama4.vocab_size"), 2304u);
  EXPECT_EQ(f.get_uint("llama4.expert_feed_forward_length"), 32u);
  EXPECT_EQ(f.get_uint("llama4.feed_forward_length"), 96u);
  EXPECT_EQ(f.find("llama4.no_rope_layer_step"), nullptr);
  EXPECT_EQ(f.find("llama4.attention.sliding_window"), nullptr);

  const Hparams hp = read_hparams(f);
  EXPECT_EQ(hp.arch_name, "llama4");
  EXPECT_EQ(hp.n_layer, 2u);
  EXPECT_EQ(hp.head_dim_k, 16u);
  EXPECT_EQ(hp.n_expert, 4u);
  EXPECT_EQ(hp.expert_ff, 32u);
  EXPECT_EQ(hp.nope_period, 4u);
  EXPECT_EQ(hp.chunk_size, 8192u);
  EXPECT_EQ(hp.context_length, 4096u);
  EXPECT_FLOAT_EQ(hp.rope_base, 500000.0f);
  EXPECT_TRUE(hp.shared_expert);
}

TEST_F(MakerTest, Llama4InterleavedDenseAndMoeLayers) {
  const gguf::GgufFile f = make(small({{"n_layer", 4}, {"interleave_moe_layer_step", 2}}));
  const auto s = shapes(f);
  EXPECT_EQ(s.at("blk.0.ffn_gate.weight"), (Shape{64, 96}));
  EXPECT_EQ(s.at("blk.0.ffn_up.weight"), (Shape{64, 96}));
  EXPECT_EQ(s.at("blk.0.ffn_down.weight"), (Shape{96, 64}));
  EXPECT_EQ(s.count("blk.0.ffn_gate_exps.weight"), 0u);
  EXPECT_EQ(s.at("blk.1.ffn_gate_exps.weight"), (Shape{64, 32, 4}));
  EXPECT_EQ(s.count("blk.1.ffn_gate.weight"), 0u);
  EXPECT_EQ(s.count("blk.2.ffn_gate.weight"), 1u);
  EXPECT_EQ(s.count("blk.3.ffn_gate_shexp.weight"), 1u);
  const Hparams hp = read_hparams(f);
  EXPECT_EQ(hp.moe_layer_step, 2u);
  EXPECT_FALSE(hp.is_moe_layer(0));
  EXPECT_TRUE(hp.is_moe_layer(3));
}

TEST_F(MakerTest, Llama4Dense) {
  const gguf::GgufFile f = make(small({{"n_expert", 0}}));
  EXPECT_EQ(f.find("llama4.expert_count"), nullptr);
  EXPECT_EQ(f.find("llama4.expert_feed_forward_length"), nullptr);
  for (const auto& t : f.tensors()) EXPECT_EQ(t.name.find("exp"), std::string::npos) << t.name;
  EXPECT_EQ(shapes(f).at("blk.1.ffn_up.weight"), (Shape{64, 96}));
  EXPECT_EQ(read_hparams(f).n_expert, 0u);
}

TEST_F(MakerTest, LlamaDense) {
  const gguf::GgufFile f = make(small({{"arch", "llama"}, {"n_expert", 0}}));
  EXPECT_EQ(f.architecture(), "llama");
  for (const auto& [k, v] : f.metadata()) EXPECT_NE(k.rfind("llama4.", 0), 0u) << k;
  EXPECT_EQ(f.get_uint("llama.feed_forward_length"), 96u);
  EXPECT_EQ(f.get_uint("llama.rope.dimension_count"), 16u);
  EXPECT_EQ(f.find("llama.expert_count"), nullptr);
  EXPECT_EQ(f.find("llama.interleave_moe_layer_step"), nullptr);
  EXPECT_EQ(shapes(f).at("blk.0.ffn_down.weight"), (Shape{96, 64}));
  const Hparams hp = read_hparams(f);
  EXPECT_EQ(hp.arch_name, "llama");
  EXPECT_EQ(hp.n_head_kv, 2u);
  EXPECT_EQ(hp.dense_ff, 96u);
}

TEST_F(MakerTest, LlamaMixtralStyleMoe) {
  const gguf::GgufFile f = make(small({{"arch", "llama"}, {"n_expert_used", 2}}));
  EXPECT_EQ(f.get_uint("llama.expert_count"), 4u);
  EXPECT_EQ(f.get_uint("llama.expert_used_count"), 2u);
  EXPECT_EQ(f.get_uint("llama.feed_forward_length"), 32u);  // the expert width
  const auto s = shapes(f);
  EXPECT_EQ(s.at("blk.0.ffn_gate_inp.weight"), (Shape{64, 4}));
  EXPECT_EQ(s.at("blk.1.ffn_down_exps.weight"), (Shape{32, 64, 4}));
  for (const auto& t : f.tensors()) EXPECT_EQ(t.name.find("shexp"), std::string::npos) << t.name;
  const Hparams hp = read_hparams(f);
  EXPECT_EQ(hp.n_expert_used, 2u);
  EXPECT_EQ(hp.expert_ff, 32u);
  EXPECT_TRUE(hp.is_moe_layer(0));
}

TEST_F(MakerTest, OptionalLlama4Keys) {
  gguf::GgufFile f = make(small({{"chunk_size", 0}, {"nope_period", 0}}));
  EXPECT_EQ(f.get_uint("llama4.attention.sliding_window"), 0u);
  EXPECT_EQ(f.get_uint("llama4.no_rope_layer_step"), 0u);
  EXPECT_EQ(read_hparams(f).chunk_size, 0u);
  f = make(small({{"chunk_size", 256}, {"nope_period", 2}}), 1, "b.gguf");
  const Hparams hp = read_hparams(f);
  EXPECT_EQ(hp.chunk_size, 256u);
  EXPECT_EQ(hp.nope_period, 2u);
  EXPECT_FALSE(hp.uses_rope(1));
}

TEST_F(MakerTest, TiedEmbeddingsAndRopeFreqs) {
  const gguf::GgufFile f = make(small({{"tie_embeddings", true}, {"rope_freqs", true}}));
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);
  const gguf::TensorInfo* rf = f.find_tensor("rope_freqs.weight");
  ASSERT_NE(rf, nullptr);
  EXPECT_EQ(shape_of(*rf), (Shape{8}));
  EXPECT_EQ(rf->type, TensorType::F32);
  const std::vector<float> v = values(*rf);
  EXPECT_FLOAT_EQ(v.front(), 1.0f);   // highest frequency: unscaled
  EXPECT_FLOAT_EQ(v.back(), 16.0f);   // longest wavelength: the full factor
  for (size_t i = 1; i < v.size(); ++i) EXPECT_GE(v[i], v[i - 1]);
}

TEST_F(MakerTest, TypesOverridesAndFallbacks) {
  const gguf::GgufFile f = make(small({{"d_model", 256}, {"head_dim", 64}, {"expert_ff", 128},
                                       {"weight_type", "q4_K"},
                                       {"tensor_types", {{"output", "q6_K"}, {"blk.1.attn_q", "q4_0"}}}}));
  EXPECT_EQ(f.get_uint("general.file_type"), 15u);  // Q4_K_M
  EXPECT_EQ(f.find_tensor("token_embd.weight")->type, TensorType::Q4_K);
  EXPECT_EQ(f.find_tensor("output.weight")->type, TensorType::Q6_K);
  EXPECT_EQ(f.find_tensor("blk.0.attn_q.weight")->type, TensorType::Q4_K);
  EXPECT_EQ(f.find_tensor("blk.1.attn_q.weight")->type, TensorType::Q4_0);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_gate_exps.weight")->type, TensorType::Q4_K);
  // Rows of 128 cannot hold 256-element K blocks: q8_0 instead.
  EXPECT_EQ(f.find_tensor("blk.0.ffn_down_exps.weight")->type, TensorType::Q8_0);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_down_shexp.weight")->type, TensorType::Q8_0);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_norm.weight")->type, TensorType::F32);
  // Every tensor decodes to finite values.
  for (const auto& t : f.tensors())
    for (float x : values(t)) ASSERT_TRUE(std::isfinite(x)) << t.name;
}

TEST_F(MakerTest, TypeWithoutQuantizerNeedsNoData) {
  const ModelConfig c = small({{"weight_type", "iq2_xxs"}, {"d_model", 256}, {"head_dim", 64}});
  try {
    make_model(c, 1, dir_.path("x.gguf"));
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("--no-data"));
  }
  make_model(c, 1, dir_.path("x.gguf"), /*no_data=*/true);
  EXPECT_EQ(gguf::GgufFile::open(dir_.path("x.gguf")).find_tensor("blk.0.attn_q.weight")->type, TensorType::IQ2_XXS);
}

TEST_F(MakerTest, ValuesHaveTheIntendedScale) {
  const gguf::GgufFile f = make(small({{"d_model", 256}, {"head_dim", 64}, {"weight_type", "f32"}}));
  const Stats q = stats(values(*f.find_tensor("blk.0.attn_q.weight")));
  EXPECT_NEAR(q.mean, 0.0, 0.005);
  EXPECT_NEAR(q.std, 1.0 / 16.0, 0.003);  // 1/sqrt(256)
  const Stats down = stats(values(*f.find_tensor("blk.0.ffn_down_exps.weight")));
  EXPECT_NEAR(down.std, 1.0 / std::sqrt(32.0), 0.01);
  const Stats norm = stats(values(*f.find_tensor("blk.1.ffn_norm.weight")));
  EXPECT_NEAR(norm.mean, 1.0, 0.03);
  EXPECT_NEAR(norm.std, 0.1, 0.03);
  const Stats emb = stats(values(*f.find_tensor("token_embd.weight")));
  EXPECT_NEAR(emb.std, 1.0, 0.02);
  const Stats out = stats(values(*f.find_tensor("output.weight")));
  EXPECT_NEAR(out.std, 0.25, 0.01);  // 4/sqrt(256)
  // Different tensors get different values.
  EXPECT_NE(values(*f.find_tensor("blk.0.attn_q.weight")), values(*f.find_tensor("blk.1.attn_q.weight")));
}

TEST_F(MakerTest, DeterministicPerSeedAndThreadCount) {
  const ModelConfig c = small({{"weight_type", "q8_0"}});
  make_model(c, 7, dir_.path("a.gguf"));
  make_model(c, 7, dir_.path("b.gguf"));
  make_model(c, 8, dir_.path("c.gguf"));
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  make_model(c, 7, dir_.path("d.gguf"));
  omp_set_num_threads(threads);
  const auto a = test::read_file(dir_.path("a.gguf"));
  EXPECT_EQ(a, test::read_file(dir_.path("b.gguf")));
  EXPECT_EQ(a, test::read_file(dir_.path("d.gguf")));
  const auto c8 = test::read_file(dir_.path("c.gguf"));
  ASSERT_EQ(a.size(), c8.size());
  EXPECT_NE(a, c8);
}

// The `tiny` preset must reproduce the shared llama4-tiny model's layout:
// every tensor name and shape, and every hyper-parameter and tokenizer key.
TEST_F(MakerTest, TinyPresetMatchesSharedTinyModel) {
  if (!test::have_shared()) GTEST_SKIP() << "needs " << test::shared_dir();
  json j = preset_json("tiny");
  j["vocab"]["tiktoken"] = test::shared_dir() + "/models/llama4/tokenizer.model";
  const gguf::GgufFile mine = make(parse_model_config(j));
  const gguf::GgufFile ref = gguf::GgufFile::open(test::shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf");

  ASSERT_EQ(mine.tensors().size(), ref.tensors().size());
  for (size_t i = 0; i < ref.tensors().size(); ++i) {
    const auto& r = ref.tensors()[i];
    const auto& m = mine.tensors()[i];
    EXPECT_EQ(m.name, r.name);
    EXPECT_EQ(shape_of(m), shape_of(r)) << r.name;
    // The reference's f16 conversion kept the router in f16; the maker writes
    // it in f32 as quantized downloads do.
    if (r.name.find("ffn_gate_inp") == std::string::npos) {
      EXPECT_EQ(m.type, r.type) << r.name;
    }
  }
  for (const auto& [key, value] : ref.metadata()) {
    if (key == "general.name") continue;
    const gguf::Value* v = mine.find(key);
    ASSERT_NE(v, nullptr) << "missing " << key;
    EXPECT_TRUE(*v == value) << key << ": " << v->to_display() << " vs " << value.to_display();
  }
  for (const auto& [key, value] : mine.metadata()) {
    if (key.rfind("llama4.", 0) == 0) {
      EXPECT_NE(ref.find(key), nullptr) << "extra key " << key;
    }
  }
}

// A full-size Scout-shaped file with --no-data is a sparse hole: ~200 GB long,
// almost nothing on disk, and opens at once.
TEST_F(MakerTest, NoDataScoutLayersIsSparse) {
  json j = preset_json("scout-layers");
  j["vocab"] = {{"builtin", true}};
  const std::string path = dir_.path("scout.gguf");
  make_model(parse_model_config(j), 1, path, /*no_data=*/true);

  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  const double gb = static_cast<double>(st.st_size) / 1e9;
  EXPECT_GT(gb, 190.0);
  EXPECT_LT(gb, 240.0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 64ull << 20) << "allocated bytes";

  const auto t0 = std::chrono::steady_clock::now();
  const gguf::GgufFile f = gguf::GgufFile::open(path);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  EXPECT_EQ(f.tensors().size(), 4u + 48u * 13u);
  EXPECT_EQ(f.get_uint("llama4.block_count"), 48u);
  EXPECT_EQ(shape_of(*f.find_tensor("blk.47.ffn_down_exps.weight")), (Shape{8192, 5120, 16}));
  EXPECT_EQ(shape_of(*f.find_tensor("rope_freqs.weight")), (Shape{64}));
  EXPECT_EQ(read_hparams(f).n_head, 40u);
}

// ---- The make-model command -----------------------------------------------

TEST(MakerCli, ListPresets) {
  const auto r = test::run_scout({"make-model", "--list-presets"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"default", "tiny", "bench", "scout-layers"}) EXPECT_THAT(r.out, HasSubstr(name));
}

TEST(MakerCli, FlagsOverrideThePreset) {
  test::TempDir dir;
  const std::string out = dir.path("m.gguf");
  const auto r = test::run_scout({"make-model", "--preset", "tiny", "--vocab", "builtin", "-o", out, "--seed", "3",
                                  "--type", "q8_0", "--layers", "2", "--set", "chunk_size=0", "--set",
                                  "name=cli-test"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  const gguf::GgufFile f = gguf::GgufFile::open(out);
  EXPECT_EQ(f.get_uint("llama4.block_count"), 2u);
  EXPECT_EQ(f.get_uint("llama4.attention.sliding_window"), 0u);
  EXPECT_EQ(f.get_string("general.name"), "cli-test");
  EXPECT_EQ(f.get_uint("general.file_type"), 7u);
  EXPECT_EQ(f.find_tensor("blk.0.attn_q.weight")->type, TensorType::Q8_0);
  EXPECT_EQ(f.get_uint("llama4.vocab_size"), 2304u);
}

TEST(MakerCli, ConfigFileAndMaxRanks) {
  if (!test::have_shared()) GTEST_SKIP() << "needs " << test::shared_dir();
  test::TempDir dir;
  json j = small_json();
  j["vocab"] = {{"tiktoken", test::shared_dir() + "/models/llama4/tokenizer.model"}};
  std::ofstream(dir.path("c.json")) << j.dump();
  const auto r = test::run_scout({"make-model", "--config", dir.path("c.json"), "--max-ranks", "1000", "-o",
                                  dir.path("m.gguf")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(gguf::GgufFile::open(dir.path("m.gguf")).get_uint("llama4.vocab_size"), 3048u);
}

TEST(MakerCli, Errors) {
  test::TempDir dir;
  const std::string out = dir.path("m.gguf");
  auto err = [](const std::vector<std::string>& args) {
    const auto r = test::run_scout(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    return r.err;
  };
  EXPECT_THAT(err({"make-model", "-o", out}), HasSubstr("--preset"));
  EXPECT_THAT(err({"make-model", "--preset", "default"}), HasSubstr("--output"));
  EXPECT_THAT(err({"make-model", "--preset", "nope", "-o", out}), HasSubstr("unknown preset 'nope'"));
  EXPECT_THAT(err({"make-model", "--preset", "default", "-o", out, "--set", "bogus=1"}),
              HasSubstr("unknown field 'bogus'"));
  EXPECT_THAT(err({"make-model", "--preset", "default", "-o", out, "--type", "q9"}), HasSubstr("q9"));
  EXPECT_THAT(err({"make-model", "--preset", "default", "-o", out, "--vocab", dir.path("none.model")}),
              HasSubstr("not found"));
  EXPECT_THAT(err({"make-model", "--config", dir.path("none.json"), "-o", out}), HasSubstr("none.json"));
  EXPECT_FALSE(std::ifstream(out).good());
}

}  // namespace
}  // namespace scout::maker
