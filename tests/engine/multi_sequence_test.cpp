// Several sequences in one session (`scout batch --parallel`): a forward pass
// over the rows of several sequences gives each the logits it gets alone, at
// different lengths and across chunk boundaries; bad batches are refused with
// the cache unchanged; one sequence is reset and reused while another goes on.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "models/model.h"
#include "engine/session.h"
#include "test_util.h"

namespace scout::engine {
namespace {

using nlohmann::json;

// Llama 4 with chunk 8: layers 0-2 chunked, layer 3 NoPE/global, MoE on every
// layer (the routed experts see rows of both sequences at once).
json llama4_config(const std::string& weight_type) {
  return {{"arch", "llama4"}, {"n_layer", 4}, {"d_model", 64}, {"n_head", 4}, {"n_head_kv", 2},
          {"head_dim", 16}, {"n_expert", 4}, {"n_expert_used", 1}, {"expert_ff", 32}, {"dense_ff", 96},
          {"chunk_size", 8}, {"context_length", 256}, {"weight_type", weight_type}, {"vocab", {{"builtin", true}}}};
}

double max_diff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])));
  return m;
}

struct Variant {
  std::string name;
  json config;
};

class MultiSequence : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    maker::make_model(maker::parse_model_config(GetParam().config), 5, dir_.path("m.gguf"));
    model_ = Model::load(dir_.path("m.gguf"));
    V_ = model_->hparams().n_vocab;
  }
  SessionOptions options(uint32_t n_seq) const {
    SessionOptions o;
    o.kv_type = KvType::F32;
    o.n_seq = n_seq;
    return o;
  }
  test::TempDir dir_;
  std::unique_ptr<Model> model_;
  size_t V_ = 0;
};

// Decoding two sequences together, one token each per pass, equals decoding
// each alone: A starts at 5 and B at 13 tokens, both cross a chunk boundary
// (8, 16) on the way, and the pair is given in both orders.
TEST_P(MultiSequence, DecodeTogetherEqualsAlone) {
  const std::vector<int32_t> a = test::random_tokens(5 + 8, static_cast<uint32_t>(V_), 1);
  const std::vector<int32_t> b = test::random_tokens(13 + 8, static_cast<uint32_t>(V_), 2);
  Session alone_a(*model_, options(1)), alone_b(*model_, options(1)), both(*model_, options(2));
  double worst = max_diff(alone_a.eval(std::span(a).first(5)), both.eval_seq(0, std::span(a).first(5)));
  worst = std::max(worst, max_diff(alone_b.eval(std::span(b).first(13)), both.eval_seq(1, std::span(b).first(13))));

  for (size_t i = 0; i < 8; ++i) {
    const std::vector<float> want_a = alone_a.eval(std::span(a).subspan(5 + i, 1));
    const std::vector<float> want_b = alone_b.eval(std::span(b).subspan(13 + i, 1));
    const bool swap = i % 2 == 1;
    const SeqToken sa{0, a[5 + i]}, sb{1, b[13 + i]};
    const std::vector<SeqToken> steps = swap ? std::vector{sb, sa} : std::vector{sa, sb};
    const std::vector<float> got = both.decode(steps);
    ASSERT_EQ(got.size(), 2 * V_);
    const std::span<const float> row_a(got.data() + (swap ? V_ : 0), V_), row_b(got.data() + (swap ? 0 : V_), V_);
    worst = std::max({worst, max_diff(want_a, row_a), max_diff(want_b, row_b)});
  }
  EXPECT_EQ(both.n_past(0), 13u);
  EXPECT_EQ(both.n_past(1), 21u);
  std::printf("[multi-seq] %s: decode together vs alone, max |diff| %.3g\n", GetParam().name.c_str(), worst);
  EXPECT_LT(worst, 1e-4);
}

// One forward pass over segments of several tokens: A's 3 rows at positions
// 5-7 (up to a chunk's end), B's 5 rows at 16-20 (the start of a chunk), and
// C's first 2 rows; every row's logits match the sequence evaluated alone.
TEST_P(MultiSequence, SegmentsOfSeveralRowsInOnePass) {
  const std::vector<int32_t> a = test::random_tokens(8, static_cast<uint32_t>(V_), 3);
  const std::vector<int32_t> b = test::random_tokens(21, static_cast<uint32_t>(V_), 4);
  const std::vector<int32_t> c = test::random_tokens(2, static_cast<uint32_t>(V_), 5);
  Session alone(*model_, options(1));
  const std::vector<float> want_a = alone.eval(a, true);
  alone.reset();
  const std::vector<float> want_b = alone.eval(b, true);
  alone.reset();
  const std::vector<float> want_c = alone.eval(c, true);

  for (const bool all_logits : {true, false}) {
    SessionOptions o = options(3);
    Session s(*model_, o);
    // Histories: A's first 5 and B's first 16 tokens, each sequence alone.
    s.eval_seq(0, std::span(a).first(5));
    s.eval_seq(1, std::span(b).first(16));
    ASSERT_EQ(s.n_past(0), 5u);
    ASSERT_EQ(s.n_past(1), 16u);

    const std::vector<SeqTokens> parts = {
        {0, std::span(a).subspan(5)}, {1, std::span(b).subspan(16)}, {2, std::span(c)}};
    const std::vector<float> got = s.eval_batch(parts, all_logits);
    ASSERT_EQ(got.size(), (all_logits ? 10 : 3) * V_);
    EXPECT_EQ(s.n_past(0), 8u);
    EXPECT_EQ(s.n_past(1), 21u);
    EXPECT_EQ(s.n_past(2), 2u);

    auto logits = [&](const std::vector<float>& all, size_t pos) { return std::span(all).subspan(pos * V_, V_); };
    auto out_row = [&](size_t r) { return std::span<const float>(got).subspan(r * V_, V_); };
    double worst = 0;
    if (all_logits) {
      for (size_t i = 0; i < 3; ++i) worst = std::max(worst, max_diff(logits(want_a, 5 + i), out_row(i)));
      for (size_t i = 0; i < 5; ++i) worst = std::max(worst, max_diff(logits(want_b, 16 + i), out_row(3 + i)));
      for (size_t i = 0; i < 2; ++i) worst = std::max(worst, max_diff(logits(want_c, i), out_row(8 + i)));
    } else {  // the last row of each segment
      worst = std::max({max_diff(logits(want_a, 7), out_row(0)), max_diff(logits(want_b, 20), out_row(1)),
                        max_diff(logits(want_c, 1), out_row(2))});
    }
    std::printf("[multi-seq] %s: segments (all_logits %d) vs alone, max |diff| %.3g\n", GetParam().name.c_str(),
                all_logits, worst);
    EXPECT_LT(worst, 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, MultiSequence,
                         ::testing::Values(Variant{"llama4_f32", llama4_config("f32")},
                                           Variant{"llama4_q8_0",
                                                   [] {
                                                     json c = llama4_config("q8_0");
                                                     c.update({{"d_model", 256}, {"head_dim", 64}, {"expert_ff", 256},
                                                               {"dense_ff", 256}});
                                                     return c;
                                                   }()},
                                           Variant{"llama_mixtral_top2",
                                                   [] {
                                                     json c = llama4_config("f32");
                                                     c.update({{"arch", "llama"}, {"n_expert_used", 2}});
                                                     c.erase("chunk_size");
                                                     return c;
                                                   }()}),
                         [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

class MultiSequenceSession : public ::testing::Test {
 protected:
  void SetUp() override {
    maker::make_model(maker::parse_model_config(llama4_config("f32")), 5, dir_.path("m.gguf"));
    model_ = Model::load(dir_.path("m.gguf"));
  }
  test::TempDir dir_;
  std::unique_ptr<Model> model_;
};

// A batch that would put the cache in a bad state is refused before anything changes.
TEST_F(MultiSequenceSession, BadBatchesLeaveTheCacheAlone) {
  SessionOptions o;
  o.n_seq = 2;
  o.n_ctx = 10;
  Session s(*model_, o);
  const std::vector<int32_t> t = test::random_tokens(10, model_->hparams().n_vocab, 6);
  s.eval_seq(0, std::span(t).first(7));
  s.eval_seq(1, std::span(t).first(10));  // full
  EXPECT_THROW(s.decode(std::vector<SeqToken>{{0, 1}, {0, 2}}), std::invalid_argument);  // twice
  EXPECT_THROW(s.decode(std::vector<SeqToken>{{0, 1}, {2, 2}}), std::invalid_argument);  // no such sequence
  EXPECT_THROW(s.decode(std::vector<SeqToken>{{0, 1}, {1, 2}}), std::runtime_error);     // 1 is full
  EXPECT_THROW(s.decode(std::vector<SeqToken>{{0, -1}}), std::runtime_error);            // bad id
  EXPECT_THROW(s.eval_seq(2, std::span(t).first(1)), std::invalid_argument);
  EXPECT_EQ(s.n_past(0), 7u);
  EXPECT_EQ(s.n_past(1), 10u);

  // General passes (sequence 0 at 6 of a chunk of 8, 1 empty): a part
  // across a chunk boundary, a sequence twice, an empty part, a sequence the
  // session does not have, more tokens than a batch.
  SessionOptions small;
  small.n_seq = 2;
  small.n_batch = 8;
  Session p(*model_, small);
  p.eval_seq(0, std::span(t).first(6));
  const auto three = std::span(t).first(3), one = std::span(t).first(1);
  EXPECT_THROW(p.eval_batch(std::vector<SeqTokens>{{1, one}, {0, three}}), std::logic_error);
  EXPECT_THROW(p.eval_batch(std::vector<SeqTokens>{{0, one}, {0, one}}), std::invalid_argument);
  EXPECT_THROW(p.eval_batch(std::vector<SeqTokens>{{0, one}, {1, {}}}), std::invalid_argument);
  EXPECT_THROW(p.eval_batch(std::vector<SeqTokens>{{0, one}, {2, one}}), std::invalid_argument);
  EXPECT_THROW(p.eval_batch(std::vector<SeqTokens>{{1, std::span(t).first(9)}}), std::invalid_argument);
  EXPECT_EQ(p.n_past(0), 6u);
  EXPECT_EQ(p.n_past(1), 0u);
}

// Sequence 0 is reset and reused while sequence 1 goes on: neither notices.
TEST_F(MultiSequenceSession, ResetOneSequenceWhileAnotherGoesOn) {
  const uint32_t V = model_->hparams().n_vocab;
  const std::vector<int32_t> a = test::random_tokens(12, V, 7), b = test::random_tokens(20, V, 8), c = test::random_tokens(9, V, 9);
  SessionOptions o;
  o.n_seq = 2;
  Session both(*model_, o), alone(*model_);
  both.eval_seq(0, a);
  both.eval_seq(1, std::span(b).first(10));
  both.reset(0);
  EXPECT_EQ(both.n_past(0), 0u);
  EXPECT_EQ(both.n_past(1), 10u);
  const std::vector<float> got_c = both.eval_seq(0, c);
  const std::vector<float> got_b = both.eval_seq(1, std::span(b).subspan(10));
  EXPECT_LT(max_diff(alone.eval(c), got_c), 1e-5);
  alone.reset();
  EXPECT_LT(max_diff(alone.eval(b), got_b), 1e-5);
  // The freed blocks went back to the pool and were taken again: nothing grew.
  EXPECT_EQ(both.kv_cache().bytes_in_use(), both.kv_cache().bytes_allocated());
}

}  // namespace
}  // namespace scout::engine
