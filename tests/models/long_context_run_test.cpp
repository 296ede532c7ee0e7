// The opt-in long-context run (tools/bench/long_context.sh): a nano Llama 4
// evaluates one sequence of SCOUT_LONG_CONTEXT tokens (e.g. 1048576), then
// generates at that depth; the logits at a few sampled positions are checked
// against the plain reference, which with the only global layer last costs
// linear time. Prints prefill time, decode t/s, peak RSS and KV bytes. Skipped
// unless SCOUT_LONG_CONTEXT is set (the default suite stays short);
// SCOUT_LONG_CONTEXT_KV picks the KV type (f16), SCOUT_LONG_CONTEXT_HEADS the
// query heads (1; head dimension 32, one kv head).
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "backend/kv_layout.h"
#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "models/model.h"
#include "reference/reference_llama4.h"
#include "engine/session.h"
#include "test_util.h"

namespace scout {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : fallback;
}

TEST(LongContextRun, SampledLogitsMatchTheReference) {
  const int64_t n = env_int("SCOUT_LONG_CONTEXT", 0);
  if (n <= 0) GTEST_SKIP() << "opt-in: SCOUT_LONG_CONTEXT=N (tools/bench/long_context.sh)";
  const char* kv_env = std::getenv("SCOUT_LONG_CONTEXT_KV");
  const std::string kv_name = kv_env && *kv_env ? kv_env : "f16";
  const auto kv_type = backend::parse_kv_type(kv_name);
  ASSERT_TRUE(kv_type) << kv_name;
  const int64_t heads = env_int("SCOUT_LONG_CONTEXT_HEADS", 1);

  // Layers 0-2 chunked RoPE (chunk 64), layer 3 global NoPE; f32 weights and
  // exact activations, so the cache's type is the only rounding.
  test::TempDir dir;
  const nlohmann::json cfg = {{"arch", "llama4"}, {"n_layer", 4}, {"d_model", 64}, {"n_head", heads},
                              {"n_head_kv", 1}, {"head_dim", 32}, {"n_expert", 4}, {"n_expert_used", 1},
                              {"expert_ff", 32}, {"dense_ff", 96}, {"chunk_size", 64}, {"context_length", n + 64},
                              {"weight_type", "f32"}, {"vocab", {{"builtin", true}}}};
  const std::string path = dir.path("nano.gguf");
  maker::make_model(maker::parse_model_config(cfg), 11, path);
  const auto model = Model::load(path);
  const uint32_t V = model->hparams().n_vocab;
  const std::vector<int32_t> tokens = test::random_tokens(static_cast<size_t>(n), V, 12);

  engine::SessionOptions o;
  o.n_ctx = static_cast<uint64_t>(n + 64);
  o.kv_type = *kv_type;
  o.quantize_activations = false;
  engine::Session s(*model, o);
  // Sampled positions: ends of the pieces the prompt is evaluated in.
  std::vector<int64_t> ends;
  for (const int64_t e : {int64_t{1000}, n / 4, n / 2, n - 1000, n - 1})
    if (e > 0 && e < n && (ends.empty() || e > ends.back())) ends.push_back(e);
  std::vector<std::vector<float>> ours;
  const auto t0 = Clock::now();
  int64_t at = 0;
  for (const int64_t e : ends) {
    ours.push_back(s.eval(std::span(tokens).subspan(static_cast<size_t>(at), static_cast<size_t>(e + 1 - at))));
    at = e + 1;
  }
  const double prefill_s = seconds_since(t0);
  const auto t1 = Clock::now();
  const int n_gen = 32;
  for (int i = 0; i < n_gen; ++i) {
    const int32_t id[1] = {static_cast<int32_t>(i % V)};
    s.eval(id);
  }
  const double decode_s = seconds_since(t1);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double rss_gib = static_cast<double>(ru.ru_maxrss) / (1024.0 * 1024.0);
  const engine::KvCache& kv = s.kv_cache();
  const double kv_gib = static_cast<double>(kv.bytes_in_use()) / (1024.0 * 1024.0 * 1024.0);
  const double global_gib = static_cast<double>(kv.layer_bytes(3, 0)) / (1024.0 * 1024.0 * 1024.0);

  const auto t2 = Clock::now();
  reference::ReferenceModel ref(model->file());
  const std::vector<std::vector<double>> want = ref.forward_at(tokens, ends);
  const double ref_s = seconds_since(t2);

  // Per sampled position, relative RMS against the reference; bounded as in
  // long_context_test.cpp (5 rounding units of the type).
  const double unit = kv_type == backend::KvType::F32    ? 2e-6
                      : kv_type == backend::KvType::F16  ? 0x1p-12
                      : kv_type == backend::KvType::BF16 ? 0x1p-9
                      : kv_type == backend::KvType::Q8_0 ? 1 / 254.0
                                                         : 1 / 14.0;
  std::string rel_list;
  for (size_t p = 0; p < ends.size(); ++p) {
    double se = 0, ss = 0;
    for (uint32_t i = 0; i < V; ++i) {
      const double dlt = ours[p][i] - want[p][i];
      se += dlt * dlt;
      ss += want[p][i] * want[p][i];
    }
    const double rel = std::sqrt(se / ss);
    rel_list += fmt::format("{}{}: {:.1e}", p ? ", " : "", ends[p], rel);
    EXPECT_LT(rel, 5 * unit) << "position " << ends[p];
  }
  std::printf(
      "[long-context-run] %lld tokens, KV %s, %lld heads: prefill %.1f s (%.0f tok/s), decode at depth %.1f tok/s, "
      "peak RSS %.2f GiB, KV %.3f GiB (global layer %.3f GiB); reference %.1f s; rel rms at %s\n",
      static_cast<long long>(n), kv_name.c_str(), static_cast<long long>(heads), prefill_s,
      static_cast<double>(n) / prefill_s, n_gen / decode_s, rss_gib, kv_gib, global_gib, ref_s, rel_list.c_str());
}

}  // namespace
}  // namespace scout
