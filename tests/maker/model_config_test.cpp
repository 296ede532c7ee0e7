// The maker's JSON config: defaults, strictness, --set overrides, presets.
#include "maker/model_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace scout::maker {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

std::string error_of(const json& j) {
  try {
    parse_model_config(j);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(MakerConfig, EmptyObjectGivesValidDefaults) {
  const ModelConfig c = parse_model_config(json::object());
  EXPECT_EQ(c.arch, "llama4");
  EXPECT_EQ(c.resolved_head_dim(), c.d_model / c.n_head);
  EXPECT_TRUE(c.vocab.builtin);
  EXPECT_EQ(c.nope_period, 4u);
  EXPECT_EQ(c.chunk_size, 8192u);
}

TEST(MakerConfig, ParsesEveryField) {
  const json j = json::parse(R"({
    "arch": "llama4", "name": "x", "n_layer": 3, "d_model": 128, "n_head": 2, "n_head_kv": 1,
    "head_dim": 32, "n_expert": 4, "n_expert_used": 2, "expert_ff": 64, "dense_ff": 96,
    "shared_expert": false, "interleave_moe_layer_step": 2, "nope_period": 3, "chunk_size": 0,
    "context_length": 4096, "rope_base": 10000.5, "rope_freqs": true, "norm_eps": 1e-6,
    "tie_embeddings": true, "weight_type": "Q4_K", "tensor_types": {"output": "q6_K"},
    "vocab": {"tiktoken": "tok.model", "max_ranks": 1000}})");
  const ModelConfig c = parse_model_config(j);
  EXPECT_EQ(c.n_layer, 3u);
  EXPECT_EQ(c.resolved_head_dim(), 32u);
  EXPECT_EQ(c.n_expert_used, 2u);
  EXPECT_FALSE(c.shared_expert);
  EXPECT_EQ(c.chunk_size, 0u);
  EXPECT_FLOAT_EQ(c.rope_base, 10000.5f);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-6f);
  EXPECT_EQ(c.weight_type, TensorType::Q4_K);
  EXPECT_EQ(c.tensor_types.at("output"), TensorType::Q6_K);
  EXPECT_FALSE(c.vocab.builtin);
  EXPECT_EQ(c.vocab.tiktoken, "tok.model");
  EXPECT_EQ(c.vocab.max_ranks, 1000u);
  EXPECT_FALSE(c.is_moe_layer(0));
  EXPECT_TRUE(c.is_moe_layer(1));
}

TEST(MakerConfig, StrictAboutNamesAndTypes) {
  EXPECT_THAT(error_of({{"n_layers", 4}}), HasSubstr("unknown field 'n_layers'"));
  EXPECT_THAT(error_of({{"n_layer", "4"}}), HasSubstr("'n_layer' must be a non-negative integer"));
  EXPECT_THAT(error_of({{"n_layer", -1}}), HasSubstr("'n_layer'"));
  EXPECT_THAT(error_of({{"n_layer", 2.5}}), HasSubstr("'n_layer'"));
  EXPECT_THAT(error_of({{"rope_base", "big"}}), HasSubstr("'rope_base' must be a number"));
  EXPECT_THAT(error_of({{"shared_expert", 1}}), HasSubstr("'shared_expert' must be true or false"));
  EXPECT_THAT(error_of({{"weight_type", "q9_0"}}), HasSubstr("unknown tensor type 'q9_0'"));
  EXPECT_THAT(error_of({{"tensor_types", {{"output", 3}}}}), HasSubstr("'tensor_types.output'"));
  EXPECT_THAT(error_of({{"vocab", {{"tiktoken", "a"}, {"bpe", 1}}}}), HasSubstr("unknown field 'vocab.bpe'"));
  EXPECT_THAT(error_of({{"vocab", json::object()}}), HasSubstr("exactly one of"));
  EXPECT_THAT(error_of({{"vocab", {{"builtin", true}, {"max_ranks", 5}}}}), HasSubstr("needs 'tiktoken'"));
  EXPECT_THAT(error_of({{"n_layer", 5000000000LL}}), HasSubstr("too large"));
  EXPECT_THAT(error_of(json::array()), HasSubstr("JSON object"));
}

TEST(MakerConfig, ChecksShapes) {
  EXPECT_THAT(error_of({{"n_head", 3}, {"n_head_kv", 2}}), HasSubstr("multiple of n_head_kv"));
  EXPECT_THAT(error_of({{"d_model", 100}, {"n_head", 3}, {"n_head_kv", 1}}), HasSubstr("set head_dim"));
  EXPECT_THAT(error_of({{"n_expert_used", 17}}), HasSubstr("n_expert_used"));
  EXPECT_THAT(error_of({{"n_layer", 0}}), HasSubstr("non-zero"));
  EXPECT_THAT(error_of({{"arch", "gpt2"}}), HasSubstr("'arch'"));
  EXPECT_THAT(error_of({{"head_dim", 33}}), HasSubstr("even"));
}

TEST(MakerConfig, LlamaArchRejectsLlama4OnlyFields) {
  const ModelConfig c = parse_model_config({{"arch", "llama"}});
  EXPECT_FALSE(c.shared_expert);
  EXPECT_EQ(c.chunk_size, 0u);
  EXPECT_TRUE(c.is_moe_layer(0));  // Mixtral-style: every layer when n_expert > 0
  EXPECT_THAT(error_of({{"arch", "llama"}, {"chunk_size", 0}}), HasSubstr("'chunk_size' is llama4-only"));
  EXPECT_THAT(error_of({{"arch", "llama"}, {"shared_expert", true}}), HasSubstr("llama4-only"));
}

TEST(MakerConfig, ApplySetting) {
  json j = json::object();
  apply_setting(j, "chunk_size=0");
  apply_setting(j, "arch=llama");                 // bare word -> string
  apply_setting(j, "name=\"quoted\"");
  apply_setting(j, "rope_freqs=true");
  apply_setting(j, "vocab.tiktoken=/x/tok.model");  // dotted -> nested
  apply_setting(j, "vocab.max_ranks=300");
  apply_setting(j, "tensor_types.output=q6_K");
  EXPECT_EQ(j["chunk_size"], 0);
  EXPECT_EQ(j["arch"], "llama");
  EXPECT_EQ(j["name"], "quoted");
  EXPECT_EQ(j["rope_freqs"], true);
  EXPECT_EQ(j["vocab"]["tiktoken"], "/x/tok.model");
  EXPECT_EQ(j["vocab"]["max_ranks"], 300);
  EXPECT_EQ(j["tensor_types"]["output"], "q6_K");
  EXPECT_THROW(apply_setting(j, "novalue"), std::runtime_error);
  EXPECT_THROW(apply_setting(j, "=3"), std::runtime_error);
  EXPECT_THROW(apply_setting(j, "arch.x=3"), std::runtime_error);  // arch is a string
}

TEST(MakerConfig, EveryPresetParses) {
  const auto names = preset_names();
  for (const char* want : {"default", "tiny", "bench", "scout-layers"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  for (const std::string& n : names) EXPECT_NO_THROW(parse_model_config(preset_json(n))) << n;
  EXPECT_TRUE(parse_model_config(preset_json("default")).vocab.builtin);
  const ModelConfig scout = parse_model_config(preset_json("scout-layers"));
  EXPECT_EQ(scout.n_layer, 48u);
  EXPECT_EQ(scout.d_model, 5120u);
  EXPECT_TRUE(scout.rope_freqs);
  EXPECT_THROW(preset_json("nope"), std::runtime_error);
}

}  // namespace
}  // namespace scout::maker
