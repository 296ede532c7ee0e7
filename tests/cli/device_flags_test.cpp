// Where a model runs, from the command line: -ngl and --cpu-moe checked
// against the file (one error line, exit 2), llama.cpp's -ngl spelling, and
// `scout info --device cuda`'s plan of what goes where and whether it fits,
// with the suggestion that would make it fit. Runs without a GPU: the plan
// takes --gpu-mem instead of the visible GPU's memory.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "test_util.h"

namespace scout::test {
namespace {

using nlohmann::json;

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(DevicePlacementCli, NglBeyondTheLayersIsOneErrorLine) {
  // The embedded default model has 4 layers (named: `run` alone uses the 5-layer stories260K).
  for (const std::string flag : {"-ngl", "--n-gpu-layers"}) {
    const CommandResult r = run_scout({"run", "-m", default_model_path(), "-p", "hi", "-n", "2", flag, "5"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("-ngl 5: the model has 4 layers"), std::string::npos) << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
  }
}

TEST(DevicePlacementCli, CpuMoeOnADenseModelIsOneErrorLine) {
  TempDir dir;
  const std::string dense = dir.path("dense.gguf");
  ASSERT_EQ(run_scout({"make-model", "--preset", "default", "--set", "n_expert=0", "-o", dense}).exit_code, 0);
  for (const std::string cmd : {"run", "bench"}) {
    std::vector<std::string> args = {cmd, "-m", dense, "--cpu-moe"};
    if (cmd == "run") args.insert(args.end(), {"-p", "hi", "-n", "2"});
    const CommandResult r = run_scout(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--cpu-moe"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("dense model"), std::string::npos) << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
  }
}

// On the CPU the GPU placement flags change nothing: the run goes on, with a warning.
TEST(DevicePlacementCli, PlacementFlagsOnTheCpuWarnAndRun) {
  // The MoE Llama 4 default (named: `run` alone uses the dense stories260K, which --cpu-moe refuses).
  const std::string model = default_model_path();
  const CommandResult plain = run_scout({"run", "-m", model, "-p", "hi", "-n", "4", "--temp", "0", "--device", "cpu"});
  const CommandResult placed = run_scout(
      {"run", "-m", model, "-p", "hi", "-n", "4", "--temp", "0", "--device", "cpu", "-ngl", "2", "--cpu-moe"});
  ASSERT_EQ(placed.exit_code, 0) << placed.err;
  EXPECT_EQ(placed.out, plain.out);
  EXPECT_NE(placed.err.find("on the CPU they change nothing"), std::string::npos) << placed.err;
}

class GpuPlan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // True Scout layer shapes, 4 layers, q4_K, data left as a hole: 4.9 GB on paper, nothing on disk.
    dir_ = new TempDir;
    const CommandResult r = run_scout({"make-model", "--preset", "scout-layers", "--layers", "4", "--type", "q4_K",
                                       "--vocab", "builtin", "--no-data", "-o", dir_->path("scout4.gguf")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static json plan(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"info", "--json", "-m", dir_->path("scout4.gguf"), "--device", "cuda"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CommandResult r = run_scout(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out)["gpu_plan"];
  }
  static TempDir* dir_;
};
TempDir* GpuPlan::dir_ = nullptr;

TEST_F(GpuPlan, WhatGoesWhereAndWhetherItFits) {
  const json all = plan({"--gpu-mem", "80G"});
  EXPECT_TRUE(all["fits"]);
  EXPECT_EQ(all["n_gpu_layers"], 4);
  EXPECT_EQ(all["host_weight_bytes"], 0);
  const uint64_t weights = all["gpu_weight_bytes"];
  EXPECT_GT(weights, uint64_t{4} << 30);  // 4 Scout layers at q4_K

  // --cpu-moe: the routed experts (16 x 3 x 5120 x 8192 per layer at 4.5 bits) go to host memory.
  const json moe = plan({"--gpu-mem", "80G", "--cpu-moe"});
  const uint64_t experts = uint64_t{4} * 16 * 3 * 5120 * 8192 / 256 * 144;
  EXPECT_EQ(moe["host_weight_bytes"], experts);
  EXPECT_EQ(moe["gpu_weight_bytes"], weights - experts);

  // -ngl 1: layers 1-3 in host memory, layer 0 and the head on the GPU.
  const json one = plan({"--gpu-mem", "80G", "-ngl", "1"});
  EXPECT_EQ(one["n_gpu_layers"], 1);
  EXPECT_EQ(one["gpu_weight_bytes"].get<uint64_t>() + one["host_weight_bytes"].get<uint64_t>(), weights);
  EXPECT_GT(one["host_weight_bytes"].get<uint64_t>(), 3 * experts / 4);

  // 2 GiB: not the whole model, but with the experts on the CPU.
  EXPECT_FALSE(plan({"--gpu-mem", "2G"})["fits"]);
  EXPECT_TRUE(plan({"--gpu-mem", "2G", "--cpu-moe"})["fits"]);
}

TEST_F(GpuPlan, TextSaysWhyItDoesNotFitAndWhatWould) {
  const CommandResult r =
      run_scout({"info", "-m", dir_->path("scout4.gguf"), "--device", "cuda", "--gpu-mem", "2G"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GPU plan"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("does not fit the GPU"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("try --cpu-moe"), std::string::npos) << r.out;
  // Too small even for the head alone: no flag helps.
  const CommandResult tiny =
      run_scout({"info", "-m", dir_->path("scout4.gguf"), "--device", "cuda", "--gpu-mem", "100M"});
  EXPECT_NE(tiny.out.find("even with every layer in host memory"), std::string::npos) << tiny.out;
}

TEST_F(GpuPlan, FlagMistakesAreUsageErrors) {
  const std::string m = dir_->path("scout4.gguf");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"info", "-m", m, "--gpu-mem", "80G"},                            // no --device cuda
           {"info", "-m", m, "--device", "cuda", "--gpu-mem", "80G", "-ngl", "9"},  // 4 layers
           {"info", "-m", m, "--device", "cuda", "--gpu-mem", "lots"}}) {
    const CommandResult r = run_scout(args);
    EXPECT_EQ(r.exit_code, 2) << args.back();
    EXPECT_EQ(lines(r.err), 1) << r.err;
  }
}

}  // namespace
}  // namespace scout::test
