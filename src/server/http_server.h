// The HTTP side of `scout serve` (cpp-httplib): routes, the API key, request
// limits, OpenAI-shaped errors, SSE streaming, and the one log line per
// request. It listens before the model is loaded (GET /health answers 503
// until set_ready) and hands every completion to the Scheduler.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "server/metrics.h"
#include "server/request.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}

namespace scout::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                     // 0: any free port (bind() says which)
  std::string api_key;                 // empty: no key asked
  size_t max_body_bytes = 32u << 20;   // larger bodies get 413 (images travel as base64 in them)
  size_t max_headers = 64;             // more header fields get 431
  ParseLimits limits;
  size_t threads = 16;                 // connections served at once
  bool metrics = false;                // GET /metrics
};

// What the server reports about its model once it is loaded.
struct ServedModel {
  std::string id;    // --alias, or the file name without .gguf
  std::string path;
  uint64_t n_ctx = 0;
  uint64_t n_ctx_train = 0;
};

class HttpServer {
 public:
  explicit HttpServer(HttpOptions opts);
  ~HttpServer();

  // Binds the socket; returns the port (the chosen one for port 0). Throws
  // std::runtime_error when the address cannot be bound.
  int bind();
  // Serves until stop(); returns when every connection is done.
  void listen();
  // The model is loaded: completions go to `scheduler`; tokenizer serves
  // /tokenize and /detokenize (guarded here by a mutex).
  void set_ready(Scheduler* scheduler, std::unique_ptr<tokenizer::Tokenizer> tokenizer, ServedModel model,
                 Metrics* metrics);
  // Stops accepting; listen() returns once in-flight requests end.
  void stop();

 private:
  void routes();
  // POST /v1/chat/completions and /v1/completions: the whole answer, or its SSE stream.
  void complete(const std::string& body, httplib::Response& res, Endpoint endpoint);

  HttpOptions opts_;
  std::unique_ptr<httplib::Server> svr_;
  std::atomic<bool> ready_{false};
  Scheduler* scheduler_ = nullptr;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  std::mutex tok_mu_;
  ServedModel model_;
  Metrics* metrics_ = nullptr;
};

// True when `given` equals `expected`, in time that depends only on
// expected's length (no early exit that would leak how much of a key matched).
bool same_key(const std::string& given, const std::string& expected);

}  // namespace scout::server
