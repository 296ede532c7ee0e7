// `scout run`: one prompt in, generated text streamed to stdout.
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>

#include "cli/command.h"
#include "cli/size_arg.h"
#include "models/model.h"
#include "runtime/generate.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace scout::cli {

namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  int64_t n_predict = 128;
  int threads = 0;
  std::string ctx;
  uint32_t batch = 512;
  std::string kv_type = "f16";
  float temp = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int32_t repeat_last_n = 64;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int64_t seed = -1;
  std::vector<std::string> stop;
  bool no_special = false;
  bool show_special = false;
  bool ignore_eos = false;
  bool truncate = false;
  bool json = false;
};

std::string read_prompt(const RunOptions& o, CLI::App* cmd) {
  if (cmd->count("--prompt") && cmd->count("--file")) throw UsageError("give either -p or -f, not both");
  if (cmd->count("--prompt")) return o.prompt;
  if (cmd->count("--file")) {
    std::ifstream in(o.prompt_file, std::ios::binary);
    if (!in) throw std::runtime_error(o.prompt_file + ": cannot read the prompt file");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  if (!isatty(STDIN_FILENO)) return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  return {};  // an empty prompt: generate from BOS alone
}

// A prompt that does not fit is an error unless --truncate: then its start is
// dropped (keeping BOS) so that max(n_predict, 1) tokens still fit, up to half the context.
void fit_prompt(std::vector<int32_t>& ids, uint64_t n_ctx, const RunOptions& o, int32_t bos) {
  if (ids.size() < n_ctx) return;
  if (!o.truncate)
    throw std::runtime_error(fmt::format("prompt of {} tokens does not fit the context of {} (use a larger -c, or --truncate)",
                                         ids.size(), n_ctx));
  const uint64_t room = std::clamp<uint64_t>(o.n_predict > 0 ? static_cast<uint64_t>(o.n_predict) : n_ctx / 2, 1, n_ctx / 2);
  const uint64_t keep = n_ctx - room;
  const bool has_bos = !ids.empty() && ids[0] == bos;
  std::vector<int32_t> kept;
  if (has_bos) kept.push_back(bos);
  kept.insert(kept.end(), ids.end() - static_cast<std::ptrdiff_t>(keep - kept.size()), ids.end());
  spdlog::warn("prompt of {} tokens truncated to its last {} to fit the context of {}", ids.size(), kept.size(), n_ctx);
  ids = std::move(kept);
}

void run(const RunOptions& o, CLI::App* cmd) {
  using Clock = std::chrono::steady_clock;
  const std::string prompt = read_prompt(o, cmd);
  const std::string path = o.model.empty() ? default_model_path() : o.model;

  const auto t_load = Clock::now();
  std::unique_ptr<Model> model = Model::load(path);
  std::unique_ptr<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::from_gguf(model->file());
  const double load_seconds = std::chrono::duration<double>(Clock::now() - t_load).count();

  const uint64_t model_ctx = model->hparams().context_length;
  runtime::SessionOptions so;
  so.n_ctx = o.ctx.empty() ? std::min<uint64_t>(model_ctx ? model_ctx : 8192, 8192) : parse_size_arg("--ctx-size", o.ctx);
  so.n_batch = o.batch;
  so.n_threads = o.threads;
  so.kv_type = o.kv_type == "f32" ? runtime::KvType::F32 : runtime::KvType::F16;
  runtime::Session session(*model, so);

  std::vector<int32_t> ids = tok->encode(prompt, tok->add_bos(), !o.no_special);
  if (ids.empty()) throw std::runtime_error("the prompt is empty and the vocabulary adds no BOS token: nothing to start from");
  fit_prompt(ids, session.n_ctx(), o, tok->bos());

  runtime::GenerateOptions go;
  go.max_tokens = o.n_predict;
  go.stop = o.stop;
  go.ignore_eog = o.ignore_eos;
  go.render_specials = o.show_special;
  go.sampler.temperature = o.temp;
  go.sampler.top_k = o.top_k;
  go.sampler.top_p = o.top_p;
  go.sampler.min_p = o.min_p;
  go.sampler.repeat_penalty = o.repeat_penalty;
  go.sampler.repeat_last_n = o.repeat_last_n;
  go.sampler.presence_penalty = o.presence_penalty;
  go.sampler.frequency_penalty = o.frequency_penalty;
  go.sampler.seed = o.seed >= 0 ? static_cast<uint64_t>(o.seed) : std::random_device{}();

  auto stream = [&](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  const runtime::GenerateResult r =
      runtime::generate(session, *tok, ids, go, o.json ? std::function<void(std::string_view)>() : stream);

  if (o.json) {
    nlohmann::json j = {{"model", path},
                        {"text", r.text},
                        {"prompt_ids", r.prompt_ids},
                        {"ids", r.ids},
                        {"stop_reason", runtime::stop_reason_name(r.stop_reason)},
                        {"seed", go.sampler.seed},
                        {"timings",
                         {{"load_ms", load_seconds * 1e3},
                          {"prompt_ms", r.prompt_seconds * 1e3},
                          {"prompt_tokens_per_s", r.prompt_tokens_per_second()},
                          {"generate_ms", r.generate_seconds * 1e3},
                          {"generate_tokens_per_s", r.generated_tokens_per_second()}}}};
    // Invalid UTF-8 (random models emit any bytes) is replaced, not fatal.
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    stream("\n");
  }
  spdlog::info("prompt: {} tokens, {:.1f} tok/s | generated: {} tokens, {:.1f} tok/s | load {:.0f} ms | stop: {} | seed {}",
               r.prompt_ids.size(), r.prompt_tokens_per_second(), r.ids.size(), r.generated_tokens_per_second(),
               load_seconds * 1e3, runtime::stop_reason_name(r.stop_reason), go.sampler.seed);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt (-p, -f or stdin), streamed to stdout");
  cmd->add_option("-m,--model", o->model, "GGUF file (default: the embedded default model)");
  cmd->add_option("-p,--prompt", o->prompt, "prompt text");
  cmd->add_option("-f,--file", o->prompt_file, "read the prompt from a file");
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate; -1: until end of generation or a full context")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 40));
  cmd->add_option("-t,--threads", o->threads, "CPU threads (default: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("-c,--ctx-size", o->ctx, "context length: 4096, 128K, 1M (default: the model's, at most 8192)");
  cmd->add_option("-b,--batch-size", o->batch, "prompt tokens per forward pass")->check(CLI::Range(1u, 65536u));
  cmd->add_option("--kv-type", o->kv_type, "KV cache element type")->check(CLI::IsMember({"f16", "f32"}));
  cmd->add_option("--temp", o->temp, "temperature; 0: greedy")->check(CLI::Range(0.0f, 100.0f));
  cmd->add_option("--top-k", o->top_k, "keep the k most likely tokens; 0: off");
  cmd->add_option("--top-p", o->top_p, "nucleus sampling threshold; 1: off")->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--min-p", o->min_p, "drop tokens below min-p times the top probability; 0: off")->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--repeat-penalty", o->repeat_penalty, "penalise recent tokens; 1: off")->check(CLI::Range(0.0f, 100.0f));
  cmd->add_option("--repeat-last-n", o->repeat_last_n, "window of recent tokens for the penalties")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--presence-penalty", o->presence_penalty, "subtract from tokens present in the window; 0: off");
  cmd->add_option("--frequency-penalty", o->frequency_penalty, "subtract per occurrence in the window; 0: off");
  cmd->add_option("-s,--seed", o->seed, "RNG seed; -1: random (printed in the summary)");
  cmd->add_option("--stop", o->stop, "stop when this text is generated (repeatable); it is not printed");
  cmd->add_flag("--no-special", o->no_special, "tokenize special-token text in the prompt as plain text");
  cmd->add_flag("--show-special", o->show_special, "print special tokens' text in the output");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating past end-of-generation tokens");
  cmd->add_flag("--truncate", o->truncate, "drop the start of a prompt too long for the context instead of failing");
  cmd->add_flag("--json", o->json, "print one JSON object: text, token ids, timings, stop reason");
  cmd->callback([o, cmd] { run(*o, cmd); });
}

}  // namespace scout::cli
