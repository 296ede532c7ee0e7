// `scout batch`: many prompts through one loaded model, results as JSON lines.
// Input: JSONL jobs, a text file (one prompt a line) or a directory of .txt
// files (src/batch/job_source.h). Output: one object per job, in input order,
// appended as each finishes so a rerun resumes where a killed run stopped
// (src/batch/output_file.h). --parallel N keeps N jobs in flight, decoded
// together one token each per forward pass (src/batch/runner.h).
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "batch/job_source.h"
#include "batch/output_file.h"
#include "batch/progress.h"
#include "batch/runner.h"
#include "cli/command.h"
#include "cli/session_flags.h"
#include "cli/sampling_flags.h"
#include "cli/size_arg.h"
#include "cli/vision_flags.h"
#include "models/model.h"

namespace scout::cli {

namespace {

struct BatchOptions {
  std::string model;
  std::string input;
  std::string output;
  std::string input_format = "jsonl";
  int64_t n_predict = 128;
  SessionFlags session;
  SamplingFlags sampling;
  std::vector<std::string> stop;
  std::string chat_template;
  bool special = false;
  bool resume = true;
  bool sync = true;
  int parallel = 1;
  VisionFlags vision;
};

// The jobs still to do: every input job whose key is not in the output yet.
std::vector<const batch::Job*> pending_jobs(const std::vector<batch::Job>& jobs, const batch::OutputFile& out) {
  std::vector<const batch::Job*> todo;
  for (const batch::Job& job : jobs)
    if (!out.done().count(job.key())) todo.push_back(&job);
  return todo;
}

void run(const BatchOptions& o) {
  using Clock = std::chrono::steady_clock;
  std::vector<batch::Job> jobs = batch::read_jobs(
      o.input, o.input_format == "text" ? batch::InputFormat::Text : batch::InputFormat::Jsonl);
  batch::mark_duplicate_ids(jobs);
  batch::OutputFile out(o.output, o.resume, o.sync);
  const std::vector<const batch::Job*> todo = pending_jobs(jobs, out);
  if (todo.size() < jobs.size())
    spdlog::info("resume: skipping {} done of {} ({} already in {})", jobs.size() - todo.size(), jobs.size(),
                 out.done().size(), o.output);
  if (todo.empty()) {
    spdlog::info("nothing to do: all {} jobs are in {}", jobs.size(), o.output);
    return;
  }

  const auto t_load = Clock::now();
  const std::string path = o.model.empty() ? default_model_path() : o.model;
  std::unique_ptr<Model> model = o.session.load_model(path);
  const engine::SessionOptions so = o.session.options(model->hparams().context_length);

  batch::RunDefaults d;
  d.max_tokens = o.n_predict;
  d.sampler = sampler_params(o.sampling);
  d.random_seed = o.sampling.seed < 0;
  d.stop = o.stop;
  d.parse_special = o.special;
  d.chat_template = o.chat_template;
  const std::unique_ptr<vision::VisionEncoder> projector =
      load_projector(*model, *tokenizer::Tokenizer::from_gguf(model->file()), o.vision, o.session.threads);
  d.projector = projector.get();
  d.layout = o.vision.vision_layout();
  batch::Runner runner(*model, so, d, static_cast<uint32_t>(o.parallel));
  spdlog::info("batch: {} jobs on {} (context {}, {} in parallel), loaded in {:.0f} ms", todo.size(), path,
               runner.n_ctx(), runner.n_parallel(),
               std::chrono::duration<double, std::milli>(Clock::now() - t_load).count());

  batch::Progress progress(todo.size(), isatty(STDERR_FILENO) != 0);
  uint64_t errors = 0, tokens = 0;
  const auto t0 = Clock::now();
  runner.run(todo, [&](const nlohmann::ordered_json& result) {
    out.append(result);
    const uint64_t n = result.value("completion_tokens", uint64_t{0});
    if (result.contains("error")) ++errors;
    tokens += n;
    progress.job_done(n);
  });
  progress.finish();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto per_s = [seconds](double x) { return seconds > 0 ? x / seconds : 0.0; };
  spdlog::info("batch: {} done ({} errors), {} tokens generated in {:.1f} s ({:.2f} jobs/s, {:.1f} tok/s) -> {}",
               todo.size(), errors, tokens, seconds, per_s(static_cast<double>(todo.size())),
               per_s(static_cast<double>(tokens)), o.output);
}

}  // namespace

void add_batch_command(CLI::App& app) {
  auto o = std::make_shared<BatchOptions>();
  CLI::App* cmd = app.add_subcommand("batch", "Run many prompts (JSONL, text lines or a directory of .txt) into a JSONL file");
  cmd->add_option("-m,--model", o->model, "GGUF file (default: the embedded default model)");
  cmd->add_option("-i,--input", o->input,
                  "JSONL file, one {\"id\", \"prompt\" | \"messages\", [max_tokens, temperature, top_p, seed, stop]} a line; "
                  "a text file with --input-format text; or a directory of .txt files (id = file name)")
      ->required();
  cmd->add_option("-o,--output", o->output, "results, one JSON object a line, appended as each job finishes")->required();
  cmd->add_option("--input-format", o->input_format, "jsonl, or text: one prompt a line, id = the line number")
      ->check(CLI::IsMember({"jsonl", "text"}));
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate per job unless it sets max_tokens; -1: until "
                                                  "end of generation or a full context")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 40));
  add_session_flags(cmd, o->session);
  add_sampling_flags(cmd, o->sampling);
  add_vision_flags(cmd, o->vision, /*with_images=*/false);
  cmd->add_option("--stop", o->stop, "stop when this text is generated (repeatable), for jobs that set no \"stop\"");
  cmd->add_option("--chat-template", o->chat_template,
                  "format for \"messages\" jobs: llama4, llama3, llama2, chatml, mistral (default: the model's)");
  cmd->add_flag("--special", o->special, "parse special-token text in prompts into those tokens (messages always do)");
  cmd->add_flag("--resume,!--no-resume", o->resume,
                "skip jobs whose id is already in the output (default); --no-resume starts the output afresh");
  cmd->add_flag("--sync,!--no-sync", o->sync, "fdatasync the output after each result (default: on)");
  cmd->add_option("--parallel", o->parallel,
                  "jobs in flight at once (default 1): their new tokens share one forward pass, so the weights "
                  "are read once per step for all of them; each job keeps the whole -c context")
      ->check(CLI::Range(1, 1024));
  cmd->callback([o] { run(*o); });
}

}  // namespace scout::cli
