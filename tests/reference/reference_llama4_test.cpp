// The reference forward itself checked against the external oracle, so that
// tests comparing the real path to it compare against something proven.
#include "reference/reference_llama4.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace scout::reference {
namespace {

using nlohmann::json;

// Teacher forcing in one pass: the reference sees prompt + continuation and
// its logits at position len(prompt) - 1 + s are those before step s.
TEST(ReferenceLlama4, MatchesExactTop10OnTinyModel) {
  if (!test::have_shared()) GTEST_SKIP() << "shared test data not found";
  const std::string dir = test::shared_dir() + "/testdata/llama4-tiny/";
  for (const char* quant : {"f16", "q4_k_m"}) {
    std::ifstream in(dir + "expected/" + std::string(quant) + "-basic.json");
    const json ex = json::parse(in);
    std::vector<int32_t> seq = ex["prompt_ids"].get<std::vector<int32_t>>();
    const auto ids = ex["ids"].get<std::vector<int32_t>>();
    const size_t n_prompt = seq.size();
    seq.insert(seq.end(), ids.begin(), ids.end() - 1);

    const gguf::GgufFile file = gguf::GgufFile::open(dir + "llama4-tiny-" + std::string(quant) + ".gguf");
    ReferenceModel ref(file);
    const auto logits = ref.forward(seq);
    double max_err = 0;
    for (size_t s = 0; s < ids.size(); ++s)
      for (const json& pair : ex["exact_top10"][s]) {
        const double err = std::abs(logits[n_prompt - 1 + s][pair[0].get<int>()] - pair[1].get<double>());
        max_err = std::max(max_err, err);
      }
    std::printf("[reference] %s-basic: max |logit err| vs exact_top10 %.5f\n", quant, max_err);
    EXPECT_LT(max_err, 0.01) << quant;
  }
}

}  // namespace
}  // namespace scout::reference
