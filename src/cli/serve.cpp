// `scout serve`: an OpenAI-compatible HTTP server on one loaded model
// (server/http_server.h for the HTTP side, server/scheduler.h for the
// engine side). It listens before loading, so GET /health says 503 until the
// model is ready; SIGTERM or SIGINT stops accepting, lets running requests
// finish for a few seconds, cancels the rest and exits 0.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "cli/command.h"
#include "cli/sampling_flags.h"
#include "cli/session_flags.h"
#include "cli/size_arg.h"
#include "cli/vision_flags.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/scheduler.h"

namespace scout::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct ServeOptions {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key, api_key_file;
  uint32_t parallel = 4;
  size_t queue = 64;
  std::string kv_budget;
  std::string max_body = "32M";
  std::string alias;
  bool metrics = false;
  int64_t n_predict = -1;
  std::string chat_template;
  double grace_seconds = 3;
  SessionFlags session;
  SamplingFlags sampling;
  VisionFlags vision;
};

std::string read_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError(fmt::format("--api-key-file {}: cannot read it", path));
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
  if (key.empty()) throw UsageError(fmt::format("--api-key-file {}: the first line is empty", path));
  return key;
}

// SIGINT and SIGTERM, taken by one thread with sigwait (blocked everywhere
// else: the mask is set before any other thread starts, and they inherit it).
class StopSignal {
 public:
  StopSignal() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a client that went away is a failed write, not a dead server
    thread_ = std::thread([this] {
      int sig = 0;
      sigwait(&set_, &sig);
      if (quitting_) return;
      {
        std::lock_guard lock(mu_);
        got_ = sig;
      }
      cv_.notify_all();
      if (on_signal_) on_signal_(sig);
    });
  }
  ~StopSignal() {
    if (!got_) {  // wake it to end
      quitting_ = true;
      pthread_kill(thread_.native_handle(), SIGTERM);
    }
    thread_.join();
  }
  // Runs on the signal thread when a signal comes (before the main thread wakes).
  void on_signal(std::function<void(int)> f) { on_signal_ = std::move(f); }
  int wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return got_ != 0; });
    return got_;
  }

 private:
  sigset_t set_;
  std::mutex mu_;
  std::condition_variable cv_;
  int got_ = 0;
  std::atomic<bool> quitting_{false};
  std::function<void(int)> on_signal_;
  std::thread thread_;
};

void run(const ServeOptions& o) {
  server::HttpOptions http;
  http.host = o.host;
  http.port = o.port;
  if (!o.api_key.empty() && !o.api_key_file.empty()) throw UsageError("give --api-key or --api-key-file, not both");
  http.api_key = o.api_key_file.empty() ? o.api_key : read_key_file(o.api_key_file);
  http.max_body_bytes = parse_size_arg("--max-body", o.max_body);
  http.threads = o.parallel + o.queue + 8;  // every running and waiting request holds a connection
  http.metrics = o.metrics;
  const size_t kv_budget = o.kv_budget.empty() ? 0 : parse_size_arg("--kv-budget", o.kv_budget);
  const std::string path = o.model.empty() ? default_model_path() : o.model;

  StopSignal stop;
  std::atomic<bool> ready{false};
  stop.on_signal([&ready](int sig) {
    if (ready) return;
    spdlog::info("signal {} while loading: exiting", sig);
    spdlog::default_logger()->flush();
    std::_Exit(0);  // nothing runs yet: every request so far was answered 503
  });

  server::HttpServer server(http);
  const int port = server.bind();
  std::thread listener([&] { server.listen(); });
  spdlog::info("bound http://{}:{}; loading {}", o.host, port, path);

  const auto t0 = Clock::now();
  std::unique_ptr<Model> model;
  std::unique_ptr<vision::VisionEncoder> projector;
  server::Metrics metrics;
  std::unique_ptr<server::Scheduler> scheduler;
  try {
    model = o.session.load_model(path);
    projector = load_projector(*model, *tokenizer::Tokenizer::from_gguf(model->file()), o.vision, o.session.threads);
    server::SchedulerOptions so;
    so.n_parallel = o.parallel;
    so.max_queue = o.queue;
    so.kv_budget = kv_budget;
    so.sampler = sampler_params(o.sampling);
    so.max_tokens = o.n_predict;
    so.chat_template = o.chat_template;
    so.projector = projector.get();
    so.layout = o.vision.vision_layout();
    scheduler = std::make_unique<server::Scheduler>(*model, o.session.options(model->hparams().context_length), so,
                                                    &metrics);
  } catch (...) {
    server.stop();
    listener.join();
    throw;
  }
  server::ServedModel served;
  served.id = o.alias.empty() ? std::filesystem::path(path).stem().string() : o.alias;
  served.path = path;
  served.n_ctx = scheduler->n_ctx();
  served.n_ctx_train = model->hparams().context_length;
  server.set_ready(scheduler.get(), tokenizer::Tokenizer::from_gguf(model->file()), served, &metrics);
  ready = true;
  spdlog::info("listening on http://{}:{} (model '{}', context {}, {} slots{}{}), loaded in {:.0f} ms", o.host, port,
               served.id, served.n_ctx, o.parallel, http.api_key.empty() ? "" : ", API key required",
               o.metrics ? ", /metrics" : "", std::chrono::duration<double, std::milli>(Clock::now() - t0).count());

  const int sig = stop.wait();
  spdlog::info("signal {}: finishing running requests (at most {:.0f} s), refusing new ones", sig, o.grace_seconds);
  scheduler->drain(Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.grace_seconds * 1000)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // handlers write their last events
  server.stop();
  listener.join();
  spdlog::info("stopped");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the model over HTTP: the OpenAI API (/v1/chat/completions, "
                                              "/v1/completions, /v1/models) with continuous batching");
  cmd->add_option("-m,--model", o->model, "GGUF file (default: the embedded default model)");
  cmd->add_option("--host", o->host, "address to listen on (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", o->port, "port (default 8080; 0: any free port, logged)")->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o->api_key, "require Authorization: Bearer KEY on every call but /health");
  cmd->add_option("--api-key-file", o->api_key_file, "the key from the first line of this file (not in `ps`)");
  cmd->add_option("--parallel", o->parallel,
                  "(-np) requests generating at once (default 4): their tokens share each forward pass; each may use "
                  "the whole context")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--queue", o->queue, "requests waiting for a slot before new ones get 503 (default 64)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--kv-budget", o->kv_budget,
                  "cap on the KV cache's bytes over all requests (\"2G\"); a request waits until its worst case "
                  "fits, or gets 400 when it never could (default: no cap)");
  cmd->add_option("--max-body", o->max_body, "largest request body (default 32M; larger: 413)");
  cmd->add_option("--alias", o->alias, "the model id clients name (default: the file name without .gguf)");
  cmd->add_flag("--metrics", o->metrics, "serve Prometheus metrics at GET /metrics");
  cmd->add_option("-n,--n-predict", o->n_predict,
                  "max_tokens for requests that set none; -1 (default): until end of generation or a full context")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 40));
  cmd->add_option("--chat-template", o->chat_template,
                  "chat format: llama4, llama3, llama2, chatml, mistral (default: the model's)");
  cmd->add_option("--shutdown-grace", o->grace_seconds,
                  "on SIGTERM/SIGINT, seconds running requests get to finish before they are cancelled (default 3)")
      ->check(CLI::Range(0.0, 3600.0));
  add_session_flags(cmd, o->session);
  add_sampling_flags(cmd, o->sampling);
  add_vision_flags(cmd, o->vision, /*with_images=*/false);
  cmd->callback([o] { run(*o); });
}

}  // namespace scout::cli
