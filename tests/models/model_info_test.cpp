// What `scout info` reports that other parts of scout also decide, checked
// against those parts so the two cannot drift apart: whether BOS is prepended
// (the tokenizer's rule), the activation memory (the engine's buffer table),
// and the KV cache types (the cache's list).
#include "scout/model_info.h"

#include <gtest/gtest.h>

#include "backend/device.h"
#include "backend/kv_layout.h"
#include "engine/kv_cache.h"
#include "gguf/reader.h"
#include "gguf/writer.h"
#include "models/model.h"
#include "models/registry.h"
#include "test_util.h"
#include "tokenizer/tiktoken_import.h"
#include "tokenizer/tokenizer.h"

namespace scout {
namespace {

// A header-only GGUF (no tensors) holding the built-in byte vocabulary under
// the given tokenizer model / pre-tokenizer, with or without add_bos_token.
std::string vocab_file(const test::TempDir& dir, const std::string& pre, int add_bos) {
  using gguf::Value;
  using gguf::ValueType;
  const tokenizer::GgufVocab v = tokenizer::builtin_byte_vocab();
  gguf::GgufWriter w;
  w.set("general.architecture", Value::string("llama4"));
  w.set("tokenizer.ggml.model", Value::string("gpt2"));
  w.set("tokenizer.ggml.pre", Value::string(pre));
  w.set("tokenizer.ggml.tokens", Value::string_array(v.tokens));
  w.set("tokenizer.ggml.token_type", Value::array(ValueType::INT32, v.token_types));
  w.set("tokenizer.ggml.merges", Value::string_array(v.merges));
  w.set("tokenizer.ggml.bos_token_id", Value::u32(v.bos_id));
  w.set("tokenizer.ggml.eos_token_id", Value::u32(v.eos_id));
  if (add_bos >= 0) w.set("tokenizer.ggml.add_bos_token", Value::boolean(add_bos == 1));
  const std::string path = dir.path(pre + "-" + std::to_string(add_bos) + ".gguf");
  w.write(path);
  return path;
}

// info's "add bos" is the tokenizer's own decision, for every pre-tokenizer
// with and without the explicit key (Llama 3 files leave it out and still prefix).
TEST(ModelInfoAgrees, AddBosIsTheTokenizers) {
  test::TempDir dir;
  for (const std::string pre : {"llama4", "llama-bpe", "llama3", "gpt-2"})
    for (const int add : {-1, 0, 1}) {
      const gguf::GgufFile f = gguf::GgufFile::open(vocab_file(dir, pre, add));
      const bool tokenizer_adds = tokenizer::Tokenizer::from_gguf(f)->add_bos();
      EXPECT_EQ(tokenizer::file_adds_bos(f), tokenizer_adds) << pre << " " << add;
      if (add >= 0) EXPECT_EQ(tokenizer_adds, add == 1) << pre;
    }
  EXPECT_TRUE(tokenizer::file_adds_bos(gguf::GgufFile::open(vocab_file(dir, "llama-bpe", -1))));
  if (test::have_shared()) {  // SentencePiece: a file without the key prefixes too
    const std::string spm = test::shared_dir() + "/models/stories260K/stories260K.gguf";
    EXPECT_EQ(inspect_model(spm).add_bos, tokenizer::Tokenizer::from_gguf(gguf::GgufFile::open(spm))->add_bos());
  }
}

// The scratch estimate is the engine's own buffer table for a batch, plus a row of logits.
TEST(ModelInfoAgrees, ScratchIsTheEnginesActivations) {
  const ModelInfo info = inspect_model(test::default_model_path());
  const Hparams hp = read_hparams(gguf::GgufFile::open(test::default_model_path()));
  EXPECT_EQ(info.activation_bytes_per_row, Activations::bytes_per_row(hp));
  const MemoryPlan plan = plan_memory(info, 4096, "f16", 300);
  EXPECT_EQ(plan.scratch_bytes, 300 * Activations::bytes_per_row(hp) + 4 * uint64_t{hp.n_vocab});
  // What a session really allocates for that batch.
  const std::unique_ptr<backend::Backend> be = backend::make_cpu_backend();
  Activations a;  // after the backend: its buffers go first
  a.reserve(*be, hp, 300);
  const ActivationRows r = a.rows(300);
  uint64_t bytes = 0;
  for (const backend::Tensor* t : {&r.x, &r.h, &r.q, &r.k, &r.v, &r.attn, &r.y, &r.gate, &r.up, &r.router,
                                    &r.experts, &r.expert_weights, &r.rope, &r.temp})
    bytes += t->bytes();
  EXPECT_EQ(bytes, 300 * Activations::bytes_per_row(hp));
}

// Every type the cache holds is planned with the cache's own block bytes;
// anything else is refused, on the command line too.
TEST(ModelInfoAgrees, KvTypesAreTheCaches) {
  const ModelInfo info = inspect_model(test::default_model_path());
  for (const backend::KvTypeTraits& tk : backend::kKvTypes)
    for (const backend::KvTypeTraits& tv : backend::kKvTypes) {
      const MemoryPlan plan = plan_memory(info, 1000, {std::string(tk.name), std::string(tv.name)});
      engine::KvCacheConfig c;
      c.n_layer = 1;
      c.n_head_kv = info.n_head_kv;
      c.head_dim_k = info.head_dim_k;
      c.head_dim_v = info.head_dim_v;
      c.types = {tk.type, tv.type};
      const size_t block = engine::KvCache(c, *backend::shared_backend(backend::Device::Cpu)).block_bytes();
      // 1000 positions take 4 pages of 256 in each global layer.
      EXPECT_EQ(plan.kv_bytes_global, uint64_t{plan.n_global_layers} * 4 * block) << tk.name << "/" << tv.name;
    }
  EXPECT_THROW(plan_memory(info, 4096, "q5_1"), std::invalid_argument);
  for (const char* flag : {"--kv-type", "-ctk", "-ctv"}) {
    const test::CommandResult r = test::run_scout({"info", flag, "q5_1"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("q5_1"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace scout
