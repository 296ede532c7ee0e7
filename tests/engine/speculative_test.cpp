// Speculative decoding (engine/speculative.h): the lookup drafts, and
// generation with prompt lookup or a draft model giving exactly the tokens of
// plain decoding, greedy and seeded, through stop strings, max_tokens, a full
// context and chunked attention boundaries, on the trained stories260K (where
// guesses are often right) and on random Q8_0 Llama 4 models.
#include "engine/speculative.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <optional>

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

SessionOptions one_thread(uint64_t n_ctx) {
  SessionOptions so;
  so.n_ctx = n_ctx;
  so.n_threads = 1;
  return so;
}

// With draft set, its model guesses (in a session of its own).
GenerateResult generate_text(const Model& model, const std::string& prompt, GenerateOptions go, uint64_t n_ctx,
                             const Model* draft = nullptr) {
  const auto tok = tokenizer::Tokenizer::from_gguf(model.file());
  Session session(model, one_thread(n_ctx));
  std::optional<Session> draft_session;
  if (draft) go.draft_session = &draft_session.emplace(*draft, one_thread(n_ctx));
  const Ids ids = tok->encode(prompt, tok->add_bos(), false);
  return generate(session, *tok, ids, go);
}

// The same generation with and without guesses of up to n_draft tokens (by
// lookup, or by draft): the same ids, text and ending. Returns the one with.
GenerateResult expect_same(const Model& model, const std::string& prompt, GenerateOptions go, int n_draft, uint64_t n_ctx,
                 uint64_t* accepted = nullptr, const Model* draft = nullptr) {
  const GenerateResult plain = generate_text(model, prompt, go, n_ctx);
  go.draft_max = n_draft;
  const GenerateResult spec = generate_text(model, prompt, go, n_ctx, draft);
  EXPECT_EQ(spec.ids, plain.ids) << "up to " << n_draft << " guesses" << (draft ? " by a draft model" : "");
  EXPECT_EQ(spec.text, plain.text);
  EXPECT_EQ(spec.stop_reason, plain.stop_reason);
  EXPECT_LE(spec.accepted_tokens, spec.drafted_tokens);
  if (accepted) *accepted += spec.accepted_tokens;
  return spec;
}

const std::string kStoryPrompt =
    "Once upon a time, there was a little girl named Lily. She loved to play in the park with her ball. "
    "One day, Lily saw a big dog in the park. Once upon a time, there was a little girl named Lily. She loved";

TEST(Lookup, StoriesGiveThePlainTokensAndManyGuessesAreRight) {
  const auto model = Model::load(cli::default_text_model_path());
  uint64_t accepted = 0;
  for (int lookup : {1, 4, kMaxDraft}) {
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

// The default preset with 16-position attention chunks and Q8_0 weights:
// steps must not cross a boundary, and the cut-back rows stay inside the
// current chunk (in the draft model's session too).
std::unique_ptr<Model> chunked_model(const test::TempDir& dir, uint32_t seed) {
  nlohmann::json config = maker::preset_json("default");
  config["chunk_size"] = 16;
  config["weight_type"] = "q8_0";
  const std::string path = dir.path("m" + std::to_string(seed) + ".gguf");
  maker::make_model(maker::parse_model_config(config), seed, path);
  return Model::load(path);
}

TEST(Lookup, RandomLlama4AcrossChunkBoundaries) {
  test::TempDir dir;
  const auto model = chunked_model(dir, 3);
  GenerateOptions go;
  go.max_tokens = 90;
  go.ignore_eog = true;
  go.sampler.temperature = 0.0f;
  for (int n : {3, kMaxDraft}) expect_same(*model, "a b c a b c a b c a b", go, n, 256);
}

TEST(DraftModel, ItselfAsDraftHasEveryGuessRight) {
  const auto model = Model::load(cli::default_text_model_path());
  const auto draft = Model::load(cli::default_text_model_path());
  GenerateOptions go;
  go.max_tokens = 100;
  go.sampler.temperature = 0.0f;
  for (int n : {1, 5, kMaxDraft}) {
    const GenerateResult plain = generate_text(*model, kStoryPrompt, go, 512);
    GenerateOptions spec_go = go;
    spec_go.draft_max = n;
    const GenerateResult spec = generate_text(*model, kStoryPrompt, spec_go, 512, draft.get());
    EXPECT_EQ(spec.ids, plain.ids) << n;
    EXPECT_GT(spec.drafted_tokens, 0u);
    EXPECT_EQ(spec.accepted_tokens, spec.drafted_tokens) << n;  // the same model guesses its own greedy draws
  }
  GenerateOptions seeded = go;  // sampled: guesses are greedy, draws are not; the draws stay the plain ones
  seeded.sampler.temperature = 0.9f;
  seeded.sampler.seed = 11;
  expect_same(*model, kStoryPrompt, seeded, 6, 512, nullptr, draft.get());
  seeded.max_tokens = 300;  // past the context: it fills up mid-step
  expect_same(*model, kStoryPrompt, seeded, 6, 160, nullptr, draft.get());
}

TEST(DraftModel, AnotherModelAcrossChunkBoundaries) {
  test::TempDir dir;
  const auto model = chunked_model(dir, 3), draft = chunked_model(dir, 4);  // same vocabulary, other weights
  GenerateOptions go;
  go.max_tokens = 70;
  go.ignore_eog = true;
  go.sampler.temperature = 0.0f;
  for (int n : {2, 8})
    EXPECT_GT(expect_same(*model, "a b c a b c a b c a b", go, n, 256, nullptr, draft.get()).drafted_tokens, 0u);
}

TEST(DraftModel, VocabulariesMustMatch) {
  const auto stories = tokenizer::Tokenizer::from_gguf(Model::load(cli::default_text_model_path())->file());
  const auto llama4 = tokenizer::Tokenizer::from_gguf(Model::load(test::default_model_path())->file());
  EXPECT_NO_THROW(check_same_vocabulary(*stories, *stories));
  try {
    check_same_vocabulary(*llama4, *stories);
    ADD_FAILURE() << "different vocabularies accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("draft model"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace scout::engine
