// Speculative decoding by prompt lookup (engine/lookup.h): the drafts, and
// generation with --lookup giving exactly the tokens of plain decoding, greedy
// and seeded, through stop strings, max_tokens, a full context and chunked
// attention boundaries, on the trained stories260K (where guesses are often
// right) and on the random Q8_0 Llama 4 default.
#include "engine/lookup.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "engine/generate.h"
#include "engine/session.h"
#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "models/model.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace scout::engine {
namespace {

using Ids = std::vector<int32_t>;

TEST(LookupDraft, TheLongestNgramsLatestOccurrenceGoesOn) {
  //               0  1  2  3  4  5  6  7  8  9 10 11
  const Ids h = {5, 1, 2, 3, 9, 1, 2, 4, 8, 7, 1, 2};
  // "1 2" occurs at 1 and 5: the latest (5) goes on with 4 8 7.
  EXPECT_EQ(lookup_draft(h, 3), (Ids{4, 8, 7}));
  EXPECT_EQ(lookup_draft(h, 1), (Ids{4}));
  // A 3-gram wins over shorter ones: "9 1 2" occurred at 0, "1 2" later at 5.
  const Ids g = {9, 1, 2, 6, 6, 1, 2, 5, 9, 1, 2};
  EXPECT_EQ(lookup_draft(g, 2), (Ids{6, 6}));
  // The continuation stops at the end of the history.
  const Ids e = {3, 4, 3, 4};
  EXPECT_EQ(lookup_draft(e, 5), (Ids{3, 4}));
  EXPECT_TRUE(lookup_draft(Ids{1, 2, 3}, 4).empty());  // nothing recurs
  EXPECT_TRUE(lookup_draft(Ids{7}, 4).empty());
  EXPECT_TRUE(lookup_draft(Ids{}, 4).empty());
  EXPECT_TRUE(lookup_draft(h, 0).empty());
}

TEST(LookupDraft, SingleTokensOnlyWhenAsked) {
  const Ids h = {6, 1, 7, 8, 2, 1};  // "2 1" never recurs; "1" does, at 1
  EXPECT_TRUE(lookup_draft(h, 3).empty());  // by default an n-gram is 2 or 3 tokens
  EXPECT_EQ(lookup_draft(h, 3, 3, 1), (Ids{7, 8, 2}));
}

GenerateResult generate_text(const Model& model, const std::string& prompt, GenerateOptions go, uint64_t n_ctx = 512) {
  const auto tok = tokenizer::Tokenizer::from_gguf(model.file());
  SessionOptions so;
  so.n_ctx = n_ctx;
  so.n_threads = 1;
  Session session(model, so);
  const Ids ids = tok->encode(prompt, tok->add_bos(), false);
  return generate(session, *tok, ids, go);
}

// The same generation with and without lookup: the same ids, text and ending.
void expect_same(const Model& model, const std::string& prompt, GenerateOptions go, int lookup, uint64_t n_ctx,
                 uint64_t* accepted = nullptr) {
  const GenerateResult plain = generate_text(model, prompt, go, n_ctx);
  go.lookup = lookup;
  const GenerateResult spec = generate_text(model, prompt, go, n_ctx);
  EXPECT_EQ(spec.ids, plain.ids) << "lookup " << lookup;
  EXPECT_EQ(spec.text, plain.text);
  EXPECT_EQ(spec.stop_reason, plain.stop_reason);
  EXPECT_LE(spec.lookup_accepted, spec.lookup_drafted);
  if (accepted) *accepted += spec.lookup_accepted;
}

const std::string kStoryPrompt =
    "Once upon a time, there was a little girl named Lily. She loved to play in the park with her ball. "
    "One day, Lily saw a big dog in the park. Once upon a time, there was a little girl named Lily. She loved";

TEST(Lookup, StoriesGiveThePlainTokensAndManyGuessesAreRight) {
  const auto model = Model::load(cli::default_text_model_path());
  uint64_t accepted = 0;
  for (int lookup : {1, 4, kMaxLookup}) {
    GenerateOptions greedy;
    greedy.max_tokens = 120;
    greedy.sampler.temperature = 0.0f;
    expect_same(*model, kStoryPrompt, greedy, lookup, 512, &accepted);

    GenerateOptions seeded;  // sampled: the same draws, in the same order
    seeded.max_tokens = 80;
    seeded.sampler.temperature = 0.8f;
    seeded.sampler.seed = 7;
    seeded.sampler.repeat_penalty = 1.1f;
    expect_same(*model, kStoryPrompt, seeded, lookup, 512, &accepted);
  }
  EXPECT_GT(accepted, 20u) << "the story repeats its prompt: guesses should be drawn";
}

TEST(Lookup, EndsAsPlainDecodingEnds) {
  const auto model = Model::load(cli::default_text_model_path());
  GenerateOptions go;
  go.sampler.temperature = 0.0f;
  for (int64_t max_tokens : {0, 1, 2, 7}) {  // max_tokens inside a step's guesses
    go.max_tokens = max_tokens;
    expect_same(*model, kStoryPrompt, go, 6, 512);
  }
  go.max_tokens = 200;
  go.stop = {"park"};  // a stop string inside accepted guesses
  expect_same(*model, kStoryPrompt, go, 8, 512);
  go.stop.clear();
  expect_same(*model, kStoryPrompt, go, 8, 80);  // the context fills up mid-step
}

TEST(Lookup, RandomLlama4AcrossChunkBoundaries) {
  // The default preset with 16-position attention chunks: steps must not
  // cross a boundary, and the cut-back rows stay inside the current chunk.
  test::TempDir dir;
  nlohmann::json config = maker::preset_json("default");
  config["chunk_size"] = 16;
  config["weight_type"] = "q8_0";
  maker::make_model(maker::parse_model_config(config), 3, dir.path("m.gguf"));
  const auto model = Model::load(dir.path("m.gguf"));
  GenerateOptions go;
  go.max_tokens = 90;
  go.ignore_eog = true;
  go.sampler.temperature = 0.0f;
  for (int lookup : {3, kMaxLookup}) expect_same(*model, "a b c a b c a b c a b", go, lookup, 256);
}

}  // namespace
}  // namespace scout::engine
