// Session bookkeeping: positions, the context limit, bad token ids, reset, and
// that evaluating in pieces equals evaluating at once.
#include "engine/session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>

#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "test_util.h"

namespace scout::engine {
namespace {

using ::testing::HasSubstr;

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const nlohmann::json cfg = {{"n_layer", 2}, {"d_model", 64}, {"n_head", 4}, {"n_head_kv", 2},
                                {"n_expert", 4}, {"expert_ff", 32}, {"dense_ff", 96}, {"chunk_size", 16},
                                {"nope_period", 2}, {"context_length", 64}, {"weight_type", "q8_0"},
                                {"vocab", {{"builtin", true}}}};
    maker::make_model(maker::parse_model_config(cfg), 1, dir_.path("m.gguf"));
    model_ = Model::load(dir_.path("m.gguf"));
  }
  test::TempDir dir_;
  std::unique_ptr<Model> model_;
};

TEST_F(SessionTest, ContextLimitIsEnforced) {
  Session s(*model_);
  EXPECT_EQ(s.n_ctx(), 64u);  // the model's context_length by default
  const std::vector<int32_t> tokens(65, 1);
  try {
    s.eval(tokens);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "prompt of 65 tokens does not fit the context of 64");
  }
  EXPECT_EQ(s.n_past(), 0u);
  s.eval(std::span(tokens).first(60));
  EXPECT_EQ(s.n_past(), 60u);
  EXPECT_THROW(s.eval(std::span(tokens).first(5)), std::runtime_error);
  s.eval(std::span(tokens).first(4));
  EXPECT_EQ(s.n_past(), 64u);

  SessionOptions small;
  small.n_ctx = 8;
  Session t(*model_, small);
  EXPECT_THAT([&] { t.eval(std::span(tokens).first(9)); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("does not fit the context of 8")));
}

TEST_F(SessionTest, TokenIdsAreChecked) {
  Session s(*model_);
  const int32_t bad[] = {1, static_cast<int32_t>(model_->hparams().n_vocab)};
  EXPECT_THAT([&] { s.eval(bad); }, ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("out of range")));
  EXPECT_EQ(s.n_past(), 0u);
}

TEST_F(SessionTest, PiecesEqualWholeAndResetStartsOver) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < 40; ++i) tokens.push_back((i * 37 + 5) % 2304);
  // The f32 path: on the 8-bit one, batches of 16+ rows (the whole prompt, an
  // expert's share of it) take the panel kernels, which round differently from
  // the row kernels the 13-token pieces use, and one expert choice flipped by
  // that rounding moves every logit (BatchIndependence in
  // forward_vs_reference_test covers that path with its tolerance).
  SessionOptions exact;
  exact.quantize_activations = false;
  Session whole(*model_, exact);
  const std::vector<float> all = whole.eval(tokens, true);
  const size_t V = model_->hparams().n_vocab;
  ASSERT_EQ(all.size(), tokens.size() * V);

  Session pieces(*model_, exact);
  std::vector<float> last;
  for (size_t i = 0; i < tokens.size(); i += 13) last = pieces.eval(std::span(tokens).subspan(i, std::min<size_t>(13, tokens.size() - i)));
  ASSERT_EQ(last.size(), V);
  for (size_t i = 0; i < V; ++i) EXPECT_NEAR(last[i], all[(tokens.size() - 1) * V + i], 1e-5);

  pieces.reset();
  EXPECT_EQ(pieces.n_past(), 0u);
  const std::vector<float> first = pieces.eval(std::span(tokens).first(1));
  for (size_t i = 0; i < V; ++i) EXPECT_NEAR(first[i], all[i], 1e-5);
}

// eval_top / decode_top give each row's largest logits, largest first, ties
// to the lower id: the top of what eval / decode return, for the same passes.
TEST_F(SessionTest, TopTokensAreTheTopOfTheLogits) {
  const uint32_t V = model_->hparams().n_vocab;
  const std::vector<int32_t> prompt = test::random_tokens(20, V, 3);
  auto top_of = [](std::span<const float> l, int k) {
    std::vector<int32_t> ids(l.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
    ids.resize(static_cast<size_t>(k));
    return ids;
  };
  SessionOptions o;
  o.n_seq = 2;
  Session full(*model_, o), top(*model_, o);
  const std::vector<float> l = full.eval(prompt);
  const TopTokens t = top.eval_top(prompt, 5);
  ASSERT_EQ(t.k, 5);
  EXPECT_EQ(std::vector<int32_t>(t.row_ids(0).begin(), t.row_ids(0).end()), top_of(l, 5));
  for (int j = 0; j < 5; ++j) EXPECT_EQ(t.row_logits(0)[j], l[t.row_ids(0)[j]]);

  full.eval_seq(1, std::span(prompt).first(7));
  top.eval_seq(1, std::span(prompt).first(7));
  const std::vector<SeqToken> steps = {{1, 4}, {0, 9}};
  const std::vector<float> both = full.decode(steps);
  const TopTokens tb = top.decode_top(steps, 3);
  for (size_t r = 0; r < 2; ++r) {
    const std::vector<int32_t> want = top_of(std::span(both).subspan(r * V, V), 3);
    EXPECT_EQ(std::vector<int32_t>(tb.row_ids(r).begin(), tb.row_ids(r).end()), want) << r;
  }
  // k past the vocabulary is the whole vocabulary, sorted.
  EXPECT_EQ(top.eval_top(std::span(prompt).first(1), static_cast<int>(V) + 10).k, static_cast<int>(V));
  EXPECT_THROW(top.eval_top(std::span(prompt).first(1), 0), std::invalid_argument);
}

}  // namespace
}  // namespace scout::engine
