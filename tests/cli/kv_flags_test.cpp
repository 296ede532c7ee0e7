// The KV cache flags on the command line: -ctk/-ctv (llama.cpp's names) on
// the commands that run a model, --kv-dir, and the host-memory plan that
// refuses a context the machine cannot hold before anything is loaded.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "scout/model_info.h"
#include "test_util.h"

namespace scout {
namespace {

using test::CommandResult;
using test::run_scout;

TEST(KvFlags, EveryTypeRunsAndSeededTextIsStableAcrossStorage) {
  // The Llama 4 default (head dimension 64), named: `run` alone uses stories260K, whose
  // head dimension of 8 the quantized cache types refuse.
  const std::string model = test::default_model_path();
  for (const char* t : {"f32", "f16", "bf16", "q8_0", "q4_0"}) {
    const CommandResult r =
        run_scout({"run", "-m", model, "-p", "Once upon a time", "-n", "8", "-s", "3", "-ctk", t, "-ctv", t});
    EXPECT_EQ(r.exit_code, 0) << t << ": " << r.err;
    EXPECT_FALSE(r.out.empty()) << t;
  }
  // The same run with the cache in a file: the same text, and nothing left in the directory.
  test::TempDir dir;
  const CommandResult mem =
      run_scout({"run", "-m", model, "-p", "Once upon a time", "-n", "16", "-s", "3", "-ctk", "q8_0"});
  const CommandResult file = run_scout(
      {"run", "-m", model, "-p", "Once upon a time", "-n", "16", "-s", "3", "-ctk", "q8_0", "--kv-dir", dir.dir()});
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out, mem.out);
  EXPECT_TRUE(std::filesystem::is_empty(dir.dir()));
}

TEST(KvFlags, BadValuesAreOneErrorAndExit2) {
  test::TempDir dir;
  const std::string file = dir.path("plain-file");
  { std::ofstream(file) << "x"; }
  const std::vector<std::vector<std::string>> cases = {
      {"run", "-p", "hi", "-ctk", "q5_1"},
      {"run", "-p", "hi", "-ctv", "int8"},
      {"perplexity", "-ctk", "f8"},
      {"bench", "-p", "8", "-n", "0", "-ctk", "q3"},
      {"run", "-p", "hi", "--kv-dir", dir.path("missing")},
      {"run", "-p", "hi", "--kv-dir", file},
  };
  for (const auto& args : cases) {
    const CommandResult r = run_scout(args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.err;
    EXPECT_NE(r.err.find(args.back()), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(KvFlags, BenchRowsPerKvType) {
  const CommandResult r = run_scout({"bench", "-p", "16", "-n", "4", "-r", "1", "-ctk", "f16,q8_0", "-ctv", "q4_0", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 4u);  // (pp, tg) x two K types
  EXPECT_EQ(j[0]["type_k"], "f16");
  EXPECT_EQ(j[2]["type_k"], "q8_0");
  for (const auto& row : j) EXPECT_EQ(row["type_v"], "q4_0");
  const CommandResult md = run_scout({"bench", "-p", "16", "-n", "0", "-r", "1", "-ctk", "q8_0"});
  EXPECT_NE(md.out.find("type_k"), std::string::npos) << md.out;
}

TEST(KvFlags, InfoPlansWithTheRealTypes) {
  const CommandResult f16 = run_scout({"info", "--json", "-c", "1M"});
  const CommandResult q8 = run_scout({"info", "--json", "-c", "1M", "-ctk", "q8_0", "-ctv", "q4_0"});
  ASSERT_EQ(q8.exit_code, 0) << q8.err;
  const auto a = nlohmann::json::parse(f16.out)["memory"], b = nlohmann::json::parse(q8.out)["memory"];
  EXPECT_EQ(b["kv_type_k"], "q8_0");
  EXPECT_EQ(b["kv_type_v"], "q4_0");
  // Per 32 (K, V) pairs: f16 2 x 64 bytes; q8_0 K 34 and q4_0 V 18.
  EXPECT_EQ(b["kv_bytes"].get<uint64_t>() * 128, a["kv_bytes"].get<uint64_t>() * (34 + 18));
}

std::string stories() { return std::string(SCOUT_SHARED_DIR) + "/models/stories260K/stories260K.gguf"; }

// --prompt-cache: a repeated prompt evaluates nothing, a longer one only its
// new tokens, and the text is the same as without the cache; a damaged file
// is one warning and is replaced, another model's is left alone.
TEST(PromptCache, ReusesThePromptAndKeepsTheTextTheSame) {
  if (!std::filesystem::exists(stories())) GTEST_SKIP() << "no " << stories() << " (../shared)";
  test::TempDir dir;
  const std::string cache = dir.path("story.kv");
  const std::string prompt = "Once upon a time, there was a little girl named Lily. She loved to play";
  auto run = [&](const std::string& p, bool with_cache) {
    std::vector<std::string> args = {"run", "-m", stories(), "-p", p, "-n", "24", "-s", "9"};
    if (with_cache) args.insert(args.end(), {"--prompt-cache", cache});
    const CommandResult r = run_scout(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  };
  const CommandResult plain = run(prompt, false);
  const CommandResult first = run(prompt, true);
  EXPECT_NE(first.err.find("0 of"), std::string::npos) << first.err;
  const CommandResult again = run(prompt, true);
  EXPECT_NE(again.err.find("to evaluate"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find(", 0 to evaluate"), std::string::npos) << again.err;
  EXPECT_EQ(first.out, plain.out);
  EXPECT_EQ(again.out, plain.out);
  const CommandResult longer = run(prompt + " outside", true);
  EXPECT_EQ(longer.out, run(prompt + " outside", false).out);
  EXPECT_EQ(longer.err.find(" 0 of"), std::string::npos) << longer.err;  // the prefix was loaded

  // Damaged: a warning, the prompt evaluated, the same text, and the file replaced by a sound one.
  {
    std::fstream f(cache, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x5a');
  }
  const CommandResult damaged = run(prompt, true);
  EXPECT_NE(damaged.err.find("checksum"), std::string::npos) << damaged.err;
  EXPECT_EQ(damaged.out, plain.out);
  EXPECT_NE(run(prompt, true).err.find(", 0 to evaluate"), std::string::npos);

  // Another model's cache: a warning, and the file is left as it was.
  const auto before = std::filesystem::file_size(cache);
  const CommandResult other =
      run_scout({"run", "-m", test::default_model_path(), "-p", prompt, "-n", "4", "--prompt-cache", cache});
  EXPECT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(other.err.find("another model"), std::string::npos) << other.err;
  EXPECT_EQ(std::filesystem::file_size(cache), before);
}

// A context beyond memory is refused up front, with the bytes and the ways out.
TEST(HostPlan, NamesTheBytesAndSuggestsSmallerTypesOrKvDir) {
  const ModelInfo info = inspect_model(test::default_model_path());
  const MemoryPlan plan = plan_memory(info, 10'000'000);
  HostLimits lim;
  lim.ram_available = plan.kv_bytes / 3;  // q4_0 (about a quarter of f16) fits, q8_0 does not
  const std::string why = host_plan_problem(info, plan, lim);
  EXPECT_NE(why.find("-c 10000000"), std::string::npos) << why;
  EXPECT_NE(why.find("-ctk q8_0 -ctv q8_0"), std::string::npos) << why;
  EXPECT_NE(why.find("-ctk q4_0 -ctv q4_0"), std::string::npos) << why;
  EXPECT_NE(why.find("KV cache: fits"), std::string::npos) << why;  // q4_0's
  EXPECT_NE(why.find("--kv-dir"), std::string::npos) << why;

  lim.kv_dir = "/big";
  lim.disk_free = plan.kv_bytes * 2;
  EXPECT_EQ(host_plan_problem(info, plan, lim), "");  // on disk, only the activations need memory
  lim.disk_free = plan.kv_bytes / 2;
  EXPECT_NE(host_plan_problem(info, plan, lim).find("--kv-dir /big has"), std::string::npos);
  lim = {};
  lim.ram_available = plan.kv_bytes + plan.scratch_bytes;
  EXPECT_EQ(host_plan_problem(info, plan, lim), "");
}

}  // namespace
}  // namespace scout
