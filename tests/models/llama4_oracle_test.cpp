// The forward pass against the external oracle (shared/testdata/README.md):
// teacher-forced over llama.cpp's greedy continuation. Computing exactly
// (f16 files, or --exact on quantized ones) our logits must match the
// exact-f32 reference's top ten within 0.1 at every step and our argmax must
// equal llama.cpp's token wherever its margin is clear. With 8-bit activations
// (the default on quantized files, as llama.cpp) the README's statistical rule
// holds: argmax = llama.cpp's on >= 80% of the steps with margin >= 0.5, over
// all five prompts of a file (one flipped expert choice moves a whole step, so
// a single 22-step prompt is too few steps to hold a percentage).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "backend/device.h"
#include "models/model.h"
#include "engine/session.h"
#include "sampling/sampler.h"
#include "test_util.h"

namespace scout {
namespace {

using nlohmann::json;

struct OracleCase {
  std::string quant;   // f16, q8_0, q4_k_m
  std::string prompt;  // basic, chat, ...
  bool exact = true;   // false: 8-bit activations in the dot products
};

void PrintTo(const OracleCase& c, std::ostream* os) { *os << c.quant << "-" << c.prompt << (c.exact ? "" : "-q8act"); }

std::string case_name(const ::testing::TestParamInfo<OracleCase>& info) {
  return info.param.quant + "_" + info.param.prompt + (info.param.exact ? "" : "_q8act");
}

struct OracleResult {
  double max_err = 0;         // over all steps and the ten ids of exact_top10
  double max_err_llama = 0;   // the same against llama.cpp's own top10 (for the record)
  int argmax_checked = 0;     // steps where llama.cpp's margin >= 0.2 (f16) or 0.5 (quantized)
  int argmax_agree = 0;       // ... where our argmax is llama.cpp's token
  int exact_checked = 0;      // steps where the exact reference's own margin >= 0.02
  int exact_agree = 0;        // ... where our argmax is its top-1
  int steps = 0;
  double prompt_tok_s = 0, gen_tok_s = 0;
};

OracleResult run_oracle(const OracleCase& c, backend::KvType kv_type, backend::Device device = backend::Device::Cpu) {
  const std::string dir = test::shared_dir() + "/testdata/llama4-tiny/";
  std::ifstream in(dir + "expected/" + c.quant + "-" + c.prompt + ".json");
  const json ex = json::parse(in);
  const auto prompt_ids = ex["prompt_ids"].get<std::vector<int32_t>>();
  const auto ids = ex["ids"].get<std::vector<int32_t>>();
  const auto margins = ex["margins"].get<std::vector<double>>();
  const json& top10 = ex["exact_top10"];
  const json& llama_top10 = ex["top10"];

  LoadOptions lo;
  lo.backend = backend::shared_backend(device);
  const auto model = Model::load(dir + "llama4-tiny-" + c.quant + ".gguf", lo);
  engine::SessionOptions opts;
  opts.kv_type = kv_type;
  opts.quantize_activations = !c.exact;
  engine::Session session(*model, opts);

  OracleResult r;
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  std::vector<float> logits = session.eval(prompt_ids);
  r.prompt_tok_s = prompt_ids.size() / std::chrono::duration<double>(clock::now() - t0).count();
  t0 = clock::now();
  for (size_t s = 0; s < ids.size(); ++s) {
    for (const json& pair : top10[s]) {
      const int id = pair[0].get<int>();
      const double err = std::abs(logits[id] - pair[1].get<double>());
      r.max_err = std::max(r.max_err, err);
      if (c.exact) EXPECT_LT(err, 0.1) << "step " << s << " id " << id;
    }
    for (const json& pair : llama_top10[s])
      r.max_err_llama = std::max(r.max_err_llama, std::abs(logits[pair[0].get<int>()] - pair[1].get<double>()));
    const int32_t mine = sampling::greedy(logits);
    // llama.cpp quantizes activations on q8_0/q4_k_m files, which can flip an
    // expert choice: there only the README's statistical rule holds, checked below.
    const bool f16 = c.quant == "f16";  // no activation quantization on either side
    if (margins[s] >= (f16 ? 0.2 : 0.5)) {
      ++r.argmax_checked;
      r.argmax_agree += mine == ids[s];
      if (f16) EXPECT_EQ(mine, ids[s]) << "step " << s << " margin " << margins[s];
    }
    // The exact reference computes what we compute exactly: its top-1 must be ours.
    if (c.exact && top10[s][0][1].get<double>() - top10[s][1][1].get<double>() >= 0.02) {
      ++r.exact_checked;
      r.exact_agree += mine == top10[s][0][0].get<int32_t>();
      EXPECT_EQ(mine, top10[s][0][0].get<int32_t>()) << "step " << s;
    }
    ++r.steps;
    if (s + 1 < ids.size()) logits = session.eval(std::span<const int32_t>(&ids[s], 1));
  }
  r.gen_tok_s = (ids.size() - 1) / std::chrono::duration<double>(clock::now() - t0).count();
  if (c.exact) EXPECT_GE(r.argmax_agree, 0.8 * r.argmax_checked);
  return r;
}

class Llama4Oracle : public ::testing::TestWithParam<OracleCase> {
 protected:
  void SetUp() override {
    if (!test::have_shared()) GTEST_SKIP() << "shared test data not found";
  }
};

TEST_P(Llama4Oracle, TeacherForcedMatchesExactReference) {
  const OracleResult r = run_oracle(GetParam(), backend::KvType::F16);
  std::printf(
      "[oracle] %s-%s%s: max |logit err| %.5f (vs llama.cpp's %.3f), argmax = llama.cpp %d/%d, = exact top-1 %d/%d, prompt %.0f tok/s, "
      "gen %.0f tok/s\n",
      GetParam().quant.c_str(), GetParam().prompt.c_str(), GetParam().exact ? "" : " (8-bit activations)", r.max_err,
      r.max_err_llama, r.argmax_agree, r.argmax_checked, r.exact_agree,
      r.exact_checked, r.prompt_tok_s, r.gen_tok_s);
  RecordProperty("max_logit_err", std::to_string(r.max_err));
}

std::vector<OracleCase> short_cases() {
  std::vector<OracleCase> v;
  for (const char* q : {"f16", "q8_0", "q4_k_m"})
    for (const char* p : {"basic", "chat", "mixed", "unicode"}) v.push_back({q, p});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Tiny, Llama4Oracle, ::testing::ValuesIn(short_cases()), case_name);

// long12k: 12150 prompt tokens cross the 8192-token chunk boundary, where
// chunked attention and attention temperature tuning both matter.
INSTANTIATE_TEST_SUITE_P(Long12k, Llama4Oracle,
                         ::testing::Values(OracleCase{"f16", "long12k"}, OracleCase{"q8_0", "long12k"},
                                           OracleCase{"q4_k_m", "long12k"}),
                         case_name);

// The default fast path on the quantized files: 8-bit activations, as llama.cpp.
class Llama4OracleQ8Activations : public ::testing::TestWithParam<std::string> {};

TEST_P(Llama4OracleQ8Activations, ArgmaxAgreesWithLlamaCppOverAllPrompts) {
  if (!test::have_shared()) GTEST_SKIP() << "shared test data not found";
  int agree = 0, checked = 0;
  for (const char* p : {"basic", "chat", "mixed", "unicode", "long12k"}) {
    const OracleResult r = run_oracle({GetParam(), p, false}, backend::KvType::F16);
    std::printf("[oracle] %s-%s (8-bit activations): max |logit err| %.3f vs exact, %.3f vs llama.cpp; argmax = "
                "llama.cpp %d/%d\n",
                GetParam().c_str(), p, r.max_err, r.max_err_llama, r.argmax_agree, r.argmax_checked);
    agree += r.argmax_agree;
    checked += r.argmax_checked;
  }
  std::printf("[oracle] %s (8-bit activations): argmax = llama.cpp on %d of %d steps with margin >= 0.5\n",
              GetParam().c_str(), agree, checked);
  EXPECT_GE(agree, 0.8 * checked);
}

INSTANTIATE_TEST_SUITE_P(Quantized, Llama4OracleQ8Activations, ::testing::Values("q8_0", "q4_k_m"));

// The same math with an f32 KV cache: f16 storage must not be what makes it pass or fail.
TEST(Llama4OracleKvF32, BasicAndChatF16File) {
  if (!test::have_shared()) GTEST_SKIP() << "shared test data not found";
  for (const char* p : {"basic", "chat"}) {
    const OracleResult r = run_oracle({"f16", p}, backend::KvType::F32);
    std::printf("[oracle kv f32] f16-%s: max |logit err| %.5f\n", p, r.max_err);
  }
}

// The same oracle on the GPU, with the same tolerances (skipped without one).
// Exact cases take the f32 kernels for every matmul; the others 8-bit
// activations (dp4a GEMV) and bf16 tensor cores for prompts, held to the
// statistical rule.
class Llama4OracleCuda : public ::testing::TestWithParam<OracleCase> {
 protected:
  void SetUp() override {
    if (!test::have_shared()) GTEST_SKIP() << "shared test data not found";
    std::string why;
    if (backend::cuda_device_count(&why) == 0) GTEST_SKIP() << why;
  }
};

TEST_P(Llama4OracleCuda, TeacherForcedMatchesExactReference) {
  const OracleResult r = run_oracle(GetParam(), backend::KvType::F16, backend::Device::Cuda);
  std::printf("[oracle cuda] %s-%s%s: max |logit err| %.5f, argmax = llama.cpp %d/%d, = exact top-1 %d/%d\n",
              GetParam().quant.c_str(), GetParam().prompt.c_str(), GetParam().exact ? "" : " (8-bit / bf16)", r.max_err,
              r.argmax_agree, r.argmax_checked, r.exact_agree, r.exact_checked);
  if (!GetParam().exact) EXPECT_GE(r.argmax_agree, 0.8 * r.argmax_checked);
}

std::vector<OracleCase> cuda_cases() {
  std::vector<OracleCase> v = short_cases();
  v.push_back({"f16", "long12k"});
  for (const char* q : {"q8_0", "q4_k_m"})
    for (const char* p : {"basic", "chat", "long12k"}) v.push_back({q, p, false});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Tiny, Llama4OracleCuda, ::testing::ValuesIn(cuda_cases()), case_name);

}  // namespace
}  // namespace scout
