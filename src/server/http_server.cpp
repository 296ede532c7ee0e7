#include "server/http_server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <vector>

#include "server/openai_format.h"

namespace scout::server {

using Clock = std::chrono::steady_clock;

bool same_key(const std::string& given, const std::string& expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  return diff == 0;
}

namespace {

// What the log line and the metrics say about the request this thread is
// serving (cpp-httplib serves a request, its stream included, on one thread).
struct RequestLog {
  Clock::time_point start;
  int64_t prompt_tokens = -1, completion_tokens = 0, cached_tokens = 0;
};
thread_local RequestLog current;

void reply_error(httplib::Response& res, int status, const std::string& message, const std::string& param = {},
                 const std::string& code = {}) {
  res.status = status;
  res.set_content(to_text(error_body(status, message, param, code)), "application/json");
}

void reply_json(httplib::Response& res, const ojson& body) { res.set_content(to_text(body), "application/json"); }

void note_usage(const Usage& u) {
  current.prompt_tokens = u.prompt_tokens;
  current.completion_tokens = u.completion_tokens;
  current.cached_tokens = u.cached_tokens;
}

// The paths scout serves and their one method; any other method on them is 405.
struct Route {
  const char* path;
  const char* method;
};
constexpr Route kRoutes[] = {{"/health", "GET"},         {"/v1/models", "GET"},      {"/v1/chat/completions", "POST"},
                             {"/v1/completions", "POST"}, {"/tokenize", "POST"},      {"/detokenize", "POST"},
                             {"/props", "GET"},           {"/metrics", "GET"}};

// A streamed answer's progress, shared by the content provider's calls.
struct Stream {
  std::shared_ptr<Job> job;
  ResponseHead head;
  CompletionRequest request;
  uint32_t done = 0;
  bool opened = false;
};

// The body, read through cpp-httplib's content reader so the size limit holds
// for chunked bodies too (the library checks only a Content-Length). A body
// over the limit is read on and dropped, up to kDrainFactor times the limit,
// so the connection stays in step for the next request. False: the answer
// (413, or 400 for a body that could not be read) is set.
constexpr size_t kDrainFactor = 4;
bool read_body(const httplib::Request& req, const httplib::ContentReader& reader, size_t limit, std::string& body,
               httplib::Response& res) {
  size_t total = 0;
  const bool read = reader([&](const char* data, size_t n) {
    total += n;
    if (total <= limit) body.append(data, n);
    return total <= kDrainFactor * limit;
  });
  // cpp-httplib refuses a declared length over its own limit without reading a byte.
  if (!read && req.has_header("Content-Length"))
    total = std::max<size_t>(total, std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10));
  if (total > limit) {
    body.clear();
    reply_error(res, 413, fmt::format("the request body is larger than {} bytes", limit));
    return false;
  }
  if (!read) reply_error(res, 400, "the request body could not be read");
  return read;
}

// A non-streamed answer being gathered.
struct Plain {
  std::shared_ptr<Job> job;
  ResponseHead head;
  std::vector<ChoiceText> choices;
  size_t done = 0;
  std::optional<Event> error;

  bool finished() const { return error || done == choices.size(); }
  void take(Event e) {
    if (e.kind == Event::Kind::Error) {
      job->cancel();
      error = std::move(e);
      return;
    }
    ChoiceText& c = choices.at(e.index);
    c.text += e.text;
    c.logprobs.insert(c.logprobs.end(), e.logprobs.begin(), e.logprobs.end());
    if (e.kind == Event::Kind::Done) {
      c.finish_reason = e.finish_reason;
      ++done;
    }
  }
};
constexpr auto kPlainWait = std::chrono::seconds(1);

bool send_event(httplib::DataSink& sink, const std::string& data) {
  const std::string event = "data: " + data + "\n\n";
  return sink.write(event.data(), event.size());
}

}  // namespace

HttpServer::HttpServer(HttpOptions opts) : opts_(std::move(opts)), svr_(std::make_unique<httplib::Server>()) {
  const size_t threads = std::max<size_t>(4, opts_.threads);
  svr_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Larger declared bodies are refused before reading; read_body enforces the limit itself.
  svr_->set_payload_max_length(kDrainFactor * opts_.max_body_bytes);
  svr_->set_tcp_nodelay(true);  // each SSE event leaves at once, not when the client's ACK comes
  svr_->set_keep_alive_max_count(1000);
  svr_->set_keep_alive_timeout(2);  // an idle connection holds a thread; shutdown waits this long at most for one
  svr_->set_read_timeout(30, 0);
  svr_->set_write_timeout(30, 0);
  routes();
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  const int port = opts_.port == 0 ? svr_->bind_to_any_port(opts_.host) : (svr_->bind_to_port(opts_.host, opts_.port) ? opts_.port : -1);
  if (port <= 0)
    throw std::runtime_error(fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)",
                                         opts_.host, opts_.port));
  return port;
}

void HttpServer::listen() { svr_->listen_after_bind(); }

void HttpServer::stop() { svr_->stop(); }

void HttpServer::set_ready(Scheduler* scheduler, std::unique_ptr<tokenizer::Tokenizer> tokenizer, ServedModel model,
                           Metrics* metrics) {
  scheduler_ = scheduler;
  tok_ = std::move(tokenizer);
  model_ = std::move(model);
  metrics_ = metrics;
  ready_ = true;
}

void HttpServer::routes() {
  httplib::Server& s = *svr_;

  // Before any route: limits, the loading state and the key.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    current = RequestLog{Clock::now()};
    if (req.headers.size() > opts_.max_headers) {
      reply_error(res, 431, fmt::format("more than {} header fields", opts_.max_headers));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    if (!opts_.api_key.empty()) {
      const std::string auth = req.get_header_value("Authorization");
      const std::string prefix = "Bearer ";
      const bool ok = auth.compare(0, prefix.size(), prefix) == 0 && same_key(auth.substr(prefix.size()), opts_.api_key);
      if (!ok) {
        reply_error(res, 401,
                    auth.empty() ? "no API key: send the header Authorization: Bearer KEY" : "the API key is not valid",
                    "", "invalid_api_key");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (!ready_) {
      res.set_header("Retry-After", "1");
      reply_error(res, 503, "the model is loading", "", "model_loading");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Statuses set without a body (cpp-httplib's own 404 and 413, ...) get an OpenAI error body.
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string message = fmt::format("HTTP {}", res.status);
    if (res.status == 404) message = fmt::format("no such endpoint: {} {}", req.method, req.path);
    if (res.status == 413) message = "the request body is too large";
    if (res.status == 400) message = "the request could not be read";
    reply_error(res, res.status, message);
  });

  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - current.start).count();
    // Only scout's own paths and methods are logged as given: anything else
    // may be a client's data (a broken request line), which stays out of the log.
    bool known = false;
    for (const Route& r : kRoutes) known = known || req.path == r.path;
    const std::string path = known ? req.path : req.path.starts_with("/v1/models/") ? "/v1/models/ID" : "(other path)";
    static const std::string kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
    const std::string method = std::find(std::begin(kMethods), std::end(kMethods), req.method) != std::end(kMethods)
                                   ? req.method
                                   : "(invalid request line)";
    spdlog::debug("{} {}", method, req.path.substr(0, 200));
    if (current.prompt_tokens >= 0)
      spdlog::info("{} {} {} prompt={} cached={} completion={} {:.0f} ms", method, path, res.status,
                   current.prompt_tokens, current.cached_tokens, current.completion_tokens, ms);
    else
      spdlog::info("{} {} {} {:.0f} ms", method, path, res.status, ms);
    if (ready_ && metrics_) metrics_->request_done(known ? req.path : "other", res.status);
  });

  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (!ready_) {
      res.set_header("Retry-After", "1");
      reply_error(res, 503, "the model is loading", "", "model_loading");
      return;
    }
    reply_json(res, {{"status", "ok"}});
  });

  auto model_json = [this] {
    return ojson{{"id", model_.id},
                 {"object", "model"},
                 {"created", 0},
                 {"owned_by", "scout"},
                 {"meta", {{"n_ctx", model_.n_ctx}, {"n_ctx_train", model_.n_ctx_train}, {"path", model_.path}}}};
  };
  s.Get("/v1/models", [model_json](const httplib::Request&, httplib::Response& res) {
    reply_json(res, {{"object", "list"}, {"data", ojson::array({model_json()})}});
  });
  s.Get(R"(/v1/models/(.+))", [this, model_json](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] != model_.id)
      return reply_error(res, 404, fmt::format("the model '{}' does not exist", std::string(req.matches[1])), "model",
                         "model_not_found");
    reply_json(res, model_json());
  });

  // POST bodies come through the content reader (read_body: the size limit).
  auto post = [this, &s](const char* path, auto handle) {
    s.Post(path, [this, handle](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
      std::string body;
      if (read_body(req, reader, opts_.max_body_bytes, body, res)) handle(body, res);
    });
  };
  post("/v1/chat/completions",
       [this](const std::string& body, httplib::Response& res) { complete(body, res, Endpoint::ChatCompletions); });
  post("/v1/completions",
       [this](const std::string& body, httplib::Response& res) { complete(body, res, Endpoint::Completions); });

  post("/tokenize", [this](const std::string& body, httplib::Response& res) {
    try {
      const TokenizeRequest t = parse_tokenize_request(body, opts_.limits);
      std::lock_guard lock(tok_mu_);
      const std::vector<int32_t> ids = tok_->encode(t.content, t.add_special && tok_->add_bos(), t.parse_special);
      ojson tokens = ojson::array();
      for (int32_t id : ids) {
        if (!t.with_pieces) {
          tokens.push_back(id);
          continue;
        }
        const int32_t one[1] = {id};
        tokens.push_back({{"id", id}, {"piece", tok_->decode(one)}});
      }
      reply_json(res, {{"tokens", tokens}});
    } catch (const RequestError& e) {
      reply_error(res, e.status, e.what(), e.param, e.code);
    }
  });
  post("/detokenize", [this](const std::string& body, httplib::Response& res) {
    try {
      const std::vector<int32_t> ids = parse_detokenize_request(body, opts_.limits);
      std::lock_guard lock(tok_mu_);
      for (int32_t id : ids)
        if (id < 0 || static_cast<size_t>(id) >= tok_->n_vocab())
          throw RequestError(fmt::format("token id {} is not in the vocabulary of {}", id, tok_->n_vocab()), "tokens");
      reply_json(res, {{"content", tok_->decode(ids)}});
    } catch (const RequestError& e) {
      reply_error(res, e.status, e.what(), e.param, e.code);
    }
  });

  s.Get("/props", [this](const httplib::Request&, httplib::Response& res) {
    const Scheduler::State st = scheduler_->state();
    ojson slots = ojson::array();
    for (const Scheduler::SlotState& sl : st.slots)
      slots.push_back({{"id", sl.id}, {"busy", sl.busy}, {"n_past", sl.n_past}});
    reply_json(res, {{"model", model_.id},
                     {"model_path", model_.path},
                     {"n_ctx", model_.n_ctx},
                     {"chat_template", scheduler_->chat_template_name()},
                     {"total_slots", st.slots.size()},
                     {"slots", slots},
                     {"queued", st.queued},
                     {"kv_cache_bytes", st.kv_bytes_in_use}});
  });

  if (opts_.metrics)
    s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_->render(), "text/plain; version=0.0.4");
    });

  // A known path with another method: 405 with the one it takes.
  for (const Route& r : kRoutes) {
    const std::string allow = r.method;
    auto wrong_method = [allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      reply_error(res, 405, fmt::format("{} takes {}, not {}", req.path, allow, req.method));
    };
    if (allow != "GET") s.Get(r.path, wrong_method);
    if (allow != "POST") s.Post(r.path, wrong_method);
    s.Put(r.path, wrong_method);
    s.Patch(r.path, wrong_method);
    s.Delete(r.path, wrong_method);
  }
}

void HttpServer::complete(const std::string& body, httplib::Response& res, Endpoint endpoint) {
  CompletionRequest request;
  std::shared_ptr<Job> job;
  try {
    request = parse_completion_request(body, endpoint, opts_.limits);
    if (!request.model.empty() && request.model != model_.id)
      throw RequestError(fmt::format("the model '{}' does not exist: this server serves '{}'", request.model, model_.id),
                         "model", "model_not_found", 404);
    job = scheduler_->submit(request);
  } catch (const RequestError& e) {
    if (e.status == 503) res.set_header("Retry-After", "1");
    return reply_error(res, e.status, e.what(), e.param, e.code);
  }

  // Started, or the reason the request is refused.
  Event first;
  for (;;) {
    if (std::optional<Event> e = job->next(std::chrono::milliseconds(1000))) {
      first = std::move(*e);
      break;
    }
  }
  if (first.kind == Event::Kind::Error) {
    if (first.status == 503) res.set_header("Retry-After", "1");
    return reply_error(res, first.status, first.error, first.param, first.code);
  }
  const ResponseHead head = make_head(endpoint, model_.id, request.logprobs ? request.top_logprobs : -1);
  const uint32_t n = static_cast<uint32_t>(request.n);

  if (!request.stream) {
    // The whole answer in one body. One that is not ready within kPlainWait
    // goes out as a chunked body that starts with a space every 0.5 s while
    // it waits (JSON allows leading whitespace): the only way to notice a
    // client that went away, whose request is then cancelled like a stream's.
    auto plain = std::make_shared<Plain>(Plain{job, head, std::vector<ChoiceText>(n), 0, std::nullopt});
    const auto until = Clock::now() + kPlainWait;
    while (!plain->finished() && Clock::now() < until) {
      if (std::optional<Event> e = job->next(std::chrono::milliseconds(50))) plain->take(std::move(*e));
    }
    if (plain->finished()) {
      note_usage(job->usage());
      if (plain->error) return reply_error(res, plain->error->status, plain->error->error, plain->error->param, plain->error->code);
      std::lock_guard lock(tok_mu_);
      return reply_json(res, completion_json(head, plain->choices, job->usage(), *tok_));
    }
    res.set_chunked_content_provider(
        "application/json",
        [this, plain](size_t, httplib::DataSink& sink) {
          if (!plain->finished()) {
            const auto beat = Clock::now() + std::chrono::milliseconds(500);
            for (auto now = Clock::now(); !plain->finished() && now < beat; now = Clock::now())
              if (std::optional<Event> e =
                      plain->job->next(std::chrono::duration_cast<std::chrono::milliseconds>(beat - now)))
                plain->take(std::move(*e));
            if (!plain->finished()) {
              if (sink.write(" ", 1)) return true;
              plain->job->cancel();
              return false;
            }
          }
          note_usage(plain->job->usage());
          std::string body;
          {
            std::lock_guard lock(tok_mu_);
            // Past the status line: a late error (a shutdown) is the body's error object.
            body = plain->error ? to_text(error_body(plain->error->status, plain->error->error, plain->error->param,
                                                     plain->error->code))
                                : to_text(completion_json(plain->head, plain->choices, plain->job->usage(), *tok_));
          }
          sink.write(body.data(), body.size());
          sink.done();
          return true;
        },
        [plain](bool success) {
          if (!success) plain->job->cancel();
        });
    return;
  }

  auto stream = std::make_shared<Stream>(Stream{job, head, std::move(request)});
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, stream, n](size_t, httplib::DataSink& sink) {
        const bool usage_asked = stream->request.include_usage;
        // Chunks are built under the tokenizer's lock (log probabilities decode tokens).
        auto send = [&](auto&& build) {
          std::string text;
          {
            std::lock_guard lock(tok_mu_);
            text = to_text(build());
          }
          if (send_event(sink, text)) return true;
          stream->job->cancel();  // the client went away: its slot is freed at the next step
          return false;
        };
        if (!stream->opened) {  // a chat choice opens with its role (and tells a gone client early)
          stream->opened = true;
          if (stream->head.endpoint == Endpoint::ChatCompletions)
            for (uint32_t i = 0; i < n; ++i)
              if (!send([&] { return chunk_json(stream->head, i, true, "", std::nullopt, {}, *tok_, usage_asked); }))
                return false;
          return true;
        }
        std::optional<Event> e = stream->job->next(std::chrono::milliseconds(200));
        if (!e) return true;
        if (e->kind == Event::Kind::Error) {
          note_usage(stream->job->usage());
          send_event(sink, to_text(error_body(e->status, e->error, e->param, e->code)));
          sink.done();
          return true;
        }
        const bool last = e->kind == Event::Kind::Done;
        if (!e->text.empty() || !e->logprobs.empty() || last) {
          const std::optional<std::string> reason = last ? std::optional(e->finish_reason) : std::nullopt;
          if (!send([&] { return chunk_json(stream->head, e->index, false, e->text, reason, e->logprobs, *tok_, usage_asked); }))
            return false;
        }
        if (last && ++stream->done == n) {
          const Usage u = stream->job->usage();
          note_usage(u);
          if (usage_asked && !send([&] { return usage_chunk_json(stream->head, u); })) return false;
          if (!send_event(sink, "[DONE]")) return false;
          sink.done();
        }
        return true;
      },
      [stream](bool success) {
        if (!success) stream->job->cancel();
      });
}

}  // namespace scout::server
