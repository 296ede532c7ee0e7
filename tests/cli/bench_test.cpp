// `scout bench` end to end on the embedded default model, with tiny sizes:
// rows per flag combination, the three output formats, expert counts that add
// up exactly, the bandwidth test, and errors. Speeds are never asserted.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>
#include <sstream>

#include "test_util.h"

namespace scout::test {
namespace {

using nlohmann::json;

CommandResult bench(std::vector<std::string> args) {
  args.insert(args.begin(), {"bench", "-m", default_model_path()});
  return run_scout(args);
}

json bench_json(const std::vector<std::string>& args) {
  std::vector<std::string> all = args;
  all.insert(all.end(), {"-o", "json"});
  CommandResult r = bench(all);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? json::parse(r.out) : json::array();
}

json model_info() {
  CommandResult r = run_scout({"info", "--json", "-m", default_model_path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(BenchCli, JsonHasOneRowPerCombinationWithSamples) {
  const json rows = bench_json({"-t", "1,2", "-p", "16", "-n", "4", "-r", "2"});
  ASSERT_EQ(rows.size(), 4u);
  const char* tests[] = {"pp16", "tg4", "pp16", "tg4"};
  const json info = model_info();
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& r = rows[i];
    EXPECT_EQ(r["test"], tests[i]);
    EXPECT_EQ(r["n_threads"], i < 2 ? 1 : 2);
    EXPECT_EQ(r["backend"], "CPU");
    EXPECT_GT(r["avg_ts"].get<double>(), 0.0);
    EXPECT_GE(r["stddev_ts"].get<double>(), 0.0);
    EXPECT_EQ(r["samples_ts"].size(), 2u);
    EXPECT_EQ(r["samples_ns"].size(), 2u);
    EXPECT_EQ(r["repetitions"], 2);
    EXPECT_EQ(r["model_size"], info["params"]["total_bytes"]);
    EXPECT_EQ(r["model_n_params"], info["params"]["total"]);
    EXPECT_EQ(r["model_n_params_active"], info["params"]["active"]);
    EXPECT_EQ(r["mem_bw_gb_per_s"], nullptr);  // not measured
    const bool tg = i % 2 == 1;
    EXPECT_EQ(r["n_prompt"], tg ? 0 : 16);
    EXPECT_EQ(r["n_gen"], tg ? 4 : 0);
    if (tg) {
      // The bandwidth view reads the active bytes `scout info` reports.
      EXPECT_EQ(r["weight_bytes_per_token"], info["params"]["active_bytes"]);
      EXPECT_NEAR(r["weight_gb_per_s"].get<double>(),
                  info["params"]["active_bytes"].get<double>() * r["avg_ts"].get<double>() / 1e9, 1e-9);
    } else {
      EXPECT_EQ(r["weight_bytes_per_token"], nullptr);
    }
  }
}

TEST(BenchCli, CsvHasAHeaderAndOneLinePerRow) {
  CommandResult r = bench({"-t", "1,2", "-p", "16", "-n", "4", "-r", "2", "-o", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> out = lines(r.out);
  ASSERT_EQ(out.size(), 5u) << r.out;
  EXPECT_NE(out[0].find("avg_ts"), std::string::npos);
  EXPECT_NE(out[0].find("samples_ts"), std::string::npos);
  const auto commas = [](const std::string& s) { return std::count(s.begin(), s.end(), ','); };
  for (size_t i = 1; i < out.size(); ++i) EXPECT_EQ(commas(out[i]), commas(out[0])) << out[i];
  EXPECT_NE(out[2].find("tg4"), std::string::npos);
}

TEST(BenchCli, MarkdownTableByDefault) {
  CommandResult r = bench({"-t", "1", "-p", "16", "-n", "4", "-r", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> out = lines(r.out);
  ASSERT_EQ(out.size(), 4u) << r.out;  // header, alignment row, pp16, tg4
  EXPECT_EQ(out[0].rfind("| model", 0), 0u) << out[0];
  EXPECT_NE(out[0].find("t/s"), std::string::npos);
  EXPECT_NE(out[0].find("GB/s"), std::string::npos);
  EXPECT_EQ(out[0].find("n_batch"), std::string::npos);  // default batch: no column
  EXPECT_NE(out[1].find("---:"), std::string::npos);
  EXPECT_NE(out[2].find("pp16"), std::string::npos);
  EXPECT_NE(out[3].find("tg4"), std::string::npos);
  EXPECT_NE(out[3].find("±"), std::string::npos);
  EXPECT_NE(r.err.find("tg4"), std::string::npos) << "progress goes to stderr";
}

TEST(BenchCli, DepthBatchAndZeroLists) {
  json rows = bench_json({"-t", "1", "-p", "8", "-n", "2", "-d", "0,16", "-r", "1"});
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[2]["test"], "pp8 @ d16");
  EXPECT_EQ(rows[3]["test"], "tg2 @ d16");
  EXPECT_EQ(rows[3]["n_depth"], 16);

  rows = bench_json({"-t", "1", "-p", "16", "-n", "2", "-b", "4,8", "-r", "1"});
  ASSERT_EQ(rows.size(), 3u);  // pp16 per batch size, tg2 once
  EXPECT_EQ(rows[0]["n_batch"], 4);
  EXPECT_EQ(rows[1]["test"], "tg2");
  EXPECT_EQ(rows[2]["n_batch"], 8);

  rows = bench_json({"-t", "1", "-p", "0", "-n", "3", "-r", "1"});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["test"], "tg3");

  CommandResult md = bench({"-t", "1", "-p", "8", "-n", "0", "-b", "4", "-r", "1"});
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("n_batch"), std::string::npos);
  EXPECT_EQ(md.out.find("GB/s"), std::string::npos);  // no tg row: no bandwidth columns
}

TEST(BenchCli, ExpertCountsAddUpToTokensTimesTopK) {
  const json info = model_info();
  const int64_t k = info["hparams"]["n_expert_used"];
  const size_t n_expert = info["hparams"]["n_expert"];
  const int64_t reps = 2;
  const json rows = bench_json({"-t", "1", "-p", "16,8", "-n", "4", "-d", "0,5", "-r", "2", "--expert-stats"});
  ASSERT_EQ(rows.size(), 6u);
  for (const json& r : rows) {
    // Only measured runs count: not the warm-up, not the depth fill.
    const int64_t tokens = reps * (r["n_prompt"].get<int64_t>() + r["n_gen"].get<int64_t>());
    const json& counts = r["expert_counts"];
    ASSERT_EQ(counts.size(), info["layers"].size());
    for (size_t il = 0; il < counts.size(); ++il) {
      if (!info["layers"][il]["moe"].get<bool>()) {
        EXPECT_TRUE(counts[il].empty());
        continue;
      }
      ASSERT_EQ(counts[il].size(), n_expert);
      const int64_t sum = std::accumulate(counts[il].begin(), counts[il].end(), int64_t{0},
                                          [](int64_t a, const json& c) { return a + c.get<int64_t>(); });
      EXPECT_EQ(sum, tokens * k) << r["test"] << " layer " << il;
    }
  }
}

TEST(BenchCli, ExpertHistogramFollowsTheTable) {
  CommandResult r = bench({"-t", "1", "-p", "16", "-n", "4", "-r", "2", "--expert-stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // (16 + 4) tokens x 2 runs.
  EXPECT_NE(r.out.find("expert routing in the measured runs: 40 tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layer 0: "), std::string::npos);
  EXPECT_NE(r.out.find("█"), std::string::npos);
  // Beside JSON the histogram goes to stderr, keeping stdout parseable.
  CommandResult j = bench({"-t", "1", "-p", "16", "-n", "4", "-r", "2", "--expert-stats", "-o", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json parsed;
  EXPECT_NO_THROW(parsed = json::parse(j.out));
  EXPECT_NE(j.err.find("expert routing"), std::string::npos);
}

TEST(BenchCli, MemoryBandwidthAlone) {
  CommandResult r = run_scout({"bench", "--mem-bw", "-t", "1,2", "--mem-bw-size", "32M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> out = lines(r.out);
  ASSERT_EQ(out.size(), 4u) << r.out;
  EXPECT_NE(out[0].find("GB/s"), std::string::npos);
  double gbps = 0;
  std::istringstream cells(out[2]);  // "| 1 | 32 MiB | 12.34 | ..."
  std::string bar, threads, size, unit;
  cells >> bar >> threads >> bar >> size >> unit >> bar >> gbps;
  EXPECT_EQ(threads, "1");
  EXPECT_GT(gbps, 0.0) << out[2];

  CommandResult j = run_scout({"bench", "--mem-bw", "-t", "1", "--mem-bw-size", "32M", "-o", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const json rows = json::parse(j.out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["test"], "mem-bw");
  EXPECT_EQ(rows[0]["buffer_bytes"], 32 << 20);
  EXPECT_EQ(rows[0]["samples_gb_per_s"].size(), 5u);
  EXPECT_GT(rows[0]["best_gb_per_s"].get<double>(), 0.0);
}

TEST(BenchCli, MemoryBandwidthWithAModelGivesTheShare) {
  const json rows = bench_json({"--mem-bw", "--mem-bw-size", "32M", "-t", "1", "-p", "8", "-n", "2", "-r", "1"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["mem_bw_pct"], nullptr);  // pp: weights are read once per batch, not per token
  EXPECT_GT(rows[1]["mem_bw_gb_per_s"].get<double>(), 0.0);
  EXPECT_GT(rows[1]["mem_bw_pct"].get<double>(), 0.0);
}

// --mmproj and --image: one image row per thread count and image after the
// model's rows, in every format (the default model has the tiny projector's width).
TEST(BenchCli, ImageEncodingRowsBesideTheModelRows) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  const std::string mmproj = vision_oracle_dir() + "mmproj-llama4-vision-tiny-f16.gguf";
  const std::string wide = vision_oracle_dir() + "images/wide-700x300.png";
  const json rows = bench_json({"-t", "1,2", "-p", "8", "-n", "2", "-r", "2", "--mmproj", mmproj, "--image", wide});
  ASSERT_EQ(rows.size(), 6u) << rows.dump();
  for (size_t i = 4; i < 6; ++i) {
    const json& r = rows[i];
    EXPECT_EQ(r["test"], "image");
    EXPECT_EQ(r["n_threads"], i == 4 ? 1 : 2);
    EXPECT_EQ(r["tiles"], 4) << "3 x 1 grid and the overview";
    EXPECT_EQ(r["image_width"], 700);
    EXPECT_EQ(r["layout"], "llamacpp");
    ASSERT_EQ(r["samples_ms"].size(), 2u);
    EXPECT_GT(r["avg_ms"].get<double>(), 0.0);
    EXPECT_DOUBLE_EQ(r["avg_ms_per_tile"].get<double>(), r["avg_ms"].get<double>() / 4);
  }
  CommandResult md = bench({"-t", "1", "-p", "8", "-n", "0", "-r", "1", "--mmproj", mmproj, "--image", wide,
                            "--vision-layout", "meta"});
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("ms/tile"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("| meta "), std::string::npos) << md.out;
  CommandResult csv = bench({"-t", "1", "-p", "8", "-n", "0", "-r", "1", "--mmproj", mmproj, "--image", wide, "-o", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  const std::vector<std::string> l = lines(csv.out);
  ASSERT_EQ(l.size(), 3u) << csv.out;
  EXPECT_NE(l[0].find("avg_ts"), std::string::npos);
  EXPECT_NE(l[0].find("avg_ms_per_tile"), std::string::npos);
  const auto cells = [](const std::string& line) { return std::count(line.begin(), line.end(), ','); };
  EXPECT_EQ(cells(l[1]), cells(l[0]));
  EXPECT_EQ(cells(l[2]), cells(l[0]));
}

// -np: sequences decoding together, like llama-batched-bench; the aggregate
// rate counts every sequence's tokens, and each sequence gets its own depth.
TEST(BenchCli, ParallelSequencesDecodeTogether) {
  const json rows = bench_json({"-t", "1", "-p", "0", "-n", "4", "-np", "1,3", "-d", "8", "-r", "2"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["test"], "tg4 @ d8");
  EXPECT_EQ(rows[1]["test"], "tg4 x3 @ d8");
  EXPECT_EQ(rows[0]["n_parallel"], 1);
  EXPECT_EQ(rows[1]["n_parallel"], 3);
  for (const json& r : rows) {
    EXPECT_GT(r["avg_ts"].get<double>(), 0.0);
    // samples_ts = tokens of all sequences / time.
    for (size_t i = 0; i < r["samples_ns"].size(); ++i)
      EXPECT_NEAR(r["samples_ts"][i].get<double>(),
                  4.0 * r["n_parallel"].get<double>() * 1e9 / r["samples_ns"][i].get<double>(), 1e-6);
  }
  EXPECT_FALSE(rows[0]["weight_bytes_per_token"].is_null());
  EXPECT_TRUE(rows[1]["weight_bytes_per_token"].is_null());  // one sequence's figure only
}

TEST(BenchCli, BadFlagsGiveOneErrorLine) {
  const std::vector<std::vector<std::string>> cases = {
      {"bench", "-m", default_model_path(), "-o", "xml"},
      {"bench", "-m", default_model_path(), "-p", "abc"},
      {"bench", "-m", default_model_path(), "-t", "1,,2"},
      {"bench", "-m", default_model_path(), "-t", "0"},
      {"bench", "-m", default_model_path(), "-r", "0"},
      {"bench", "-m", default_model_path(), "-np", "0"},
      {"bench", "-m", default_model_path(), "-p", "0", "-n", "0"},
      {"bench", "-m", "/nonexistent/model.gguf", "-p", "8", "-n", "1", "-r", "1"},
      {"bench", "--mem-bw", "--expert-stats"},
      {"bench", "-m", default_model_path(), "--image", "x.png"},
      {"bench", "-m", default_model_path(), "--mmproj", "x.gguf"},
      {"bench", "-m", default_model_path(), "--mmproj", "x.gguf", "--image", "x.png", "--vision-layout", "hf"},
  };
  for (const auto& args : cases) {
    CommandResult r = run_scout(args);
    EXPECT_EQ(r.exit_code, 2) << args.back();
    EXPECT_EQ(r.err.rfind("scout: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

}  // namespace
}  // namespace scout::test
