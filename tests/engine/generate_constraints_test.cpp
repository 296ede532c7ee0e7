// Generation's constraints and reports for the OpenAI-compatible server:
// response_format json_object (the text is always a prefix of one JSON object,
// and generation ends when it is whole) and logprobs (log-softmax of the raw
// logits, with the most likely alternatives), on a maker-written model with the
// byte-level vocabulary, on synthetic logits, and on tiny hand-made
// vocabularies.
#include "engine/generate.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "gguf/reader.h"
#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "models/model.h"
#include "sampling/json_prefix.h"
#include "test_util.h"

namespace scout::engine {
namespace {

// A vocabulary given as a list: specials render as their text, or nothing.
class ListTokenizer final : public tokenizer::Tokenizer {
 public:
  ListTokenizer(std::vector<std::string> tokens, std::set<int32_t> specials, std::set<int32_t> eogs)
      : tokens_(std::move(tokens)), specials_(std::move(specials)), eogs_(std::move(eogs)) {}
  std::vector<int32_t> encode(std::string_view, bool, bool) const override { return {}; }
  std::string token_bytes(int32_t id, bool render_specials) const override {
    const std::string& t = tokens_.at(static_cast<size_t>(id));
    return specials_.count(id) && !render_specials ? std::string() : t;
  }
  size_t n_vocab() const override { return tokens_.size(); }
  int32_t bos() const override { return -1; }
  bool add_bos() const override { return false; }
  bool is_eog(int32_t id) const override { return eogs_.count(id) > 0; }
  std::string token_text(int32_t id) const override { return tokens_.at(static_cast<size_t>(id)); }

 private:
  std::vector<std::string> tokens_;
  std::set<int32_t> specials_, eogs_;
};

// Logits that are -5 everywhere but the given tokens.
std::vector<float> logits_with(size_t n, std::map<int32_t, float> high) {
  std::vector<float> l(n, -5.0f);
  for (const auto& [id, v] : high) l[static_cast<size_t>(id)] = v;
  return l;
}

GenerateOptions json_options(float temperature, uint64_t seed, int64_t max_tokens) {
  GenerateOptions go;
  go.json_object = true;
  go.max_tokens = max_tokens;
  go.sampler.temperature = temperature;
  go.sampler.seed = seed;
  return go;
}

// What every json_object result must satisfy: a whole object when it stopped
// at its end, a valid prefix of one when it ran out of tokens.
void expect_json_result(const GenerateResult& r, const tokenizer::Tokenizer& tok) {
  EXPECT_EQ(r.text, tok.decode(r.ids, false));
  sampling::JsonPrefix j;
  ASSERT_TRUE(j.feed(r.text)) << r.text;
  if (r.stop_reason == StopReason::EndOfGeneration) {
    EXPECT_STREQ(finish_reason(r.stop_reason), "stop");
    EXPECT_TRUE(j.complete()) << r.text;
    nlohmann::json parsed;
    ASSERT_NO_THROW(parsed = nlohmann::json::parse(r.text)) << r.text;
    EXPECT_TRUE(parsed.is_object()) << r.text;
    ASSERT_FALSE(r.ids.empty());
    EXPECT_FALSE(tok.is_eog(r.ids.back()));  // it ended at the '}', not at a drawn end token
  } else {
    EXPECT_EQ(r.stop_reason, StopReason::MaxTokens) << r.text;
    EXPECT_FALSE(j.complete()) << r.text;
  }
}

class GenerateConstraintsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    const nlohmann::json cfg = {{"n_layer", 2}, {"d_model", 64}, {"n_head", 4}, {"n_head_kv", 2},
                                {"n_expert", 4}, {"expert_ff", 32}, {"dense_ff", 96}, {"chunk_size", 64},
                                {"nope_period", 2}, {"context_length", 512}, {"weight_type", "q8_0"},
                                {"vocab", {{"builtin", true}}}};
    maker::make_model(maker::parse_model_config(cfg), 3, dir_->path("m.gguf"));
    model_ = Model::load(dir_->path("m.gguf")).release();
    tok_ = tokenizer::Tokenizer::from_gguf(model_->file()).release();
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete model_;
    delete dir_;
  }
  std::vector<int32_t> prompt() const { return tok_->encode("Reply in JSON: ", true, false); }

  static test::TempDir* dir_;
  static Model* model_;
  static tokenizer::Tokenizer* tok_;
};
test::TempDir* GenerateConstraintsTest::dir_ = nullptr;
Model* GenerateConstraintsTest::model_ = nullptr;
tokenizer::Tokenizer* GenerateConstraintsTest::tok_ = nullptr;

TEST_F(GenerateConstraintsTest, JsonObjectFromTheModelIsAlwaysValid) {
  std::vector<GenerateOptions> runs;
  runs.push_back(json_options(0, 0, 160));
  for (uint64_t seed = 1; seed <= 6; ++seed) runs.push_back(json_options(1, seed, 160));
  for (uint64_t seed = 7; seed <= 9; ++seed) {  // every logit in the draw, and a flatter distribution
    GenerateOptions go = json_options(1.5f, seed, 160);
    go.sampler.top_k = 0;
    go.sampler.top_p = 1;
    go.sampler.min_p = 0;
    runs.push_back(go);
  }
  GenerateOptions penalized = json_options(0.8f, 10, 160);
  penalized.sampler.repeat_penalty = 1.3f;
  penalized.sampler.frequency_penalty = 0.5f;
  runs.push_back(penalized);

  const auto table = std::make_shared<const JsonTokenTable>(*tok_);
  int stops = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    SCOPED_TRACE("run " + std::to_string(i));
    if (i % 2) runs[i].json_tokens = table;  // a shared table or the Generation's own
    Session session(*model_);
    std::string streamed;
    const GenerateResult r = generate(session, *tok_, prompt(), runs[i], [&](std::string_view s) { streamed += s; });
    EXPECT_EQ(streamed, r.text);
    expect_json_result(r, *tok_);
    stops += r.stop_reason == StopReason::EndOfGeneration;
    std::printf("run %zu: %s, %zu tokens: %s\n", i, finish_reason(r.stop_reason), r.ids.size(),
                nlohmann::json(r.text).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace).c_str());
  }
  std::printf("%d of %zu runs completed their object\n", stops, runs.size());
}

TEST_F(GenerateConstraintsTest, JsonObjectOnBiasedLogitsCompletesAndParses) {
  // Random logits that favour closing things: most generations finish their
  // object, and each one that does parses.
  const size_t V = tok_->n_vocab();
  const auto table = std::make_shared<const JsonTokenTable>(*tok_);
  int stops = 0;
  const int kRuns = 40;
  for (int run = 0; run < kRuns; ++run) {
    GenerateOptions go = json_options(run % 4 == 0 ? 0.0f : 1.0f, static_cast<uint64_t>(run), 300);
    go.json_tokens = table;
    Generation g(*tok_, {}, go);
    EXPECT_EQ(g.candidates(), 0);
    std::mt19937 rng(static_cast<uint32_t>(run));
    std::normal_distribution<float> normal(0.0f, 2.0f);
    std::vector<float> logits(V);
    for (uint64_t n = 1;; ++n) {
      for (float& l : logits) l = normal(rng);
      for (const char c : std::string("\"}]")) logits[static_cast<unsigned char>(c)] += 5;
      for (const char c : std::string(":,1t[{")) logits[static_cast<unsigned char>(c)] += 3;
      if (!g.step(logits, n, 100000)) break;
      ASSERT_LT(n, 1000u);
    }
    SCOPED_TRACE(g.result().text);
    expect_json_result(g.result(), *tok_);
    stops += g.result().stop_reason == StopReason::EndOfGeneration;
  }
  EXPECT_GE(stops, kRuns * 3 / 4);
}

TEST(GenerateJson, GreedyTakesTheMostLikelyValidToken) {
  //                     0    1    2    3    4     5        6     7
  const ListTokenizer tok({"x", "{", " ", "}", "{}", "<eos>", "\"", "<|s|>"}, {5, 7}, {5});
  GenerateOptions go = json_options(0, 0, 10);
  Generation g(tok, {}, go);
  // x, the end token and the other special are more likely, but cannot come first.
  std::optional<int32_t> next = g.step(logits_with(8, {{0, 10}, {5, 9}, {7, 8}, {1, 5}, {2, 4}, {4, 3}}), 1, 100);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 1);
  // After '{': "{}" and '{' are invalid, the end token too (the object is not whole).
  next = g.step(logits_with(8, {{5, 10}, {4, 9}, {1, 8}, {3, 1}, {6, 0}}), 2, 100);
  EXPECT_FALSE(next);  // '}' completed the object: nothing more is drawn
  const GenerateResult& r = g.result();
  EXPECT_EQ(r.ids, (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(r.text, "{}");
  EXPECT_EQ(r.stop_reason, StopReason::EndOfGeneration);
  EXPECT_TRUE(g.done());
  EXPECT_FALSE(g.step(logits_with(8, {}), 3, 100));
}

TEST(GenerateJson, PenaltiesAndTopKWorkOnTheMaskedLogits) {
  const ListTokenizer tok({"x", "{", " ", "}", "{}", "<eos>", "\"", "<|s|>"}, {5, 7}, {5});
  // top_k 1 keeps the most likely *valid* token, not 'x' (which would leave nothing).
  GenerateOptions go = json_options(1, 5, 10);
  go.sampler.top_k = 1;
  Generation g(tok, {}, go);
  EXPECT_EQ(g.candidates(), 0);
  EXPECT_EQ(g.step(logits_with(8, {{0, 10}, {4, 2}, {1, 1}}), 1, 100), std::nullopt);
  EXPECT_EQ(g.result().ids, (std::vector<int32_t>{4}));  // "{}" in one token
  EXPECT_EQ(g.result().text, "{}");
  EXPECT_EQ(g.result().stop_reason, StopReason::EndOfGeneration);
}

TEST(GenerateJson, NoValidTokenEndsTheGeneration) {
  const ListTokenizer tok({"a", "b", "<eos>"}, {2}, {2});
  Generation g(tok, {}, json_options(0, 0, 10));
  EXPECT_FALSE(g.step(logits_with(3, {{2, 10}}), 1, 100));
  EXPECT_TRUE(g.result().ids.empty());
  EXPECT_EQ(g.result().text, "");
  EXPECT_EQ(g.result().stop_reason, StopReason::EndOfGeneration);

  // The same mid-object: "{" and then only "a".
  const ListTokenizer tok2({"{", "a"}, {}, {});
  Generation g2(tok2, {}, json_options(0, 0, 10));
  EXPECT_EQ(g2.step(std::vector<float>{0, 1}, 1, 100), 0);
  EXPECT_FALSE(g2.step(std::vector<float>{0, 1}, 2, 100));
  EXPECT_EQ(g2.result().text, "{");
  EXPECT_EQ(g2.result().stop_reason, StopReason::EndOfGeneration);
}

TEST(GenerateJson, MaxTokensMidObjectIsLength) {
  const ListTokenizer tok({"{", "\"", "a", "}"}, {}, {});
  Generation g(tok, {}, json_options(0, 0, 3));
  EXPECT_EQ(g.step(std::vector<float>{1, 0, 0, 0}, 1, 100), 0);
  EXPECT_EQ(g.step(std::vector<float>{0, 1, 0, 0}, 2, 100), 1);
  EXPECT_EQ(g.step(std::vector<float>{0, 0, 1, 0}, 3, 100), 2);
  EXPECT_FALSE(g.step(std::vector<float>{0, 0, 0, 1}, 4, 100));
  EXPECT_EQ(g.result().text, "{\"a");
  EXPECT_STREQ(finish_reason(g.result().stop_reason), "length");
}

TEST(GenerateJson, TextStreamHoldsBackButTheValidatorSeesEveryByte) {
  // "é" split across two tokens: the stream emits it whole once the second
  // arrives, while the mask already knows the first byte opened a character
  // (only a continuation byte may follow).
  const ListTokenizer tok({"{\"", "\xc3", "\xa9", "\"", ":1}", "x"}, {}, {});
  std::string streamed;
  Generation g(tok, {}, json_options(0, 0, 10), [&](std::string_view s) { streamed += s; });
  EXPECT_EQ(g.step(std::vector<float>{1, 0, 0, 0, 0, 0}, 1, 100), 0);
  EXPECT_EQ(g.step(std::vector<float>{0, 1, 0, 0, 0, 0}, 2, 100), 1);
  EXPECT_EQ(streamed, "{\"");
  // The quote and 'x' are likelier, but only the continuation byte is valid.
  EXPECT_EQ(g.step(std::vector<float>{0, 0, 1, 5, 0, 5}, 3, 100), 2);
  EXPECT_EQ(streamed, "{\"\xc3\xa9");
  EXPECT_EQ(g.step(std::vector<float>{0, 0, 0, 1, 0, 0}, 4, 100), 3);
  EXPECT_FALSE(g.step(std::vector<float>{0, 0, 0, 0, 1, 0}, 5, 100));
  EXPECT_EQ(g.result().text, "{\"\xc3\xa9\":1}");
  EXPECT_EQ(streamed, g.result().text);
  EXPECT_EQ(g.result().stop_reason, StopReason::EndOfGeneration);
}

TEST(GenerateJson, NeedsEveryLogit) {
  const ListTokenizer tok({"{", "}"}, {}, {});
  GenerateOptions plain = json_options(0, 0, 10);
  plain.json_object = false;
  EXPECT_EQ(Generation(tok, {}, plain).candidates(), 1);
  Generation g(tok, {}, json_options(0, 0, 10));
  EXPECT_EQ(g.candidates(), 0);
  const int32_t ids[] = {0};
  const float logits[] = {1};
  EXPECT_THROW(g.step(ids, logits, 1, 100), std::invalid_argument);
  GenerateOptions lp = plain;
  lp.top_logprobs = 0;
  Generation h(tok, {}, lp);
  EXPECT_EQ(h.candidates(), 0);
  EXPECT_THROW(h.step(ids, logits, 1, 100), std::invalid_argument);
  lp.top_logprobs = -2;
  EXPECT_THROW(Generation(tok, {}, lp), std::invalid_argument);
  GenerateOptions wrong = json_options(0, 0, 10);
  wrong.json_tokens = std::make_shared<const JsonTokenTable>(ListTokenizer({"{"}, {}, {}));
  EXPECT_THROW(Generation(tok, {}, wrong), std::invalid_argument);
}

// allowed() (the sorted walk and its cache) against feeding every token on its own.
void expect_masks_agree(const JsonTokenTable& table, const std::vector<std::string>& docs) {
  size_t states = 0, allowed_total = 0;
  for (const std::string& d : docs) {
    sampling::JsonPrefix j;
    for (size_t i = 0; i <= d.size(); ++i) {
      const JsonTokenTable::Mask slow = table.allowed_slow(j);
      const auto fast = table.allowed(j);
      ASSERT_EQ(*fast, slow) << "after " << d.substr(0, i);
      EXPECT_EQ(table.allowed(j), fast);  // cached
      for (const uint64_t w : slow) allowed_total += static_cast<size_t>(__builtin_popcountll(w));
      ++states;
      if (i < d.size() && !j.feed(d.substr(i, 1))) break;
    }
  }
  EXPECT_GT(allowed_total, states);  // not all empty
}

const std::vector<std::string> kDocs = {
    "{\"a\":[1,2.5e-3,{\"b\":\"\\u00e9\\uD83D\\uDE00 \xe4\xb8\x96\"}],\"c\":true, \"d\" : null}",
    "{ \"nested\":[[[]],{},[{}],[[1],[false]]],\"n\":-0.0E+12}",
    "{\"k\":\"v\\n\\\"q\\\"\",\"arr\":[ \"x\" , -12 ]}",
};

TEST(JsonTokenTable, FastMasksEqualTheSlowOnes) {
  // Every substring of up to 4 bytes of the documents as a token, plus specials.
  std::set<std::string> pieces;
  for (const std::string& d : kDocs)
    for (size_t i = 0; i < d.size(); ++i)
      for (size_t n = 1; n <= 4 && i + n <= d.size(); ++n) pieces.insert(d.substr(i, n));
  std::vector<std::string> tokens(pieces.begin(), pieces.end());
  tokens.push_back("<eos>");
  tokens.push_back("<|x|>");
  tokens.push_back("");  // an empty token: never allowed (it would make no progress)
  const int32_t eos = static_cast<int32_t>(tokens.size() - 3), special = eos + 1;
  const ListTokenizer tok(tokens, {eos, special}, {eos});
  const JsonTokenTable table(tok);
  EXPECT_FALSE(table.is_text(eos));
  EXPECT_TRUE(table.is_eog(eos));
  EXPECT_FALSE(table.is_text(special));
  EXPECT_FALSE(table.is_text(special + 1));
  EXPECT_TRUE(table.is_text(0));
  EXPECT_EQ(table.bytes(0), tokens[0]);
  expect_masks_agree(table, kDocs);
  // Complete: only the end token.
  sampling::JsonPrefix done;
  ASSERT_TRUE(done.feed("{}"));
  const auto m = table.allowed(done);
  for (size_t i = 0; i < tokens.size(); ++i)
    EXPECT_EQ((*m)[i / 64] >> (i % 64) & 1, i == static_cast<size_t>(eos) ? 1u : 0u) << i;
}

TEST_F(GenerateConstraintsTest, ByteVocabularyMasksAgree) {
  const JsonTokenTable table(*tok_);
  EXPECT_EQ(table.size(), tok_->n_vocab());
  for (int32_t id = 0; id < 256; ++id) EXPECT_TRUE(table.is_text(id)) << id;
  for (int32_t id = 256; id < static_cast<int32_t>(table.size()); ++id) EXPECT_FALSE(table.is_text(id)) << id;
  expect_masks_agree(table, kDocs);
}

TEST(JsonTokenTable, Llama4VocabularyMasksAgree) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  test::TempDir dir;
  const nlohmann::json cfg = {{"n_layer", 1}, {"d_model", 64}, {"n_head", 4}, {"n_head_kv", 2},
                              {"n_expert", 2}, {"expert_ff", 32}, {"dense_ff", 64}, {"chunk_size", 64},
                              {"nope_period", 2}, {"context_length", 64}, {"weight_type", "f16"},
                              {"vocab", {{"tiktoken", test::shared_dir() + "/models/llama4/tokenizer.model"},
                                         {"max_ranks", 20000}}}};
  maker::make_model(maker::parse_model_config(cfg), 1, dir.path("v.gguf"), true);
  const gguf::GgufFile file = gguf::GgufFile::open(dir.path("v.gguf"));
  const auto tok = tokenizer::Tokenizer::from_gguf(file);
  const JsonTokenTable table(*tok);
  const int32_t eot = tok->encode("<|eot|>", false, true).at(0);
  EXPECT_FALSE(table.is_text(eot));
  EXPECT_TRUE(table.is_eog(eot));
  expect_masks_agree(table, {kDocs[0], kDocs[2]});
}

// The log-softmax of logits, in long double: the test's own.
std::vector<double> log_softmax(const std::vector<float>& logits) {
  long double mx = -INFINITY, sum = 0;
  for (const float l : logits) mx = std::max<long double>(mx, l);
  for (const float l : logits) sum += std::exp(static_cast<long double>(l) - mx);
  std::vector<double> out;
  for (const float l : logits) out.push_back(static_cast<double>(l - mx - std::log(sum)));
  return out;
}

// Checks r.logprobs against a replay of its tokens on a fresh session.
void expect_logprobs_match_replay(const Model& model, std::span<const int32_t> prompt, const GenerateResult& r,
                                  size_t n_top, bool greedy) {
  ASSERT_EQ(r.logprobs.size(), r.ids.size());
  Session session(model);
  std::vector<float> logits = session.eval(prompt);
  for (size_t i = 0; i < r.ids.size(); ++i) {
    SCOPED_TRACE("token " + std::to_string(i));
    const TokenLogprob& e = r.logprobs[i];
    const std::vector<double> ref = log_softmax(logits);
    double total = 0;
    for (const double lp : ref) total += std::exp(lp);
    EXPECT_NEAR(total, 1.0, 1e-9);
    EXPECT_EQ(e.id, r.ids[i]);
    EXPECT_LE(e.logprob, 0.0f);
    EXPECT_NEAR(e.logprob, ref[static_cast<size_t>(e.id)], 1e-5);
    ASSERT_EQ(e.top.size(), n_top);
    double top_mass = 0;
    for (size_t k = 0; k < e.top.size(); ++k) {
      const auto [id, lp] = e.top[k];
      EXPECT_NEAR(lp, ref[static_cast<size_t>(id)], 1e-5);
      top_mass += std::exp(lp);
      if (k > 0) {
        const float prev = logits[static_cast<size_t>(e.top[k - 1].first)], cur = logits[static_cast<size_t>(id)];
        EXPECT_TRUE(prev > cur || (prev == cur && e.top[k - 1].first < id)) << k;
      }
    }
    EXPECT_LE(top_mass, 1.0 + 1e-6);
    // The top list is the n most likely of all.
    if (!e.top.empty()) {
      const float last = logits[static_cast<size_t>(e.top.back().first)];
      size_t above = 0;
      for (const float l : logits) above += l > last;
      EXPECT_LT(above, n_top);
    }
    if (greedy && n_top > 0) {
      EXPECT_EQ(e.top[0].first, e.id);
      EXPECT_EQ(e.top[0].second, e.logprob);
    }
    if (i + 1 < r.ids.size()) {
      const int32_t next[] = {r.ids[i]};
      logits = session.eval(next);
    }
  }
}

TEST_F(GenerateConstraintsTest, LogprobsMatchAnIndependentLogSoftmax) {
  const std::vector<int32_t> p = prompt();
  for (const int n_top : {0, 1, 5, 20}) {
    SCOPED_TRACE("top " + std::to_string(n_top));
    GenerateOptions go;
    go.max_tokens = 12;
    go.sampler.temperature = 0;
    go.top_logprobs = n_top;
    Session session(*model_);
    const GenerateResult r = generate(session, *tok_, p, go);
    ASSERT_EQ(r.ids.size(), 12u);
    expect_logprobs_match_replay(*model_, p, r, static_cast<size_t>(n_top), true);
  }
  GenerateOptions sampled;
  sampled.max_tokens = 16;
  sampled.sampler.temperature = 1.2f;
  sampled.sampler.seed = 99;
  sampled.top_logprobs = 3;
  Session session(*model_);
  const GenerateResult r = generate(session, *tok_, p, sampled);
  expect_logprobs_match_replay(*model_, p, r, 3, false);
}

TEST_F(GenerateConstraintsTest, LogprobsAreOfTheRawLogitsUnderTheJsonMask) {
  const std::vector<int32_t> p = prompt();
  GenerateOptions go = json_options(0, 0, 24);
  go.top_logprobs = 4;
  Session session(*model_);
  const GenerateResult r = generate(session, *tok_, p, go);
  expect_json_result(r, *tok_);
  expect_logprobs_match_replay(*model_, p, r, 4, false);
  // The mask decides what is drawn, not what is reported: at some step the
  // model's favourite was not allowed (this model's first one is not '{'),
  // and the top list still leads with it.
  ASSERT_FALSE(r.logprobs.empty());
  size_t masked_favourites = 0;
  for (size_t i = 0; i < r.ids.size(); ++i) masked_favourites += r.logprobs[i].top[0].first != r.ids[i];
  EXPECT_GT(masked_favourites, 0u);
}

TEST_F(GenerateConstraintsTest, OffChangesNothing) {
  const std::vector<int32_t> p = prompt();
  for (const float temperature : {0.0f, 0.9f}) {
    SCOPED_TRACE(temperature);
    GenerateOptions go;
    go.max_tokens = 40;
    go.sampler.temperature = temperature;
    go.sampler.seed = 1234;
    // Before these features: a plain sampler loop over full logits.
    std::vector<int32_t> expected;
    {
      Session session(*model_);
      sampling::Sampler sampler(go.sampler);
      for (const int32_t id : p) sampler.accept(id);
      std::vector<float> logits = session.eval(p);
      while (expected.size() < 40) {
        const int32_t id = sampler.sample(logits);
        sampler.accept(id);
        expected.push_back(id);
        if (tok_->is_eog(id)) break;
        const int32_t one[] = {id};
        logits = session.eval(one);
      }
    }
    Session s1(*model_);
    const GenerateResult off = generate(s1, *tok_, p, go);  // the top-k path (candidates() > 0)
    EXPECT_EQ(off.ids, expected);
    EXPECT_TRUE(off.logprobs.empty());
    go.top_logprobs = 2;  // full logits now; the draws are the same
    Session s2(*model_);
    const GenerateResult on = generate(s2, *tok_, p, go);
    EXPECT_EQ(on.ids, expected);
    EXPECT_EQ(on.text, off.text);
    EXPECT_EQ(on.logprobs.size(), on.ids.size());
  }
}

TEST(TokenLogprob, TopListIsSortedWithTiesToTheLowerId) {
  const std::vector<float> logits = {1, 3, 3, 0, -INFINITY};
  const double lse = std::log(std::exp(1.0) + 2 * std::exp(3.0) + 1);
  const TokenLogprob e = token_logprob(logits, 0, 3);
  EXPECT_EQ(e.id, 0);
  EXPECT_NEAR(e.logprob, 1 - lse, 1e-6);
  ASSERT_EQ(e.top.size(), 3u);
  EXPECT_EQ(e.top[0].first, 1);
  EXPECT_EQ(e.top[1].first, 2);
  EXPECT_EQ(e.top[2].first, 0);
  EXPECT_NEAR(e.top[0].second, 3 - lse, 1e-6);
  EXPECT_EQ(e.top[0].second, e.top[1].second);
  const TokenLogprob all = token_logprob(logits, 4, 50);
  ASSERT_EQ(all.top.size(), 5u);  // at most the vocabulary
  EXPECT_EQ(all.top[3].first, 3);
  EXPECT_EQ(all.top[4].first, 4);
  EXPECT_EQ(all.logprob, -INFINITY);
  EXPECT_TRUE(token_logprob(logits, 1, 0).top.empty());
  EXPECT_THROW(token_logprob(logits, 5, 1), std::invalid_argument);
}

}  // namespace
}  // namespace scout::engine
