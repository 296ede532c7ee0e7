// `scout bench`: prompt-processing and generation speed, like llama-bench,
// plus the memory-bandwidth view of generation and, on request, the machine's
// read bandwidth and the experts' routing counts. Results go to stdout
// (markdown, JSON or CSV), progress to stderr.
#include <omp.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>
#include <stdexcept>

#include "bench/expert_report.h"
#include "bench/image_bench.h"
#include "bench/list_arg.h"
#include "bench/mem_bw.h"
#include "bench/page_in.h"
#include "bench/plan.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "bench/serving_bench.h"
#include "bench/token_pool.h"
#include "cli/command.h"
#include "cli/human.h"
#include "cli/session_flags.h"
#include "cli/size_arg.h"
#include "cli/vision_flags.h"
#include "models/model.h"
#include "scout/model_info.h"

namespace scout::cli {

namespace {

// Token ids are the same on every run, so results compare across builds.
constexpr uint64_t kTokenSeed = 1234;

struct BenchOptions {
  std::string model;
  std::string prompts = "512";
  std::string gens = "128";
  std::string threads;  // default: OpenMP's thread count (all cores)
  std::string batches = "512";
  std::string depths = "0";
  std::string parallel = "1";
  std::string types_k = "f16", types_v = "f16";
  int repetitions = 5;
  std::string output = "md";
  bool mem_bw = false;
  std::string mem_bw_size;
  bool expert_stats = false;
  bool exact = false;
  std::string load = "auto";
  DeviceFlags device;
  VisionFlags vision;
  // --url: a serving benchmark of an OpenAI-compatible server instead (-m: the served model's id).
  std::string url;
  std::string api_key;
  std::string endpoint = "completions";
  std::string concurrency = "1";
  int64_t num_prompts = 0;
  int64_t input_len = 512, output_len = 128;
  uint64_t seed = 0;
  bool ignore_eos = false;
  double request_timeout = 600;
};

// The flags only the serving benchmark (--url) takes, and those it shares with the model benchmark.
const std::vector<std::string> kServingFlags = {"--url",       "--api-key",    "--endpoint", "--concurrency",
                                                "--num-prompts", "--input-len", "--output-len", "--seed",
                                                "--ignore-eos", "--request-timeout"};
const std::vector<std::string> kSharedFlags = {"--model", "--output", "--help"};

std::vector<int64_t> list_arg(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
  try {
    return bench::parse_int_list(flag, text, min, max);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

// A comma-separated list of KV cache types.
std::vector<std::string> type_list(const std::string& flag, const std::string& text) {
  std::vector<std::string> out;
  try {
    out = bench::split_list(flag, text);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const std::vector<std::string> names = kv_type_names();
  for (const std::string& t : out)
    if (std::find(names.begin(), names.end(), t) == names.end())
      throw UsageError(fmt::format("{}: '{}' is not a KV cache type ({})", flag, t, fmt::join(names, ", ")));
  return out;
}

bench::BenchParams parse_params(const BenchOptions& o) {
  constexpr int64_t kMaxTokens = int64_t{1} << 24;
  bench::BenchParams p;
  p.threads = list_arg("-t", o.threads.empty() ? std::to_string(omp_get_max_threads()) : o.threads, 1, 1024);
  p.batches = list_arg("-b", o.batches, 1, 65536);
  p.prompts = list_arg("-p", o.prompts, 0, kMaxTokens);
  p.gens = list_arg("-n", o.gens, 0, kMaxTokens);
  p.depths = list_arg("-d", o.depths, 0, kMaxTokens);
  p.parallel = list_arg("-np", o.parallel, 1, 1024);
  p.types_k = type_list("-ctk", o.types_k);
  p.types_v = type_list("-ctv", o.types_v);
  p.repetitions = o.repetitions;
  return p;
}

bench::ModelSummary summarize_model(const ModelInfo& info) {
  bench::ModelSummary m;
  m.path = info.path;
  m.name = info.name.empty() ? std::filesystem::path(info.path).filename().string() : info.name;
  m.file_type = info.file_type;
  m.size_bytes = info.total_bytes;
  m.n_params = info.total_params;
  m.n_params_active = info.active_params;
  m.active_bytes = info.active_bytes;
  m.size_text = human_bytes(info.total_bytes);
  m.params_text = fmt::format("{} / {}", human_count(info.total_params), human_count(info.active_params));
  return m;
}

// The routing counts of every measured run, summed over the tests.
std::string expert_summary(const bench::Report& rep, uint32_t n_expert_used) {
  bench::ExpertCounts all;
  int64_t tokens = 0;
  for (const bench::TestResult& r : rep.tests) {
    bench::accumulate(all, r.expert_counts);
    tokens += r.test.n_tokens * static_cast<int64_t>(r.samples_ts.size());
  }
  return bench::expert_histogram(
      all, fmt::format("expert routing in the measured runs: {} tokens, top-{} (each layer's counts sum to {})", tokens,
                       n_expert_used, tokens * n_expert_used));
}

bool is_one_of(const std::string& name, const std::vector<std::string>& names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// `scout bench --url URL`: the serving benchmark (src/bench/serving_bench.h).
void serving_command(const BenchOptions& o, CLI::App* cmd) {
  for (const CLI::Option* opt : cmd->get_options())
    if (opt->count() > 0 && !is_one_of(opt->get_name(), kServingFlags) && !is_one_of(opt->get_name(), kSharedFlags))
      throw UsageError(fmt::format("{} measures a model in this process: not with --url (a server)", opt->get_name()));
#ifdef SCOUT_HAVE_HTTP
  bench::ServingOptions so;
  so.url = o.url;
  so.api_key = o.api_key;
  so.model = o.model;
  so.endpoint = bench::parse_serving_endpoint(o.endpoint);
  so.concurrency = list_arg("--concurrency", o.concurrency, 1, 4096);
  so.num_prompts = o.num_prompts;
  so.input_len = o.input_len;
  so.output_len = o.output_len;
  so.seed = o.seed;
  so.ignore_eos = o.ignore_eos;
  so.timeout_s = o.request_timeout;
  so.log = [](const std::string& line) { spdlog::info("{}", line); };
  const bench::ServingReport rep = bench::run_serving_bench(so);
  if (o.output == "json") {
    fmt::print("{}\n", bench::serving_json(rep).dump(2));
  } else if (o.output == "csv") {
    fmt::print("{}", bench::serving_csv(rep));
  } else {
    fmt::print("{}", bench::serving_markdown(rep));
  }
  std::fflush(stdout);
  int64_t completed = 0;
  for (const bench::LevelMetrics& m : rep.levels) completed += m.completed;
  if (completed == 0) {
    const std::string why = rep.levels.empty() || rep.levels[0].errors.empty() ? "" : rep.levels[0].errors.begin()->first;
    throw std::runtime_error(fmt::format("bench --url: every request failed ({})", why));
  }
#else
  (void)o;
  throw UsageError("--url: this scout was built without cpp-httplib, so it has no serving benchmark "
                   "(apt install libcpp-httplib-dev, then configure and build again)");
#endif
}

void bench_command(const BenchOptions& o, CLI::App* cmd) {
  if (cmd->count("--url") > 0) {
    serving_command(o, cmd);
    return;
  }
  for (const CLI::Option* opt : cmd->get_options())
    if (opt->count() > 0 && is_one_of(opt->get_name(), kServingFlags))
      throw UsageError(fmt::format("{} is a flag of the serving benchmark: give --url too", opt->get_name()));
  const bench::BenchParams params = parse_params(o);
  // --mem-bw alone measures the machine only; with -m, both.
  const bool with_model = !o.mem_bw || cmd->count("--model") > 0;
  bench::Report rep;
  rep.expert_stats = o.expert_stats;
  rep.show_batch = params.batches != std::vector<int64_t>{512};

  const std::vector<bench::TestCase> plan = bench::make_plan(params);
  if (with_model && plan.empty()) throw UsageError("nothing to measure: every -p and -n is 0");
  if (o.expert_stats && !with_model) throw UsageError("--expert-stats needs a model (-m)");
  if (!o.vision.images.empty() && o.vision.mmproj.empty())
    throw UsageError("--image needs --mmproj FILE (the vision projector)");
  if (!o.vision.mmproj.empty() && o.vision.images.empty())
    throw UsageError("--mmproj needs --image FILE: the image to encode");
  if (o.vision.any() && !with_model) throw UsageError("--mmproj measures beside a text model: give -m too");

  // Checked before the bandwidth test, which takes a while.
  std::unique_ptr<Model> model;
  ModelInfo info;
  if (with_model) {
    const std::string path = o.model.empty() ? default_model_path() : o.model;
    info = inspect_model(path);
    if (o.expert_stats && info.n_expert == 0)
      throw std::runtime_error(path + ": --expert-stats: the model has no routed experts");
    const auto t0 = std::chrono::steady_clock::now();
    RunShape shape;  // the largest test: the GPU check plans for it
    shape.batch = 1;
    for (const bench::TestCase& t : plan) {
      shape.ctx = std::max<uint64_t>(shape.ctx, static_cast<uint64_t>(t.n_ctx()));
      shape.batch = std::max<uint32_t>(shape.batch, static_cast<uint32_t>(t.batch));
      shape.kv_type = {t.type_k, t.type_v};
    }
    model = load_model(path, *gguf::parse_load_mode(o.load), o.device, shape);
    rep.model = summarize_model(info);
    const uint64_t bytes = bench::page_in_weights(model->file());  // a mapped file's pages, before timing
    spdlog::info("bench: {} of weights {} ({:.2f} s)", human_bytes(bytes),
                 model->file().copied() ? "read into memory" : "mapped and paged in",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  if (o.mem_bw) {
    const uint64_t bytes = o.mem_bw_size.empty() ? bench::default_mem_bw_bytes()
                                                 : parse_size_arg("--mem-bw-size", o.mem_bw_size);
    if (bytes < 4096) throw UsageError("--mem-bw-size: at least 4K");
    rep.mem_bw = bench::measure_read_bandwidth(params.threads, bytes);
  }

  if (model) {
    bench::TokenPool tokens(model->file(), model->hparams().n_vocab, kTokenSeed);
    bench::RunnerOptions ro;
    ro.repetitions = params.repetitions;
    ro.expert_stats = o.expert_stats;
    ro.exact = o.exact;
    bench::DepthFills depth_fills;
    ro.depth_fills = &depth_fills;
    if (model->backend().name() == "cuda") rep.backend = "CUDA";
    for (const bench::TestCase& t : plan) rep.tests.push_back(bench::run_test(*model, tokens, t, ro));
    // Image encoding, per thread count (the encoder takes its threads when it
    // loads). Timing needs the projector's width to match, not the vocabulary's image tokens.
    if (o.vision.any()) {
      for (int64_t threads : params.threads) {
        const std::unique_ptr<vision::VisionEncoder> enc =
            open_projector(*model, o.vision.mmproj, static_cast<int>(threads));
        for (const std::string& image : o.vision.images)
          rep.images.push_back(bench::bench_image(*enc, image, o.vision.vision_layout(), static_cast<int>(threads),
                                                  params.repetitions));
      }
    }
  }

  if (o.output == "json") {
    fmt::print("{}\n", bench::to_json(rep).dump(2));
  } else if (o.output == "csv") {
    fmt::print("{}", bench::to_csv(rep));
  } else {
    fmt::print("{}", bench::to_markdown(rep));
  }
  if (o.expert_stats) {
    // Beside a table it is more output; beside JSON or CSV it would break
    // their format, so it goes to stderr (JSON has the counts per row).
    const std::string text = expert_summary(rep, info.n_expert_used);
    if (o.output == "md") fmt::print("\n{}", text);
    else fmt::print(stderr, "{}", text);
  }
  std::fflush(stdout);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure prompt processing (pp) and generation (tg) speed, like llama-bench; lists give one row each");
  cmd->add_option("-m,--model", o->model,
                  "GGUF file (default: the embedded default model; none with --mem-bw alone); with --url: the served "
                  "model's id (default: the first GET /v1/models lists)");
  cmd->add_option("-p,--n-prompt", o->prompts, "prompt lengths, comma-separated; 0: no pp test")->capture_default_str();
  cmd->add_option("-n,--n-gen", o->gens, "generated token counts, comma-separated; 0: no tg test")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "CPU thread counts, comma-separated (default: all cores)");
  cmd->add_option("-b,--batch-size", o->batches, "prompt tokens per forward pass, comma-separated")->capture_default_str();
  cmd->add_option("-d,--n-depth", o->depths, "tokens already in the cache before each test, comma-separated")
      ->capture_default_str();
  cmd->add_option("--parallel", o->parallel,
                  "-np: sequences decoding together in the tg tests, comma-separated (aggregate t/s; each sequence "
                  "with its own -d depth), like llama-batched-bench's -npl")
      ->capture_default_str();
  cmd->add_option("--cache-type-k", o->types_k, "-ctk: KV cache types for K, comma-separated (f32, f16, bf16, q8_0, q4_0)")
      ->capture_default_str();
  cmd->add_option("--cache-type-v", o->types_v, "-ctv: KV cache types for V, comma-separated")->capture_default_str();
  cmd->add_option("-r,--repetitions", o->repetitions, "measured runs per test (after one warm-up run)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("-o,--output", o->output, "result format on stdout")
      ->check(CLI::IsMember({"md", "json", "csv"}))
      ->capture_default_str();
  cmd->add_flag("--mem-bw", o->mem_bw, "measure the machine's memory read bandwidth per thread count (-m too: both)");
  cmd->add_option("--mem-bw-size", o->mem_bw_size, "buffer for --mem-bw: 256M, 2G (default: max(1G, 4 x L3))");
  cmd->add_flag("--exact", o->exact, "measure f32 dot products on dequantized weights (no 8-bit activations)");
  add_load_flag(cmd, o->load);
  add_device_flags(cmd, o->device);
  cmd->add_flag("--expert-stats", o->expert_stats, "count how often each routed expert is chosen in the measured runs");
  add_vision_flags(cmd, o->vision);  // --mmproj P --image F: image encoding time per tile, in a second table
  // The serving benchmark: vLLM's benchmark_serving.py metrics against a running server.
  cmd->add_option("--url", o->url,
                  "benchmark an OpenAI-compatible server at this URL (http://127.0.0.1:8080) instead of a model: "
                  "TTFT, TPOT, ITL, end-to-end latency and throughput per concurrency level");
  cmd->add_option("--concurrency", o->concurrency, "with --url: requests in flight, comma-separated (one row each)")
      ->capture_default_str();
  cmd->add_option("--num-prompts", o->num_prompts, "with --url: requests per concurrency level (default: max(16, 4 x concurrency))")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--input-len", o->input_len,
                  "with --url: prompt tokens (exact where the server has POST /tokenize, else about as many words)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--output-len", o->output_len, "with --url: max_tokens of each request (the server may stop sooner)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--endpoint", o->endpoint, "with --url: /v1/completions or /v1/chat/completions")
      ->check(CLI::IsMember({"completions", "chat"}))
      ->capture_default_str();
  cmd->add_option("--api-key", o->api_key, "with --url: sent as 'Authorization: Bearer KEY'");
  cmd->add_option("--seed", o->seed, "with --url: the prompts' random seed")->capture_default_str();
  cmd->add_flag("--ignore-eos", o->ignore_eos, "with --url: send \"ignore_eos\": true (vLLM, llama-server) for full-length outputs");
  cmd->add_option("--request-timeout", o->request_timeout, "with --url: seconds to wait for the next bytes of an answer")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  cmd->callback([o, cmd] { bench_command(*o, cmd); });
}

}  // namespace scout::cli
