// `scout perplexity`: how well a model predicts a text (llama.cpp's method,
// so the numbers compare with published ones; see src/eval/perplexity.h), and
// with --kl-divergence-base / --kl-divergence how far a quantized file's
// predictions are from its base model's (src/eval/kl_divergence.h).
// Results go to stdout, progress and timings to stderr.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>

#include "cli/command.h"
#include "cli/session_flags.h"
#include "eval/kl_base_file.h"
#include "eval/kl_stats.h"
#include "eval/perplexity.h"
#include "eval/running_stats.h"
#include "models/model.h"
#include "engine/session.h"
#include "tokenizer/tokenizer.h"

namespace scout::cli {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct PerplexityOptions {
  std::string model;
  std::string text_file;
  uint32_t ctx = 512;
  uint32_t batch = 512;
  int threads = 0;
  bool exact = false;
  KvTypeFlags kv_type;
  std::string load = "auto";
  DeviceFlags device;
  size_t chunks = 0;
  std::string kl_base;
  bool kl = false;
  bool json = false;
};

// What both modes share: the model, its tokenizer and a session of n_ctx.
struct Loaded {
  std::string path;
  std::unique_ptr<Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  size_t n_vocab = 0;
};

Loaded load(const PerplexityOptions& o) {
  Loaded l;
  l.path = o.model.empty() ? default_model_path() : o.model;
  RunShape shape;
  shape.ctx = o.ctx;
  shape.batch = o.batch;
  shape.kv_type = o.kv_type.types();
  l.model = load_model(l.path, *gguf::parse_load_mode(o.load), o.device, shape);
  l.tok = tokenizer::Tokenizer::from_gguf(l.model->file());
  l.n_vocab = l.model->hparams().n_vocab;
  return l;
}

std::unique_ptr<engine::Session> make_session(const Loaded& l, const PerplexityOptions& o, uint32_t n_ctx) {
  const uint64_t trained = l.model->hparams().context_length;
  if (trained && n_ctx > trained)
    spdlog::warn("-c {} is longer than the context the model was trained on ({})", n_ctx, trained);
  engine::SessionOptions so;
  so.n_ctx = n_ctx;
  so.n_batch = o.batch;
  so.n_threads = o.threads;
  so.quantize_activations = !o.exact;
  so.kv_type = o.kv_type.kv_types();
  return std::make_unique<engine::Session>(*l.model, so);
}

std::vector<int32_t> tokenize_file(const Loaded& l, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read the text file");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  // As llama.cpp: BOS when the vocabulary asks for one, special-token text as plain text.
  return l.tok->encode(text, l.tok->add_bos(), /*parse_special=*/false);
}

// Logs the time of the first window and the expected total, as llama.cpp does.
void log_eta(size_t w, size_t n_windows, Clock::time_point t0) {
  if (w != 0) return;
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  spdlog::info("{:.2f} s per window, about {:.1f} s in all", s, s * static_cast<double>(n_windows));
}

// Evaluates one window from an empty context; logits of every position.
std::vector<float> eval_window(engine::Session& session, const std::vector<int32_t>& window) {
  session.reset();
  return session.eval(window, /*all_logits=*/true);
}

void run_perplexity(const PerplexityOptions& o) {
  const Loaded l = load(o);
  const std::vector<int32_t> tokens = tokenize_file(l, o.text_file);
  const eval::WindowPlan plan = eval::plan_windows(tokens.size(), o.ctx, o.chunks);
  const int32_t bos = l.tok->add_bos() ? l.tok->bos() : -1;
  spdlog::info("{} tokens: {} windows of {}, {} predictions scored in each ({} in all)", tokens.size(),
               plan.n_windows, plan.n_ctx, plan.predictions_per_window(), plan.predictions());

  std::unique_ptr<eval::KlBaseWriter> base;
  if (!o.kl_base.empty()) {
    eval::KlBaseInfo info{static_cast<uint32_t>(plan.n_ctx), static_cast<uint32_t>(l.n_vocab),
                          static_cast<uint32_t>(plan.n_windows), static_cast<uint32_t>(plan.first), bos,
                          eval::vocab_hash(*l.tok),
                          std::vector<int32_t>(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(plan.n_windows * plan.n_ctx))};
    base = std::make_unique<eval::KlBaseWriter>(o.kl_base, info);
    spdlog::info("saving the base distributions to {} ({:.1f} MiB)", o.kl_base,
                 static_cast<double>(plan.predictions() * eval::row_bytes(l.n_vocab)) / (1 << 20));
  }

  auto session = make_session(l, o, static_cast<uint32_t>(plan.n_ctx));
  eval::PerplexityStats stats;
  std::vector<double> running;
  const auto t0 = Clock::now();
  for (size_t w = 0; w < plan.n_windows; ++w) {
    const std::vector<int32_t> window = eval::window_tokens(tokens, plan, w, bos);
    const std::vector<float> logits = eval_window(*session, window);
    for (double nll : eval::score_window(logits, l.n_vocab, window, plan.first, o.threads)) stats.add(nll);
    if (base) base->append(eval::encode_window(logits, l.n_vocab, window, plan.first, o.threads));
    running.push_back(stats.ppl());
    log_eta(w, plan.n_windows, t0);
    if (!o.json) {
      fmt::print("[{}]{:.4f},", w + 1, stats.ppl());
      std::fflush(stdout);
    }
  }
  if (base) base->close();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  if (o.json) {
    json j = {{"model", l.path},        {"text_file", o.text_file}, {"tokens", tokens.size()},
              {"n_ctx", plan.n_ctx},    {"windows", plan.n_windows}, {"predictions", stats.count()},
              {"ppl", stats.ppl()},     {"ppl_error", stats.ppl_error()}, {"running_ppl", running},
              {"seconds", seconds}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("\nFinal estimate: PPL = {:.4f} +/- {:.5f}\n", stats.ppl(), stats.ppl_error());
  }
  spdlog::info("{} windows, {} predictions in {:.2f} s ({:.1f} tokens/s)", plan.n_windows, stats.count(), seconds,
               static_cast<double>(plan.n_windows * plan.n_ctx) / seconds);
}

// The KL run's checks: a base file is only comparable when made from the same
// vocabulary, window size and tokens.
void check_base(const eval::KlBaseInfo& info, const Loaded& l, const PerplexityOptions& o, CLI::App* cmd) {
  if (info.n_vocab != l.n_vocab || info.vocab_hash != eval::vocab_hash(*l.tok))
    throw std::runtime_error(fmt::format("{}: the base file was made with a different vocabulary ({} tokens) than {} "
                                         "({} tokens): KL divergence needs the same tokenizer",
                                         o.kl_base, info.n_vocab, l.path, l.n_vocab));
  if (cmd->count("--ctx-size") && o.ctx != info.n_ctx)
    throw std::runtime_error(fmt::format("{}: the base file was made with -c {}, this run asks for -c {} "
                                         "(leave -c out to use the base's)",
                                         o.kl_base, info.n_ctx, o.ctx));
  if (o.text_file.empty()) return;
  const std::vector<int32_t> tokens = tokenize_file(l, o.text_file);
  const size_t n = info.tokens.size();
  if (tokens.size() < n)
    throw std::runtime_error(fmt::format("{}: the text tokenizes to {} tokens, but the base file {} holds {}: "
                                         "not the text the base was made from",
                                         o.text_file, tokens.size(), o.kl_base, n));
  for (size_t i = 0; i < n; ++i)
    if (tokens[i] != info.tokens[i])
      throw std::runtime_error(fmt::format("{}: the text tokenizes differently from the one the base file {} was made "
                                           "from (token {} is {}, the base has {})",
                                           o.text_file, o.kl_base, i, tokens[i], info.tokens[i]));
}

void print_kl_report(const eval::KlStats& s) {
  fmt::print("\n====== Perplexity ======\n");
  fmt::print("PPL(this)               {:10.4f} +/- {:.5f}\n", s.ppl().ppl(), s.ppl().ppl_error());
  fmt::print("PPL(base)               {:10.4f} +/- {:.5f}\n", s.ppl_base().ppl(), s.ppl_base().ppl_error());
  fmt::print("ln(PPL(this)/PPL(base)) {:10.6f} +/- {:.6f}\n", s.ln_ppl_ratio().mean(), s.ln_ppl_ratio().standard_error());
  fmt::print("====== KL divergence (base || this), {} positions ======\n", s.count());
  fmt::print("Mean   KLD              {:10.6f} +/- {:.6f}\n", s.kl().mean(), s.kl().standard_error());
  fmt::print("Median KLD              {:10.6f}\n", s.kl_quantile(0.5));
  fmt::print("99.0%  KLD              {:10.6f}\n", s.kl_quantile(0.99));
  fmt::print("Max    KLD              {:10.6f}\n", s.kl_quantile(1.0));
  fmt::print("Same top-1 token        {:10.3f} +/- {:.3f} %\n", 100 * s.same_top(), 100 * s.same_top_error());
}

void run_kl_divergence(const PerplexityOptions& o, CLI::App* cmd) {
  eval::KlBaseReader base(o.kl_base);
  const eval::KlBaseInfo& info = base.info();
  const Loaded l = load(o);
  check_base(info, l, o, cmd);
  const eval::WindowPlan plan{info.n_ctx, o.chunks ? std::min<size_t>(o.chunks, info.n_windows) : info.n_windows,
                              info.first};
  spdlog::info("comparing with {}: {} windows of {}, {} predictions scored in each", o.kl_base, plan.n_windows,
               plan.n_ctx, plan.predictions_per_window());

  auto session = make_session(l, o, info.n_ctx);
  eval::KlStats stats;
  std::vector<uint8_t> rows;
  const auto t0 = Clock::now();
  for (size_t w = 0; w < plan.n_windows; ++w) {
    const std::vector<int32_t> window = eval::window_tokens(info.tokens, plan, w, info.bos);
    const std::vector<float> logits = eval_window(*session, window);
    base.read_window(static_cast<uint32_t>(w), rows);
    for (const eval::RowComparison& c : eval::compare_window(rows, logits, l.n_vocab, window, plan.first, o.threads))
      stats.add(c);
    log_eta(w, plan.n_windows, t0);
    if (!o.json) {
      fmt::print("[{}] PPL {:.4f}  base {:.4f}  KLD {:.6f}  top-1 {:.2f}%\n", w + 1, stats.ppl().ppl(),
                 stats.ppl_base().ppl(), stats.kl().mean(), 100 * stats.same_top());
      std::fflush(stdout);
    }
  }
  if (o.json) {
    json j = {{"model", l.path},
              {"base", o.kl_base},
              {"n_ctx", plan.n_ctx},
              {"windows", plan.n_windows},
              {"predictions", stats.count()},
              {"ppl", stats.ppl().ppl()},
              {"ppl_error", stats.ppl().ppl_error()},
              {"ppl_base", stats.ppl_base().ppl()},
              {"ppl_base_error", stats.ppl_base().ppl_error()},
              {"ln_ppl_ratio", stats.ln_ppl_ratio().mean()},
              {"ln_ppl_ratio_error", stats.ln_ppl_ratio().standard_error()},
              {"kld", stats.kl().mean()},
              {"kld_error", stats.kl().standard_error()},
              {"kld_median", stats.kl_quantile(0.5)},
              {"kld_99", stats.kl_quantile(0.99)},
              {"kld_max", stats.kl_quantile(1.0)},
              {"same_top", stats.same_top()},
              {"same_top_error", stats.same_top_error()}};
    fmt::print("{}\n", j.dump());
  } else {
    print_kl_report(stats);
  }
}

void run(const PerplexityOptions& o, CLI::App* cmd) {
  if (o.kl && o.kl_base.empty())
    throw UsageError("--kl-divergence needs --kl-divergence-base FILE (written by a run without --kl-divergence)");
  if (o.kl) return run_kl_divergence(o, cmd);
  if (o.text_file.empty()) throw UsageError("give the text to score with -f FILE");
  run_perplexity(o);
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto o = std::make_shared<PerplexityOptions>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity",
      "Perplexity of a text in windows of -c tokens (llama.cpp's method), and KL divergence against a base model");
  cmd->add_option("-m,--model", o->model, "GGUF file (default: the embedded default model)");
  cmd->add_option("-f,--file", o->text_file, "the text to score (optional with --kl-divergence: the base file holds its tokens)");
  cmd->add_option("-c,--ctx-size", o->ctx, "window length in tokens; the second half of each window is scored")
      ->check(CLI::Range(4u, 1u << 24));
  cmd->add_option("-b,--batch-size", o->batch, "tokens per forward pass")->check(CLI::Range(1u, 65536u));
  cmd->add_option("-t,--threads", o->threads, "CPU threads (default: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_flag("--exact", o->exact, "multiply quantized weights in f32 (no 8-bit activation rounding)");
  add_kv_type_flags(cmd, o->kv_type);
  add_load_flag(cmd, o->load);
  add_device_flags(cmd, o->device);
  cmd->add_option("--chunks", o->chunks, "score at most this many windows; 0: all");
  cmd->add_option("--kl-divergence-base", o->kl_base,
                  "without --kl-divergence: save this model's next-token distributions to FILE "
                  "(16-bit log-probabilities, 2 bytes per vocabulary entry per scored position); "
                  "with it: compare against FILE");
  cmd->add_flag("--kl-divergence", o->kl,
                "compare this model (e.g. a quantization) with the base saved in --kl-divergence-base: "
                "KL divergence, top-1 agreement, both PPLs");
  cmd->add_flag("--json", o->json, "print one JSON object with the results instead of text");
  cmd->callback([o, cmd] { run(*o, cmd); });
}

}  // namespace scout::cli
