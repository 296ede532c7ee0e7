// Long sequences on a nano Llama 4 with a small chunk (64), so one sequence
// crosses dozens of chunk boundaries and spans many KV blocks: every KV type
// against the plain reference forward, the same logits whatever the batch
// split, and chunked layers' memory flat as the context grows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "models/model.h"
#include "reference/reference_llama4.h"
#include "engine/session.h"
#include "test_util.h"

namespace scout {
namespace {

using backend::KvType;
using backend::KvTypes;

// 4 layers (0-2 chunked RoPE, 3 global NoPE), chunk 64, heads of 32 (a
// whole q8_0/q4_0 block), GQA 2.
const Model& nano_model() {
  static test::TempDir dir;
  static std::unique_ptr<Model> model = [] {
    const nlohmann::json cfg = {{"arch", "llama4"}, {"n_layer", 4}, {"d_model", 64}, {"n_head", 4}, {"n_head_kv", 2},
                                {"head_dim", 32}, {"n_expert", 4}, {"n_expert_used", 1}, {"expert_ff", 32},
                                {"dense_ff", 96}, {"chunk_size", 64}, {"context_length", 1 << 20},
                                {"weight_type", "f32"}, {"vocab", {{"builtin", true}}}};
    const std::string path = dir.path("nano.gguf");
    maker::make_model(maker::parse_model_config(cfg), 5, path);
    return Model::load(path);
  }();
  return *model;
}

engine::SessionOptions exact(KvTypes types, uint32_t batch = 512) {
  engine::SessionOptions o;
  o.kv_type = types;
  o.n_batch = batch;
  o.quantize_activations = false;  // the reference's weights math exactly: only the cache rounds
  return o;
}

// Per position, RMS of (ours - ref) over RMS of ref: its median and 90th
// percentile over positions, and the share of positions whose argmax agrees.
// Positions are ranked, not averaged: a rounded router input can pick
// another expert at one position, which moves that position a lot and
// leaves the others alone.
struct Agreement {
  double median_rel_rms = 0, p90_rel_rms = 0;
  double argmax_same = 0;
};

Agreement agreement(const std::vector<float>& ours, const std::vector<std::vector<double>>& ref, size_t n_vocab) {
  Agreement a;
  const test::PositionAgreement p = test::compare_positions(ours, ref, n_vocab);
  std::vector<double> rel = p.rel_rms;
  for (const bool same : p.argmax_same) a.argmax_same += same / static_cast<double>(rel.size());
  std::sort(rel.begin(), rel.end());
  a.median_rel_rms = rel[rel.size() / 2];
  a.p90_rel_rms = rel[rel.size() * 9 / 10];
  return a;
}

struct KvCase {
  KvTypes types;
  // Bounds on the relative RMS logit error. f32 only reorders sums. The
  // others round every cached value by a unit u: f16 to 11 significant bits
  // (u = 2^-12 relative), bf16 to 8 (2^-9), q8_0 to 1/254 of its 32-value
  // block's largest magnitude, q4_0 to 1/14 of it. Measured here, the
  // logits' relative error is about u at the median (f16 0.8u, bf16 0.8u,
  // q8_0 1.2u, q4_0 1.0u) and 2u at the 90th percentile, so the bounds are
  // median < 2u and p90 < 5u.
  double median_bound, p90_bound, argmax_min;
};

class LongContextKv : public ::testing::TestWithParam<KvCase> {};

// Teacher-forced logits of a 1,200-token sequence (18 chunk boundaries, 5
// KV blocks in the global layer) against the reference, for every KV type.
TEST_P(LongContextKv, MatchesTheReference) {
  const KvCase& c = GetParam();
  const Model& model = nano_model();
  const uint32_t V = model.hparams().n_vocab;
  const std::vector<int32_t> tokens = test::random_tokens(1200, V, 3);
  static const std::vector<std::vector<double>> want = reference::ReferenceModel(model.file()).forward(tokens);
  engine::Session s(model, exact(c.types, 256));
  const Agreement a = agreement(s.eval(tokens, true), want, V);
  std::printf("[long-context] K %s V %s: rel rms median %.2e p90 %.2e, argmax %.4f\n",
              std::string(backend::kv_type_name(c.types.k)).c_str(), std::string(backend::kv_type_name(c.types.v)).c_str(),
              a.median_rel_rms, a.p90_rel_rms, a.argmax_same);
  EXPECT_LT(a.median_rel_rms, c.median_bound);
  EXPECT_LT(a.p90_rel_rms, c.p90_bound);
  EXPECT_GE(a.argmax_same, c.argmax_min);
}

INSTANTIATE_TEST_SUITE_P(
    Types, LongContextKv,
    ::testing::Values(KvCase{KvType::F32, 1e-5, 1e-5, 1.0}, KvCase{KvType::F16, 2 * 0x1p-12, 5 * 0x1p-12, 0.99},
                      KvCase{KvType::BF16, 2 * 0x1p-9, 5 * 0x1p-9, 0.98}, KvCase{KvType::Q8_0, 2 / 254.0, 5 / 254.0, 0.95},
                      KvCase{KvType::Q4_0, 2 / 14.0, 5 / 14.0, 0.7},
                      KvCase{{KvType::Q8_0, KvType::Q4_0}, 2 / 14.0, 5 / 14.0, 0.7}),
    [](const auto& info) {
      const KvTypes& t = info.param.types;
      return std::string(backend::kv_type_name(t.k)) + "_" + std::string(backend::kv_type_name(t.v));
    });

// The same sequence evaluated whole, token by token and in random batch
// sizes gives the same logits (f16 cache): the cache's contents do not depend
// on how a sequence arrives, and attention differs only in summation order.
TEST(LongContext, BatchSplitsGiveTheSameLogits) {
  const Model& model = nano_model();
  const uint32_t V = model.hparams().n_vocab;
  const std::vector<int32_t> tokens = test::random_tokens(700, V, 9);
  engine::Session whole(model, exact(KvType::F16));
  const std::vector<float> a = whole.eval(tokens, true);

  engine::Session one(model, exact(KvType::F16, 1));
  const std::vector<float> b = one.eval(tokens, true);

  engine::Session random(model, exact(KvType::F16));
  std::mt19937 rng(4);
  std::vector<float> c;
  for (size_t at = 0; at < tokens.size();) {
    const size_t n = std::min<size_t>(tokens.size() - at, std::uniform_int_distribution<size_t>(1, 150)(rng));
    const std::vector<float> part = random.eval(std::span(tokens).subspan(at, n), true);
    c.insert(c.end(), part.begin(), part.end());
    at += n;
  }
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), c.size());
  double db = 0, dc = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    db = std::max<double>(db, std::abs(a[i] - b[i]));
    dc = std::max<double>(dc, std::abs(a[i] - c[i]));
  }
  EXPECT_LT(db, 1e-4);
  EXPECT_LT(dc, 1e-4);
}

// Chunked layers hold at most the current chunk: as the context grows from
// 1,000 to 3,000 tokens only the global layer's blocks are added.
TEST(LongContext, ChunkedLayersStayFlat) {
  const Model& model = nano_model();
  engine::Session s(model, exact(KvType::Q8_0));
  const std::vector<int32_t> tokens = test::random_tokens(3000, model.hparams().n_vocab, 1);
  s.eval(std::span(tokens).first(1000));
  const engine::KvCache& kv = s.kv_cache();
  const size_t block = kv.block_bytes();
  for (uint32_t layer = 0; layer < 3; ++layer) EXPECT_EQ(kv.layer_bytes(layer, 0), block) << layer;
  EXPECT_EQ(kv.layer_bytes(3, 0), 4 * block);  // 1,000 positions in blocks of 256
  s.eval(std::span(tokens).subspan(1000));
  for (uint32_t layer = 0; layer < 3; ++layer) EXPECT_EQ(kv.layer_bytes(layer, 0), block) << layer;
  EXPECT_EQ(kv.layer_bytes(3, 0), 12 * block);
  EXPECT_LE(kv.bytes_allocated(), (3 + 12 + 1) * block);  // at most one block waiting for reuse
}

// The KV cache in a file (--kv-dir) holds the same values as in memory, and
// the directory is left empty.
TEST(LongContext, FileBackedCacheGivesTheSameLogits) {
  const Model& model = nano_model();
  const std::vector<int32_t> tokens = test::random_tokens(600, model.hparams().n_vocab, 2);
  engine::Session mem(model, exact(KvType::Q4_0));
  const std::vector<float> a = mem.eval(tokens, true);
  test::TempDir dir;
  engine::SessionOptions o = exact(KvType::Q4_0);
  o.kv_dir = dir.dir();
  {
    engine::Session file(model, o);
    EXPECT_EQ(file.eval(tokens, true), a);
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.dir()));
  o.kv_dir = dir.path("missing");
  EXPECT_THROW(engine::Session(model, o), std::runtime_error);
}

}  // namespace
}  // namespace scout
