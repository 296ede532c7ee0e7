// `scout info` end to end: counts checked against sums worked out by hand
// from the shapes, on the shared tiny model and maker-written files.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <chrono>

#include "test_util.h"

namespace scout::test {
namespace {

using nlohmann::json;

json info_json(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"info", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  CommandResult r = run_scout(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

TEST(InfoCli, SharedTinyModelCounts) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  json j = info_json({"-m", shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf"});
  const json& hp = j["hparams"];
  EXPECT_EQ(hp["arch"], "llama4");
  EXPECT_EQ(hp["n_layer"], 4);
  EXPECT_EQ(hp["d_model"], 256);
  EXPECT_EQ(hp["n_expert"], 16);
  EXPECT_EQ(hp["n_expert_used"], 1);
  EXPECT_EQ(hp["chunk_size"], 8192);
  EXPECT_EQ(hp["qk_norm"], true);
  // Layers 0-2 chunked RoPE, layer 3 global NoPE; every layer MoE.
  for (int il = 0; il < 4; ++il) {
    EXPECT_EQ(j["layers"][il]["rope"], il != 3) << il;
    EXPECT_EQ(j["layers"][il]["chunked"], il != 3) << il;
    EXPECT_EQ(j["layers"][il]["moe"], true) << il;
  }
  // Per layer: attention 256*256*2 + 256*128*2 = 196608, norms 512, router 4096,
  // routed experts 3*256*128*16 = 1572864, shared expert 3*256*128 = 98304.
  // Plus token_embd and output 256*6144 each and output_norm 256.
  const uint64_t per_layer = 196608 + 512 + 4096 + 1572864 + 98304;
  EXPECT_EQ(j["params"]["total"], 4 * per_layer + 2 * 1572864 + 256);
  // Active: one of 16 experts (98304), one embedding row (256), the whole head.
  const uint64_t active_layer = 196608 + 512 + 4096 + 98304 + 98304;
  EXPECT_EQ(j["params"]["active"], 4 * active_layer + 256 + 1572864 + 256);
  EXPECT_EQ(j["tokenizer"]["model"], "gpt2");
  EXPECT_EQ(j["tokenizer"]["pre"], "llama4");
  EXPECT_EQ(j["tokenizer"]["vocab_size"], 6144);
  EXPECT_EQ(j["tokenizer"]["bos_id"], 4096);
  EXPECT_EQ(j["tokenizer"]["bos"], "<|begin_of_text|>");
  EXPECT_EQ(j["tokenizer"]["special_tokens"], 2048);
  EXPECT_EQ(j["file"]["file_type"], "F16");
}

TEST(InfoCli, MemoryPlanChunkedLayersStopGrowing) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  const std::string model = shared_dir() + "/testdata/llama4-tiny/llama4-tiny-q8_0.gguf";
  // KV per position per layer: 2 kv heads * (64 + 64) * 2 bytes (f16) = 512.
  json small = info_json({"-m", model, "--ctx", "8192"});
  EXPECT_EQ(small["memory"]["kv_bytes"], 4 * 8192 * 512);
  json big = info_json({"-m", model, "--ctx", "1M"});
  EXPECT_EQ(big["memory"]["kv_bytes_chunked_layers"], 3 * 8192 * 512);
  EXPECT_EQ(big["memory"]["kv_bytes_global_layers"], 1048576ull * 512);
  json f32 = info_json({"-m", model, "--ctx", "128K", "--kv-type", "f32"});
  EXPECT_EQ(f32["memory"]["kv_bytes"], 3ull * 8192 * 1024 + 131072ull * 1024);
  EXPECT_EQ(f32["file"]["file_type"], "Q8_0");
}

TEST(InfoCli, BenchPresetCounts) {
  TempDir tmp;
  const std::string path = tmp.path("bench.gguf");
  CommandResult made = run_scout({"make-model", "--preset", "bench", "--vocab", "builtin", "--no-data", "-o", path});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  json j = info_json({"-m", path});
  // The builtin vocabulary has 256 byte tokens + 2048 specials = 2304 ids.
  const uint64_t vocab = j["hparams"]["n_vocab"];
  // Per layer: attention 2048*2048*2 + 2048*512*2 = 10485760, norms 4096,
  // router 2048*16 = 32768, experts 3*2048*2048*16 = 201326592, shared 12582912.
  const uint64_t per_layer = 10485760 + 4096 + 32768 + 201326592 + 12582912;
  // The preset has rope_freqs (head_dim / 2 = 64 factors), as real Scout files do.
  EXPECT_EQ(j["params"]["total"], 8 * per_layer + 2 * 2048 * vocab + 2048 + 64);
  const uint64_t active_layer = 10485760 + 4096 + 32768 + 12582912 + 12582912;
  EXPECT_EQ(j["params"]["active"], 8 * active_layer + 2048 + 2048 * vocab + 2048 + 64);
}

TEST(InfoCli, BenchPresetWithFullVocabMatchesIssueNumbers) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  TempDir tmp;
  const std::string path = tmp.path("bench.gguf");
  CommandResult made = run_scout({"make-model", "--preset", "bench", "--vocab",
                                  shared_dir() + "/models/llama4/tokenizer.model", "--no-data", "-o", path});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  json j = info_json({"-m", path});
  EXPECT_EQ(j["hparams"]["n_vocab"], 202048);
  // "2.62B parameters, ~0.7B active per token including the output head", plus
  // the 64 rope frequency factors.
  EXPECT_EQ(j["params"]["total"], 2623047680ull + 64);
  EXPECT_EQ(j["params"]["active"], 699305984ull + 64);
}

TEST(InfoCli, FullSizeScoutIsSparseAndInstant) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  TempDir tmp;
  const std::string path = tmp.path("scout.gguf");
  CommandResult made = run_scout({"make-model", "--preset", "scout-layers", "--layers", "48", "--vocab",
                                  shared_dir() + "/models/llama4/tokenizer.model", "--type", "q4_K", "--no-data",
                                  "-o", path});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_GT(static_cast<uint64_t>(st.st_size), 50ull << 30);             // tens of GB claimed
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 256ull << 20);   // almost none on disk
  const auto t0 = std::chrono::steady_clock::now();
  json j = info_json({"-m", path, "--ctx", "10M"});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("scout info on a %.1f GB file took %.3f s\n", st.st_size / 1e9, seconds);
  const double total = j["params"]["total"].get<double>();
  const double active = j["params"]["active"].get<double>();
  EXPECT_EQ(j["hparams"]["n_layer"], 48);
  // By hand: per layer attention 62914560 + experts 2013265920 + shared 125829120
  // + router 81920 + norms 10240; 48 layers + embedding and head 2*5120*202048
  // + norms = 107769861184. Meta quotes 109B with the vision tower.
  EXPECT_EQ(j["params"]["total"], 107769861184ull);
  // Active: per layer 62914560 + 2 * 125829120 + 81920 + 10240, 48 layers, the
  // head 1034485760, one embedding row 5120, output norm 5120, rope_freqs 64.
  EXPECT_EQ(j["params"]["active"], 16138414144ull);
  EXPECT_GT(total, 100e9);
  EXPECT_LT(total, 110e9);
  EXPECT_GT(active, 15e9);
  EXPECT_LT(active, 18e9);
  // 12 global layers hold 10M positions: 12 * 10485760 * 8 kv heads * 256 * 2 bytes.
  EXPECT_EQ(j["memory"]["kv_bytes_global_layers"], 12ull * 10485760 * 8 * 256 * 2);
  EXPECT_EQ(j["memory"]["kv_bytes_chunked_layers"], 36ull * 8192 * 8 * 256 * 2);
}

TEST(InfoCli, TextOutputAndTensorTable) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  CommandResult r = run_scout({"info", "-m", shared_dir() + "/testdata/llama4-tiny/llama4-tiny-q4_k_m.gguf", "--tensors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture: llama4"), std::string::npos);
  EXPECT_NE(r.out.find("Q4_K_M"), std::string::npos);
  EXPECT_NE(r.out.find("blk.0.ffn_down_exps.weight"), std::string::npos);
  EXPECT_NE(r.out.find("NoPE (global) layers     1 (3)"), std::string::npos) << r.out;
}

TEST(InfoCli, BadFilesGiveOneErrorLine) {
  TempDir tmp;
  write_file(tmp.path("junk.gguf"), {'n', 'o', 't', ' ', 'g', 'g', 'u', 'f', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  for (const std::string& path : {tmp.path("junk.gguf"), tmp.path("missing.gguf"), tmp.dir()}) {
    CommandResult r = run_scout({"info", "-m", path});
    EXPECT_EQ(r.exit_code, 2) << path;
    EXPECT_EQ(r.err.rfind("scout: error: " + path, 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

TEST(InfoCli, UnknownFlagAndBadCtx) {
  CommandResult r = run_scout({"info", "--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_scout({"info", "--ctx", "lots"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--ctx"), std::string::npos) << r.err;
}

TEST(InfoCli, DefaultModelWithoutFlags) {
  CommandResult r = run_scout({"info", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["hparams"]["arch"], "llama4");
  EXPECT_GT(j["params"]["total"].get<uint64_t>(), 0u);
}

}  // namespace
}  // namespace scout::test
