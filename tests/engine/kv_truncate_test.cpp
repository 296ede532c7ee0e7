// Cutting a sequence back to a prefix (prompt-prefix reuse in `scout serve`):
// which prefixes a chunked layer can keep, the blocks freed, and logits after
// a cut and a new continuation equal to evaluating prefix + continuation afresh.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/kv_cache.h"
#include "engine/session.h"
#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "models/model.h"
#include "test_util.h"

namespace scout::engine {
namespace {

backend::Backend& cpu() {
  static const std::unique_ptr<backend::Backend> be = backend::make_cpu_backend();
  return *be;
}

KvCacheConfig chunked_config() {
  KvCacheConfig c;
  c.n_layer = 3;
  c.n_head_kv = 2;
  c.head_dim_k = c.head_dim_v = 16;
  c.layer_chunk = {64, 64, 0};
  c.types = KvType::F32;
  c.block_size = 16;
  c.n_seq = 2;
  return c;
}

// Appends n positions to seq in pieces that never cross a chunk boundary.
void grow(KvCache& kv, uint32_t seq, int64_t n) {
  while (n > 0) {
    const int64_t pos = kv.seq_len(seq), b = kv.next_chunk_boundary(pos);
    const int64_t take = std::min(n, b - pos);
    kv.append(seq, take);
    n -= take;
  }
}

TEST(KvTruncate, ChunkedLayersKeepOnlyTheirCurrentChunkOrABoundary) {
  KvCache kv(chunked_config(), cpu());
  grow(kv, 0, 100);  // chunked layers hold [64, 100), the global one [0, 100)
  EXPECT_EQ(kv.keepable_prefix(0, 90), 90);
  EXPECT_EQ(kv.keepable_prefix(0, 64), 64);   // a boundary: the new chunk starts empty
  EXPECT_EQ(kv.keepable_prefix(0, 50), 0);    // [0, 64) is gone from the chunked layers
  EXPECT_EQ(kv.keepable_prefix(0, 500), 100); // never more than it holds
  EXPECT_THROW(kv.truncate(0, 50), std::logic_error);

  kv.truncate(0, 90);
  EXPECT_EQ(kv.seq_len(0), 90);
  EXPECT_EQ(kv.layer_bytes(2, 0), 6 * kv.block_bytes());  // ceil(90 / 16) blocks
  EXPECT_EQ(kv.layer_bytes(0, 0), 2 * kv.block_bytes());  // [64, 90)
  kv.truncate(0, 64);
  EXPECT_EQ(kv.layer_bytes(0, 0), 0u);
  EXPECT_EQ(kv.layer_bytes(2, 0), 4 * kv.block_bytes());
  grow(kv, 0, 40);  // and it grows again from there
  EXPECT_EQ(kv.seq_len(0), 104);
  EXPECT_EQ(kv.base_pos(0, 0), 64);
  EXPECT_EQ(kv.layer_bytes(0, 0), 3 * kv.block_bytes());
  kv.truncate(0, 0);
  EXPECT_EQ(kv.bytes_in_use(), 0u);
}

TEST(KvTruncate, BytesForIsTheMostASequenceHolds) {
  KvCache kv(chunked_config(), cpu());
  EXPECT_EQ(kv.bytes_for(0), 0u);
  EXPECT_EQ(kv.bytes_for(20), 3 * 2 * kv.block_bytes());
  // 200 positions: chunked layers at most one chunk (4 blocks), the global 13.
  EXPECT_EQ(kv.bytes_for(200), (4 + 4 + 13) * kv.block_bytes());
  grow(kv, 1, 200);
  EXPECT_LE(kv.bytes_in_use(), kv.bytes_for(200));
}

TEST(KvTruncate, LogitsAfterACutEqualAFreshEvaluation) {
  test::TempDir dir;
  const nlohmann::json config = {{"arch", "llama4"}, {"n_layer", 4}, {"d_model", 64}, {"n_head", 4}, {"n_head_kv", 2},
                                 {"head_dim", 16}, {"n_expert", 4}, {"n_expert_used", 1}, {"expert_ff", 32},
                                 {"dense_ff", 96}, {"chunk_size", 8}, {"context_length", 256}, {"weight_type", "q8_0"},
                                 {"vocab", {{"builtin", true}}}};
  maker::make_model(maker::parse_model_config(config), 3, dir.path("m.gguf"));
  const auto model = Model::load(dir.path("m.gguf"));
  const std::vector<int32_t> tokens = test::random_tokens(40, static_cast<uint32_t>(model->hparams().n_vocab), 11);
  const std::vector<int32_t> other = test::random_tokens(9, static_cast<uint32_t>(model->hparams().n_vocab), 12);
  SessionOptions so;
  so.n_threads = 1;
  for (int64_t cut : {21, 16, 8, 3}) {
    Session s(*model, so);
    s.eval(std::span(tokens).first(21));
    s.eval(other);  // 30 positions: chunk [24, 32)
    const int64_t keep = s.kv_cache().keepable_prefix(0, cut);
    s.kv_cache().truncate(0, keep);
    const std::vector<float> got = s.eval(std::span(tokens).subspan(keep));
    Session fresh(*model, so);
    const std::vector<float> want = fresh.eval(tokens);
    EXPECT_EQ(got, want) << "cut at " << cut << ", kept " << keep;
    EXPECT_EQ(keep, cut == 21 ? 16 : cut == 16 ? 16 : cut == 8 ? 8 : 0);
  }
}

}  // namespace
}  // namespace scout::engine
