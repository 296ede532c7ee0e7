#include "bench/runner.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <chrono>
#include <optional>

#include "engine/kv_snapshot.h"
#include "engine/session.h"

namespace scout::bench {

namespace {

constexpr int64_t kGenWarmupTokens = 16;

}  // namespace

DepthFills::~DepthFills() {
  std::error_code ec;
  for (const auto& [key, path] : paths_)
    if (!path.empty()) std::filesystem::remove(path, ec);
}

std::string& DepthFills::path_for(const TestCase& t) { return paths_[{t.depth, t.type_k, t.type_v}]; }

std::string DepthFills::fresh_path() {
  const std::string name = fmt::format("scout-bench-depth-{}-{}-{}.kv", ::getpid(), static_cast<const void*>(this), saved_++);
  return (std::filesystem::temp_directory_path() / name).string();
}

TestResult run_test(const Model& model, TokenPool& tokens, const TestCase& test, const RunnerOptions& opts) {
  engine::SessionOptions so;
  so.n_ctx = static_cast<uint64_t>(test.n_ctx());
  so.n_batch = static_cast<uint32_t>(test.batch);
  so.n_threads = test.threads;
  so.n_seq = static_cast<uint32_t>(test.n_parallel);
  so.quantize_activations = !opts.exact;
  so.kv_type = {*backend::parse_kv_type(test.type_k), *backend::parse_kv_type(test.type_v)};
  engine::Session session(model, so);
  std::optional<ExpertStats> stats;
  if (opts.expert_stats) stats.emplace(model.hparams());

  // The depth (-d) is evaluated once and saved; later repetitions (and tests
  // of the same depth and KV types) restore it instead of evaluating it
  // again: at long depths the fill is most of a test's time.
  DepthFills own;
  DepthFills& fills = opts.depth_fills ? *opts.depth_fills : own;
  std::string& depth_path = fills.path_for(test);
  auto fill_depth = [&](uint32_t seq) {
    if (test.depth == 0) return;
    if (!depth_path.empty()) {
      engine::load_snapshot(depth_path, session, seq);
      return;
    }
    const std::vector<int32_t> ids = tokens.draw(test.depth);
    const std::vector<float> logits = session.eval_seq(seq, ids);
    const std::string path = fills.fresh_path();
    try {
      engine::save_snapshot(path, session, seq, ids, logits);
      depth_path = path;
    } catch (const std::exception& e) {
      spdlog::warn("bench: the depth fill is not saved ({}): each repetition evaluates it", e.what());
    }
  };

  // One repetition of n tokens; returns the nanoseconds they took.
  const auto n_seq = static_cast<uint32_t>(test.n_parallel);
  auto repetition = [&](int64_t n, bool measured) {
    for (uint32_t q = 0; q < n_seq; ++q) {
      session.reset(q);
      fill_depth(q);
    }
    // Ids are drawn before the clock starts: only evaluation is timed.
    const std::vector<int32_t> ids = tokens.draw(n * n_seq);
    if (measured && stats) session.set_expert_stats(&*stats);
    const auto t0 = std::chrono::steady_clock::now();
    if (test.kind == TestKind::Prompt) {
      session.eval(ids);
    } else if (n_seq == 1) {
      for (const int32_t& id : ids) session.eval({&id, 1});
    } else {  // every sequence's next token in one pass, as scout batch and serve decode
      std::vector<engine::SeqToken> steps(n_seq);
      for (int64_t i = 0; i < n; ++i) {
        for (uint32_t q = 0; q < n_seq; ++q) steps[q] = {q, ids[static_cast<size_t>(i * n_seq + q)]};
        session.decode(steps);
      }
    }
    const auto t1 = std::chrono::steady_clock::now();
    session.set_expert_stats(nullptr);
    return std::chrono::duration<double, std::nano>(t1 - t0).count();
  };

  spdlog::info("bench: {} with {} thread{}{}: warm-up + {} run{}", test.name(), test.threads,
               test.threads == 1 ? "" : "s", test.kind == TestKind::Prompt ? fmt::format(", batch {}", test.batch) : "",
               opts.repetitions, opts.repetitions == 1 ? "" : "s");
  // The warm-up starts OpenMP's threads and fills caches and buffers (the
  // weights are already paged in: page_in.h). A generation warm-up is short,
  // as in llama-bench: token by token, a full one would cost as much as a
  // measured run, and slow models make those long.
  repetition(test.kind == TestKind::Prompt ? test.n_tokens : std::min<int64_t>(test.n_tokens, kGenWarmupTokens), false);

  TestResult r;
  r.test = test;
  for (int i = 0; i < opts.repetitions; ++i) {
    const double ns = repetition(test.n_tokens, true);
    r.samples_ns.push_back(ns);
    r.samples_ts.push_back(static_cast<double>(test.measured_tokens()) * 1e9 / ns);
  }
  r.ns = summarize(r.samples_ns);
  r.ts = summarize(r.samples_ts);
  if (stats) r.expert_counts = std::move(stats->counts);
  spdlog::info("bench: {} with {} thread{}: {:.2f} ± {:.2f} t/s", test.name(), test.threads,
               test.threads == 1 ? "" : "s", r.ts.mean, r.ts.sd);
  return r;
}

}  // namespace scout::bench
