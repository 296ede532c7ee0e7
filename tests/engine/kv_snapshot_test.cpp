// Saved KV caches: save -> load -> continue is bit-identical to an
// uninterrupted run, at and off chunk boundaries and for quantized types;
// files from another model, another KV type, truncated or damaged are
// refused with one SnapshotError and leave the session as it was.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "engine/kv_snapshot.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "test_util.h"

namespace scout::engine {
namespace {

using backend::KvType;

// A nano Llama 4: layers 0-2 chunked (chunk 64), layer 3 global; `seed`
// picks the weights (another seed: another model of the same shape).
std::unique_ptr<Model> nano(const test::TempDir& dir, int seed) {
  const nlohmann::json cfg = {{"arch", "llama4"}, {"n_layer", 4}, {"d_model", 64}, {"n_head", 4}, {"n_head_kv", 2},
                              {"head_dim", 32}, {"n_expert", 4}, {"n_expert_used", 1}, {"expert_ff", 32},
                              {"dense_ff", 96}, {"chunk_size", 64}, {"context_length", 8192},
                              {"weight_type", "q8_0"}, {"vocab", {{"builtin", true}}}};
  const std::string path = dir.path("nano-" + std::to_string(seed) + ".gguf");
  maker::make_model(maker::parse_model_config(cfg), seed, path);
  return Model::load(path);
}

SessionOptions options(KvType t) {
  SessionOptions o;
  o.kv_type = t;
  o.n_batch = 100;
  return o;
}

class KvSnapshotTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    model_ = nano(*dir_, 1).release();
    other_ = nano(*dir_, 2).release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete other_;
    delete dir_;
  }
  static test::TempDir* dir_;
  static Model* model_;
  static Model* other_;
};
test::TempDir* KvSnapshotTest::dir_ = nullptr;
Model* KvSnapshotTest::model_ = nullptr;
Model* KvSnapshotTest::other_ = nullptr;

TEST_F(KvSnapshotTest, SaveLoadContinueIsBitIdentical) {
  const std::vector<int32_t> tokens = test::random_tokens(400, model_->hparams().n_vocab, 5);
  // 250: inside a chunk; 192: on a chunk boundary (the chunked layers are saved empty).
  for (const size_t split : {size_t{250}, size_t{192}})
    for (const KvType t : {KvType::F16, KvType::Q4_0}) {
      const std::span<const int32_t> first(tokens.data(), split), rest(tokens.data() + split, tokens.size() - split);
      Session whole(*model_, options(t));
      whole.eval(first);
      const std::vector<float> want = whole.eval(rest, true);

      Session saver(*model_, options(t));
      const std::vector<float> logits = saver.eval(first);
      const std::string path = dir_->path("snap.bin");
      save_snapshot(path, saver, 0, first, logits);

      Session loader(*model_, options(t));
      const LoadedSnapshot snap = load_snapshot(path, loader, 0);
      EXPECT_EQ(snap.tokens, std::vector<int32_t>(first.begin(), first.end()));
      EXPECT_EQ(snap.logits, logits);
      EXPECT_EQ(loader.n_past(), split);
      EXPECT_EQ(loader.eval(rest, true), want) << "split " << split << " " << backend::kv_type_name(t);
    }
}

TEST_F(KvSnapshotTest, AtAChunkBoundaryOnlyGlobalLayersAreSaved) {
  const std::vector<int32_t> tokens = test::random_tokens(256, model_->hparams().n_vocab, 6);
  Session s(*model_, options(KvType::F16));
  const std::vector<float> at_boundary = s.eval(std::span(tokens).first(192));
  save_snapshot(dir_->path("a.bin"), s, 0, std::span(tokens).first(192), at_boundary);
  const std::vector<float> inside = s.eval(std::span(tokens).subspan(192, 1));
  save_snapshot(dir_->path("b.bin"), s, 0, std::span(tokens).first(193), inside);
  const size_t block = s.kv_cache().block_bytes();
  // 192 positions: one global block. 193: plus one block in each of the three chunked layers.
  EXPECT_EQ(std::filesystem::file_size(dir_->path("b.bin")) - std::filesystem::file_size(dir_->path("a.bin")),
            3 * block + 8);  // and one more token id, padded to 8 bytes
}

TEST_F(KvSnapshotTest, ForeignDamagedAndTruncatedFilesAreRefused) {
  const std::vector<int32_t> tokens = test::random_tokens(100, model_->hparams().n_vocab, 7);
  Session s(*model_, options(KvType::Q8_0));
  const std::vector<float> logits = s.eval(tokens);
  const std::string path = dir_->path("good.bin");
  save_snapshot(path, s, 0, tokens, logits);
  std::ifstream in(path, std::ios::binary);
  const std::string good{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};

  auto refused = [&](const std::string& bytes, const Model& m, KvType t, const std::string& why, bool foreign) {
    const std::string p = dir_->path("bad.bin");
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
    Session target(m, options(t));
    target.eval(std::span(tokens).first(3));
    try {
      load_snapshot(p, target, 0);
      ADD_FAILURE() << "accepted: " << why;
    } catch (const SnapshotError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
      EXPECT_EQ(e.foreign, foreign) << e.what();
    }
    EXPECT_EQ(target.n_past(), 3u);  // unchanged
  };
  refused(good, *other_, KvType::Q8_0, "another model", true);
  refused(good, *model_, KvType::F16, "KV types q8_0/q8_0", true);
  std::string damaged = good;
  damaged[good.size() / 2] ^= 0x10;
  refused(damaged, *model_, KvType::Q8_0, "checksum", false);
  refused(good.substr(0, good.size() - 1), *model_, KvType::Q8_0, "", false);
  refused(good.substr(0, 40), *model_, KvType::Q8_0, "too short", false);
  refused("not a snapshot at all, but long enough to have a header of eighty bytes and a checksum after it", *model_,
          KvType::Q8_0, "not a scout KV cache", false);

  Session ok(*model_, options(KvType::Q8_0));
  EXPECT_EQ(load_snapshot(path, ok, 0).tokens, tokens);
  EXPECT_THROW(load_snapshot(dir_->path("missing.bin"), ok, 0), SnapshotError);
}

// The fuzz target's seeds (tests/fuzz/corpus-kv) are sound files once their
// checksum is set, so the fuzzer starts from inputs that reach every check.
TEST(KvSnapshotCorpus, SeedsParseWithTheirChecksumSet) {
  SnapshotExpect e;
  e.fingerprint = 0x5C0075C0075C0075ull;
  e.n_vocab = 8;
  e.layout.types = KvType::F16;
  e.layout.block_size = 16;
  e.layout.n_head_kv = 1;
  e.layout.head_dim_k = e.layout.head_dim_v = 32;
  e.layer_chunk = {4, 0, 4, 0};
  for (const char* name : {"seed-6-tokens", "seed-8-tokens-chunk-boundary", "seed-40-tokens"}) {
    std::ifstream in(std::string(SCOUT_SOURCE_DIR) + "/tests/fuzz/corpus-kv/" + name, std::ios::binary);
    std::vector<char> raw{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    ASSERT_GT(raw.size(), 80u) << name;
    std::vector<uint64_t> words((raw.size() + 7) / 8);
    std::memcpy(words.data(), raw.data(), raw.size());
    const uint64_t sum = XXH3_64bits(words.data(), raw.size() - 8);
    std::memcpy(reinterpret_cast<char*>(words.data()) + raw.size() - 8, &sum, 8);
    EXPECT_NO_THROW(parse_snapshot({reinterpret_cast<const std::byte*>(words.data()), raw.size()}, e)) << name;
  }
}

}  // namespace
}  // namespace scout::engine
