// The engine side of `scout serve`: one thread that owns the model's session
// and runs every request, with continuous batching. Requests wait in a
// bounded queue; each choice of a running request holds a slot (a sequence of
// the session). Every step is one decode pass holding the next token of every
// generating slot (the weights read once for all of them), then one piece of
// a new prompt (chunked prefill), so a new request's prompt is evaluated while
// the others keep generating. The KV cache's blocks are shared by all slots
// and taken as needed: any request may use the whole context; --kv-budget caps
// the total (requests are admitted when their worst case fits). A slot keeps
// its KV after its request ends, so a later prompt that begins with what the
// slot holds (a chat that grows by a turn, a shared system prompt) evaluates
// only what is new.
//
// HTTP handler threads submit() a request and read its Events from the
// returned Job; they set Job::cancel when the client goes away.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat_template.h"
#include "engine/generate.h"
#include "engine/session.h"
#include "models/model.h"
#include "sampling/sampler.h"
#include "server/metrics.h"
#include "server/request.h"
#include "tokenizer/tokenizer.h"
#include "vision/image_embedding.h"

namespace scout::server {

struct SchedulerOptions {
  uint32_t n_parallel = 4;     // slots (sequences of the session)
  size_t max_queue = 64;       // requests waiting for a slot; beyond: 503
  size_t kv_budget = 0;        // bytes of KV blocks in all; 0: no cap
  sampling::SamplerParams sampler;  // defaults for fields a request leaves out
  int64_t max_tokens = -1;     // default max_tokens; -1: until end of generation or a full context
  std::string chat_template;   // override; empty: the model's
  const vision::VisionEncoder* projector = nullptr;  // for image_url parts; null: images are a 400
  vision::VisionLayout layout = vision::VisionLayout::LlamaCpp;
};

// One thing a request's handler receives, in order: Started once (the prompt
// was accepted: usage.prompt_tokens/cached are known), then Text pieces and a
// Done per choice; or one Error instead of everything (before Started: the
// request is refused with `status`; after: the stream ends with it).
struct Event {
  enum class Kind { Started, Text, Done, Error };
  Kind kind = Kind::Text;
  uint32_t index = 0;  // the choice
  std::string text;
  std::vector<engine::TokenLogprob> logprobs;  // the tokens behind this piece (when asked)
  std::string finish_reason;  // Done: "stop" or "length"
  std::string error;          // Error: the message,
  int status = 500;           // the HTTP status it maps to,
  std::string param, code;    // and OpenAI's param and code (may be empty)
};

struct Usage {
  int64_t prompt_tokens = 0;      // positions, image rows included (per choice: the prompt is counted once)
  int64_t completion_tokens = 0;  // over all choices
  int64_t cached_tokens = 0;      // prompt positions taken from a slot's KV, not evaluated
};

// A submitted request as its handler sees it.
class Job {
 public:
  // Waits for the next event; nullopt when `timeout` passed first.
  std::optional<Event> next(std::chrono::milliseconds timeout);
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  Usage usage() const;

 private:
  friend class Scheduler;
  void push(Event e);

  CompletionRequest request_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  Usage usage_;
  std::chrono::steady_clock::time_point submitted_;
  // Filled by the scheduler thread when the job starts.
  struct Prepared;
  std::shared_ptr<Prepared> prepared_;
  uint32_t choices_started_ = 0, choices_done_ = 0;
};

class Scheduler {
 public:
  Scheduler(const Model& model, const engine::SessionOptions& session, SchedulerOptions opts, Metrics* metrics);
  ~Scheduler();  // stops the thread; unfinished jobs get an Error

  // Queues a request. Throws RequestError(503) when the queue is full or the
  // scheduler is stopping.
  std::shared_ptr<Job> submit(CompletionRequest request);

  // Shutdown: refuse new requests, let running and queued ones finish until
  // `deadline`, then cancel what is left (each gets an Error, 503). Returns
  // when the thread is idle.
  void drain(std::chrono::steady_clock::time_point deadline);

  struct SlotState {
    uint32_t id;
    bool busy;
    int64_t n_past;  // positions its KV holds
  };
  struct State {
    size_t queued = 0;
    std::vector<SlotState> slots;
    size_t kv_bytes_in_use = 0;
  };
  State state() const;
  uint64_t n_ctx() const { return n_ctx_; }
  const char* chat_template_name() const;

 private:
  struct Slot;
  void loop();
  // Takes queued jobs into free slots while the budget allows.
  void admit();
  // Renders, tokenizes and encodes images for a job; throws RequestError.
  void prepare(Job& job);
  // A decode pass for every generating slot, then one prompt piece; their draws.
  void step();
  // eval_batch over the parts; on failure the owners' jobs fail and {} comes back.
  std::vector<float> pass(std::span<const engine::SeqTokens> parts, std::span<Slot* const> owners);
  // Samples slot's next token from its logits row; streams its text, or finishes it.
  void draw(Slot& slot, std::span<const float> row);
  void finish_choice(Slot& slot, const std::string& reason);
  void fail_job(const std::shared_ptr<Job>& job, const std::string& message, int status,
                const std::string& param = {}, const std::string& code = {});
  void release_slot(Slot& slot);
  size_t reserved_bytes() const;

  const Model& model_;
  SchedulerOptions opts_;
  Metrics* metrics_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;       // completions
  std::optional<chat::ChatTemplate> template_;
  std::unique_ptr<tokenizer::Tokenizer> chat_tok_;  // chat: also ends at end-of-turn tokens
  std::string template_error_;
  engine::Session session_;
  uint64_t n_ctx_;
  int64_t n_batch_;  // tokens per forward pass (the session's n_batch)
  size_t n_vocab_;
  size_t max_piece_bytes_ = 1;  // the longest token text in the vocabulary: a bound on bytes per token
  std::vector<std::unique_ptr<Slot>> slots_;
  uint64_t tick_ = 0;  // admissions so far: a slot's last_used

  mutable std::mutex mu_;  // guards queue_, stopping_, state_
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false, quit_ = false;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  State state_;  // published after each step for state()
  std::unique_ptr<ExpertStats> expert_stats_;
  // json_object's token tables, one per tokenizer, built on first use.
  std::map<const tokenizer::Tokenizer*, std::shared_ptr<const engine::JsonTokenTable>> json_tables_;
  std::thread thread_;
};

}  // namespace scout::server
