// `scout batch`: many prompts through one loaded model, results as JSON lines.
// Input: JSONL jobs, a text file (one prompt a line) or a directory of .txt
// files (src/batch/job_source.h). Output: one object per job, in input order,
// appended as each finishes so a rerun resumes where a killed run stopped
// (src/batch/output_file.h). --parallel N keeps N jobs in flight, decoded
// together one token each per forward pass (src/batch/runner.h). OpenAI
// Batch lines in and out (src/batch/openai_batch.h); --shard K/N or a Slurm
// array / Kubernetes Indexed Job splits the input over processes
// (src/batch/shard.h), and `scout batch merge` joins their files
// (src/batch/merge.h).
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "batch/job_source.h"
#include "batch/merge.h"
#include "batch/shard.h"
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
  std::string format = "auto";  // of JSONL input: auto, openai, scout
  std::string shard;            // K/N; empty: from the environment, or none
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

batch::InputFormat input_format(const std::string& input, const std::string& input_format, const std::string& format) {
  if (input_format == "text") return batch::InputFormat::Text;
  if (format == "openai") return batch::InputFormat::OpenAI;
  if (format == "scout") return batch::InputFormat::Jsonl;
  return batch::detect_format(input);
}

// The shard this process runs: --shard, else the environment's, else none.
std::optional<batch::Shard> shard_for(const std::string& flag) {
  if (!flag.empty()) return batch::parse_shard(flag);
  return batch::shard_from_env([](const char* name) { return std::getenv(name); });
}

void run(const BatchOptions& o) {
  using Clock = std::chrono::steady_clock;
  if (o.input.empty() || o.output.empty())
    throw CLI::RequiredError(o.input.empty() ? "--input" : "--output");
  const std::optional<batch::Shard> shard = shard_for(o.shard);
  const batch::InputFormat format = input_format(o.input, o.input_format, o.format);
  std::vector<batch::Job> jobs = batch::read_jobs(o.input, format);
  if (format == batch::InputFormat::OpenAI) batch::require_unique_ids(jobs, o.input);
  else batch::mark_duplicate_ids(jobs);
  std::string output = o.output;
  if (shard) {
    output = batch::shard_output_path(o.output, *shard);
    const size_t all = jobs.size();
    std::erase_if(jobs, [&](const batch::Job& job) { return !shard->takes(job.key()); });
    spdlog::info("shard {} ({}): {} of {} jobs -> {}", shard->name(), shard->source, jobs.size(), all, output);
  }
  batch::OutputFile out(output, o.resume, o.sync);
  const std::vector<const batch::Job*> todo = pending_jobs(jobs, out);
  if (todo.size() < jobs.size())
    spdlog::info("resume: skipping {} done of {} ({} already in {})", jobs.size() - todo.size(), jobs.size(),
                 out.done().size(), output);
  if (todo.empty()) {
    spdlog::info("nothing to do: all {} jobs are in {}", jobs.size(), output);
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
  d.model_name = std::filesystem::path(path).stem().string();
  batch::Runner runner(*model, so, d, static_cast<uint32_t>(o.parallel));
  spdlog::info("batch: {} jobs on {} (context {}, {} in parallel), loaded in {:.0f} ms", todo.size(), path,
               runner.n_ctx(), runner.n_parallel(),
               std::chrono::duration<double, std::milli>(Clock::now() - t_load).count());

  batch::Progress progress(todo.size(), isatty(STDERR_FILENO) != 0);
  uint64_t errors = 0, tokens = 0;
  const auto t0 = Clock::now();
  runner.run(todo, [&](const nlohmann::ordered_json& result) {
    out.append(result);
    // scout's results, or Batch lines (their usage in the response body, "error": null when fine).
    uint64_t n = result.value("completion_tokens", uint64_t{0});
    if (const auto r = result.find("response"); r != result.end() && r->is_object()) {
      const nlohmann::ordered_json& body = r->at("body");
      if (const auto u = body.find("usage"); u != body.end()) n = u->value("completion_tokens", uint64_t{0});
    }
    if (result.contains("error") && !result["error"].is_null()) ++errors;
    tokens += n;
    progress.job_done(n);
  });
  progress.finish();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto per_s = [seconds](double x) { return seconds > 0 ? x / seconds : 0.0; };
  spdlog::info("batch: {} done ({} errors), {} tokens generated in {:.1f} s ({:.2f} jobs/s, {:.1f} tok/s) -> {}",
               todo.size(), errors, tokens, seconds, per_s(static_cast<double>(todo.size())),
               per_s(static_cast<double>(tokens)), output);
}

struct MergeOptions {
  std::string input, output, format = "auto";
  std::vector<std::string> shards;
};

void merge(const MergeOptions& o) {
  const batch::MergeReport r = batch::merge_shards(o.input, input_format(o.input, "jsonl", o.format), o.shards, o.output);
  for (const std::string& p : r.problems) spdlog::error("merge: {}", p);
  if (!r.problems.empty()) {
    spdlog::error("merge: {} problems: {} not written", r.problems.size(), o.output);
    throw CLI::RuntimeError(1);
  }
  spdlog::info("merge: {} results from {} shard files -> {}", r.written, o.shards.size(), o.output);
}

void add_merge_command(CLI::App& batch) {
  auto o = std::make_shared<MergeOptions>();
  CLI::App* cmd = batch.add_subcommand(
      "merge", "Join the output files of the shards of one input into one file in input order, checking that "
               "every input id is there exactly once");
  cmd->add_option("-i,--input", o->input, "the input all the shards ran on")->required();
  cmd->add_option("-o,--output", o->output, "the merged results (written only when every id is there once)")
      ->required();
  cmd->add_option("--format", o->format, "the input's format: auto (default), openai or scout")
      ->check(CLI::IsMember({"auto", "openai", "scout"}));
  cmd->add_option("shards", o->shards, "the shards' output files, all N of them")->required();
  cmd->callback([o] { merge(*o); });
}

}  // namespace

void add_batch_command(CLI::App& app) {
  auto o = std::make_shared<BatchOptions>();
  CLI::App* cmd = app.add_subcommand("batch", "Run many prompts (JSONL, text lines or a directory of .txt) into a JSONL file");
  cmd->require_subcommand(0, 1);
  add_merge_command(*cmd);
  cmd->add_option("-m,--model", o->model, "GGUF file (default: the embedded default model)");
  cmd->add_option("-i,--input", o->input,
                  "JSONL file, one {\"id\", \"prompt\" | \"messages\", [max_tokens, temperature, top_p, seed, stop]} a line; "
                  "an OpenAI Batch file ({\"custom_id\", \"method\", \"url\", \"body\"} a line); "
                  "a text file with --input-format text; or a directory of .txt files (id = file name) (required)");
  cmd->add_option("-o,--output", o->output,
                  "results, one JSON object a line, appended as each job finishes; with a shard, \"{shard}\" in "
                  "it becomes K-of-N (required)");
  cmd->add_option("--format", o->format,
                  "JSONL flavour in and out: auto (default: openai when the first line has \"custom_id\" and "
                  "\"body\"), openai (Batch API lines) or scout")
      ->check(CLI::IsMember({"auto", "openai", "scout"}));
  cmd->add_option("--shard", o->shard,
                  "K/N: run only the jobs whose id hashes to K of N (default: from SLURM_ARRAY_TASK_ID/COUNT or "
                  "JOB_COMPLETION_INDEX + SCOUT_SHARD_COUNT when set)");
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
  cmd->callback([o, cmd] {
    if (cmd->get_subcommands().empty()) run(*o);  // not after `scout batch merge`
  });
}

}  // namespace scout::cli
