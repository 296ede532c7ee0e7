#include "server/scheduler.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <random>

#include "chat/chat_prompt.h"
#include "chat/turn_end_tokenizer.h"
#include "vision/image_source.h"
#include "vision/media_prompt.h"

namespace scout::server {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- Job

std::optional<Event> Job::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void Job::push(Event e) {
  {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

Usage Job::usage() const {
  std::lock_guard lock(mu_);
  return usage_;
}

// What a job's prompt became, made once on the scheduler thread.
struct Job::Prepared {
  vision::MediaPrompt prompt;
  // One key per position, to find a slot already holding a prefix: the token
  // id, or for an image row a negative hash of the row's embedding.
  std::vector<int64_t> keys;
  std::vector<int32_t> text_ids;  // what sampling penalties see
  const tokenizer::Tokenizer* tok = nullptr;
  engine::GenerateOptions options;  // choice i draws with seed + i
  size_t kv_reserve = 0;           // bytes one choice may come to hold
};

// ---------------------------------------------------------------- slots

struct Scheduler::Slot {
  uint32_t seq = 0;
  std::vector<int64_t> held;  // keys of the positions its KV holds
  uint64_t last_used = 0;     // for choosing which idle slot's cache to give up

  // The choice it runs; job null: idle (its KV stays for reuse).
  std::shared_ptr<Job> job;
  uint32_t index = 0;
  std::unique_ptr<engine::Generation> gen;
  size_t prompt_done = 0;  // prompt positions in the KV
  bool generating = false;  // the prompt is done: `next` is the token to evaluate
  int32_t next = 0;
  std::string pending_text;
  size_t logprobs_sent = 0;
  size_t reserved = 0;
  Clock::time_point last_token;

  bool busy() const { return job != nullptr; }
};

namespace {

engine::SessionOptions with_sequences(engine::SessionOptions o, uint32_t n) {
  o.n_seq = n;
  return o;
}

int64_t image_row_key(uint64_t hash, int64_t row) {
  const uint64_t h = hash + static_cast<uint64_t>(row) * 0x9E3779B97F4A7C15ull;
  return -1 - static_cast<int64_t>(h >> 2);
}

size_t common_prefix(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

}  // namespace

Scheduler::Scheduler(const Model& model, const engine::SessionOptions& session, SchedulerOptions opts,
                     Metrics* metrics)
    : model_(model),
      opts_(std::move(opts)),
      metrics_(metrics),
      tok_(tokenizer::Tokenizer::from_gguf(model.file())),
      session_(model, with_sequences(session, std::max<uint32_t>(1, opts_.n_parallel))),
      n_ctx_(session_.n_ctx()),
      n_batch_(session.n_batch),
      n_vocab_(model.hparams().n_vocab) {
  try {
    template_ = chat::ChatTemplate::for_model(model.file(), opts_.chat_template);
    chat_tok_ = chat::stop_at_turn_end(tokenizer::Tokenizer::from_gguf(model.file()), *template_);
  } catch (const std::exception& e) {
    template_error_ = e.what();
  }
  for (size_t id = 0; id < tok_->n_vocab(); ++id)
    max_piece_bytes_ = std::max(max_piece_bytes_, tok_->token_text(static_cast<int32_t>(id)).size());
  for (uint32_t s = 0; s < session_.n_seq(); ++s) {
    slots_.push_back(std::make_unique<Slot>());
    slots_.back()->seq = s;
  }
  if (metrics_ && model.hparams().n_expert > 0) {
    expert_stats_ = std::make_unique<ExpertStats>(model.hparams());
    session_.set_expert_stats(expert_stats_.get());
  }
  state_.slots.resize(slots_.size());
  for (size_t i = 0; i < slots_.size(); ++i) state_.slots[i] = {static_cast<uint32_t>(i), false, 0};
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  drain(Clock::now());
}

const char* Scheduler::chat_template_name() const { return template_ ? template_->name() : ""; }

std::shared_ptr<Job> Scheduler::submit(CompletionRequest request) {
  auto job = std::make_shared<Job>();
  job->request_ = std::move(request);
  job->submitted_ = Clock::now();
  {
    std::lock_guard lock(mu_);
    if (stopping_) throw RequestError("the server is shutting down", "", "server_shutting_down", 503);
    if (queue_.size() >= opts_.max_queue)
      throw RequestError(fmt::format("the server is busy: {} requests are waiting; retry later", queue_.size()), "",
                         "queue_full", 503);
    queue_.push_back(job);
    state_.queued = queue_.size();
  }
  cv_.notify_all();
  return job;
}

void Scheduler::drain(Clock::time_point deadline) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    quit_ = true;
    deadline_ = deadline;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Scheduler::State Scheduler::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

// ---------------------------------------------------------------- preparing a job

void Scheduler::prepare(Job& job) {
  const CompletionRequest& req = job.request_;
  // A prompt whose bytes need more tokens than the context holds even if every
  // token were the vocabulary's longest is refused before it is tokenized
  // (megabytes of text would hold this thread, and every stream, for seconds).
  size_t bytes = req.prompt.size();
  for (const chat::Message& m : req.messages) bytes += m.content.size();
  if (!req.prompt_is_tokens && bytes / max_piece_bytes_ >= n_ctx_)
    throw RequestError(fmt::format("this model's context is {} tokens, and the prompt's {} bytes need at least {}: "
                                   "nothing is cut; shorten the prompt or start the server with a larger -c",
                                   n_ctx_, bytes, bytes / max_piece_bytes_),
                       req.endpoint == Endpoint::ChatCompletions ? "messages" : "prompt", "context_length_exceeded");
  auto p = std::make_shared<Job::Prepared>();
  if (req.endpoint == Endpoint::ChatCompletions) {
    if (!template_)
      throw RequestError("this model has no chat template (" + template_error_ +
                         "): use /v1/completions, or start scout serve with --chat-template");
    p->tok = chat_tok_.get();
    std::vector<vision::EncodedImage> images;
    for (size_t m = 0; m < req.messages.size(); ++m)
      for (const std::string& url : req.messages[m].images) {
        const std::string param = fmt::format("messages[{}].content", m);
        if (!opts_.projector)
          throw RequestError("this server reads no images: start scout serve with --mmproj FILE", param);
        if (!vision::is_data_uri(url))
          throw RequestError("an image_url must be a data: URI (base64); scout serve reads no files or URLs", param);
        try {
          images.push_back(vision::encode_image_at(*opts_.projector, url, fmt::format("image {}", images.size() + 1),
                                                   opts_.layout));
        } catch (const std::exception& e) {
          throw RequestError(e.what(), param, "invalid_image");
        }
      }
    try {
      p->prompt = vision::build_media_prompt(*chat_tok_, template_->render(req.messages, true),
                                             vision::pointers_to(images), model_.hparams().d_model, opts_.layout);
    } catch (const std::runtime_error& e) {
      throw RequestError(e.what(), "messages");
    }
  } else {
    p->tok = tok_.get();
    std::vector<int32_t> ids = req.prompt_is_tokens ? req.prompt_tokens : tok_->encode(req.prompt, tok_->add_bos(), false);
    for (int32_t id : ids)
      if (id < 0 || static_cast<size_t>(id) >= tok_->n_vocab())
        throw RequestError(fmt::format("token id {} is not in the vocabulary of {}", id, tok_->n_vocab()), "prompt");
    p->prompt.chunks.push_back({std::move(ids), {}, 0});
  }

  const int64_t n = p->prompt.n_positions();
  if (n == 0) throw RequestError("the prompt is empty and the vocabulary adds no BOS token", "prompt");
  if (static_cast<uint64_t>(n) >= n_ctx_)
    throw RequestError(fmt::format("this model's context is {} tokens, and the prompt has {}{}: nothing is cut; "
                                   "shorten the prompt or start the server with a larger -c",
                                   n_ctx_, n, p->prompt.has_images() ? " (image rows included)" : ""),
                       req.endpoint == Endpoint::ChatCompletions ? "messages" : "prompt", "context_length_exceeded");
  for (const vision::PromptChunk& c : p->prompt.chunks) {
    if (!c.is_image()) {
      p->keys.insert(p->keys.end(), c.tokens.begin(), c.tokens.end());
      continue;
    }
    const uint64_t h = XXH3_64bits(c.embeddings.data(), c.embeddings.size() * sizeof(float));
    for (int64_t r = 0; r < c.rows; ++r) p->keys.push_back(image_row_key(h, r));
  }
  p->text_ids = p->prompt.text_tokens();

  engine::GenerateOptions& go = p->options;
  go.max_tokens = req.max_tokens.value_or(opts_.max_tokens);
  go.stop = req.stop;
  go.ignore_eog = req.ignore_eos;
  go.sampler = opts_.sampler;
  if (req.temperature) go.sampler.temperature = *req.temperature;
  if (req.top_p) go.sampler.top_p = *req.top_p;
  if (req.top_k) go.sampler.top_k = *req.top_k;
  if (req.min_p) go.sampler.min_p = *req.min_p;
  if (req.presence_penalty) go.sampler.presence_penalty = *req.presence_penalty;
  if (req.frequency_penalty) go.sampler.frequency_penalty = *req.frequency_penalty;
  if (req.repeat_penalty) go.sampler.repeat_penalty = *req.repeat_penalty;
  go.sampler.seed = req.seed ? *req.seed : std::random_device{}();
  go.json_object = req.json_object;
  if (go.json_object) {
    auto& table = json_tables_[p->tok];
    if (!table) table = std::make_shared<const engine::JsonTokenTable>(*p->tok);
    go.json_tokens = table;
  }
  go.top_logprobs = req.logprobs ? req.top_logprobs : -1;

  // The worst case one choice holds: the whole prompt and every token it may generate.
  const int64_t most = go.max_tokens < 0 ? static_cast<int64_t>(n_ctx_)
                                         : std::min<int64_t>(static_cast<int64_t>(n_ctx_), n + go.max_tokens);
  p->kv_reserve = session_.kv_cache().bytes_for(most);
  if (opts_.kv_budget > 0 && p->kv_reserve > opts_.kv_budget)
    throw RequestError(fmt::format("this request may need {} bytes of KV cache ({} positions) and the server's "
                                   "--kv-budget is {}: lower max_tokens or shorten the prompt",
                                   p->kv_reserve, most, opts_.kv_budget),
                       "max_tokens");
  job.prepared_ = std::move(p);
}

// ---------------------------------------------------------------- admission

size_t Scheduler::reserved_bytes() const {
  size_t total = 0;
  for (const auto& s : slots_) {
    if (s->busy()) {
      total += s->reserved;
    } else {
      for (uint32_t l = 0; l < model_.hparams().n_layer; ++l) total += session_.kv_cache().layer_bytes(l, s->seq);
    }
  }
  return total;
}

void Scheduler::fail_job(const std::shared_ptr<Job>& job, const std::string& message, int status,
                         const std::string& param, const std::string& code) {
  Event e;
  e.kind = Event::Kind::Error;
  e.error = message;
  e.status = status;
  e.param = param;
  e.code = code;
  job->push(std::move(e));
}

void Scheduler::admit() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) return;
      job = queue_.front();
    }
    auto pop = [&] {
      std::lock_guard lock(mu_);
      queue_.pop_front();
      state_.queued = queue_.size();
    };
    if (job->cancelled()) {
      pop();
      fail_job(job, "cancelled", 499);
      continue;
    }
    if (!job->prepared_) {
      try {
        prepare(*job);
      } catch (const RequestError& e) {
        pop();
        fail_job(job, e.what(), e.status, e.param, e.code);
        continue;
      } catch (const std::exception& e) {
        pop();
        fail_job(job, e.what(), 500);
        continue;
      }
    }
    const Job::Prepared& p = *job->prepared_;
    // A free slot, the one already holding the longest usable prefix (at
    // least one prompt position is evaluated: its logits start the draws).
    Slot* best = nullptr;
    int64_t best_keep = -1;
    for (auto& s : slots_) {
      if (s->busy()) continue;
      const int64_t common = static_cast<int64_t>(std::min(common_prefix(s->held, p.keys), p.keys.size() - 1));
      const int64_t keep = session_.kv_cache().keepable_prefix(s->seq, common);
      if (keep > best_keep || (keep == best_keep && s->last_used < best->last_used)) {
        best = s.get();
        best_keep = keep;
      }
    }
    if (!best) return;  // every slot busy
    if (opts_.kv_budget > 0) {
      // Idle slots' caches give way (oldest first) until the worst case fits.
      auto over = [&] {
        size_t held_best = 0;
        for (uint32_t l = 0; l < model_.hparams().n_layer; ++l) held_best += session_.kv_cache().layer_bytes(l, best->seq);
        return reserved_bytes() - held_best + p.kv_reserve > opts_.kv_budget;
      };
      while (over()) {
        Slot* victim = nullptr;
        for (auto& s : slots_)
          if (!s->busy() && s.get() != best && !s->held.empty() && (!victim || s->last_used < victim->last_used))
            victim = s.get();
        if (!victim) break;
        session_.reset(victim->seq);
        victim->held.clear();
      }
      if (over()) return;  // waits for running requests to end
    }
    const uint32_t index = job->choices_started_++;
    if (job->choices_started_ == static_cast<uint32_t>(job->request_.n)) pop();

    Slot& slot = *best;
    session_.kv_cache().truncate(slot.seq, best_keep);
    slot.held.resize(static_cast<size_t>(best_keep));
    slot.last_used = ++tick_;
    slot.job = job;
    slot.index = index;
    slot.prompt_done = static_cast<size_t>(best_keep);
    slot.generating = false;
    slot.pending_text.clear();
    slot.logprobs_sent = 0;
    slot.reserved = p.kv_reserve;
    engine::GenerateOptions go = p.options;
    go.sampler.seed += index;
    slot.gen = std::make_unique<engine::Generation>(*p.tok, p.text_ids, std::move(go),
                                                    [&slot](std::string_view t) { slot.pending_text += t; });
    if (index == 0) {
      const int64_t n = p.prompt.n_positions();
      {
        std::lock_guard lock(job->mu_);
        job->usage_.prompt_tokens = n;
        job->usage_.cached_tokens = best_keep;
      }
      if (metrics_) metrics_->tokens(n, best_keep, 0);
      Event e;
      e.kind = Event::Kind::Started;
      job->push(std::move(e));
    }
  }
}

// ---------------------------------------------------------------- stepping

void Scheduler::release_slot(Slot& slot) {
  slot.job.reset();
  slot.gen.reset();
  slot.reserved = 0;
}

void Scheduler::finish_choice(Slot& slot, const std::string& reason) {
  Job& job = *slot.job;
  const engine::GenerateResult& r = slot.gen->result();
  Event e;
  e.kind = Event::Kind::Done;
  e.index = slot.index;
  e.text = std::move(slot.pending_text);
  // The end-of-generation token that ended it is not part of the answer.
  size_t shown = r.logprobs.size();
  if (!r.ids.empty() && shown == r.ids.size() && slot.job->prepared_->tok->is_eog(r.ids.back())) --shown;
  for (size_t i = slot.logprobs_sent; i < shown; ++i) e.logprobs.push_back(r.logprobs[i]);
  e.finish_reason = reason;
  {
    std::lock_guard lock(job.mu_);
    job.usage_.completion_tokens += static_cast<int64_t>(r.ids.size());
    ++job.choices_done_;
  }
  if (metrics_) metrics_->tokens(0, 0, static_cast<int64_t>(r.ids.size()));
  job.push(std::move(e));
  release_slot(slot);
}

void Scheduler::step() {
  // Cancelled choices give their slots back first (the KV they filled stays for reuse).
  for (auto& s : slots_)
    if (s->busy() && s->job->cancelled()) {
      fail_job(s->job, "cancelled", 499);
      release_slot(*s);
    }

  // Two passes a step, each shaped as `scout run` shapes its own: every
  // generating choice's next token together (the decode pass), then one piece
  // of one prompt, cut where Session::eval cuts it (at most -b tokens, never
  // across a chunk boundary). The CPU's and GPU's kernels are chosen by a
  // pass's row count, and rows round alike only in passes shaped alike: so a
  // request's text at temperature 0 is the one `scout run` prints, whatever
  // else is running (prompt-prefix reuse aside: it starts the pieces
  // elsewhere).
  std::vector<engine::SeqTokens> decode;
  std::vector<Slot*> decoding;
  std::vector<std::array<int32_t, 1>> next_tokens(slots_.size());
  for (auto& s : slots_)
    if (s->busy() && s->generating) {
      next_tokens[decoding.size()][0] = s->next;
      decode.push_back({s->seq, next_tokens[decoding.size()]});
      decoding.push_back(s.get());
    }
  if (!decode.empty()) {
    const std::vector<float> logits = pass(decode, decoding);
    for (size_t i = 0; i < decoding.size() && !logits.empty(); ++i) {
      decoding[i]->held.push_back(decoding[i]->next);
      draw(*decoding[i], std::span(logits).subspan(i * n_vocab_, n_vocab_));
    }
  }

  // The oldest request still in its prompt.
  Slot* s = nullptr;
  for (auto& c : slots_)
    if (c->busy() && !c->generating && (!s || c->last_used < s->last_used)) s = c.get();
  if (!s) return;
  const vision::MediaPrompt& prompt = s->job->prepared_->prompt;
  const std::vector<int64_t>& keys = s->job->prepared_->keys;
  // The chunk holding the next prompt position (the prompt is not done: there is one).
  auto length = [](const vision::PromptChunk& c) { return c.is_image() ? c.rows : static_cast<int64_t>(c.tokens.size()); };
  size_t ci = 0;
  int64_t start = 0;
  while (static_cast<int64_t>(s->prompt_done) >= start + length(prompt.chunks[ci])) start += length(prompt.chunks[ci++]);
  const vision::PromptChunk& c = prompt.chunks[ci];
  const int64_t offset = static_cast<int64_t>(s->prompt_done) - start;
  const bool last_chunk = ci + 1 == prompt.chunks.size();
  if (c.is_image()) {
    // Image rows go through their own pass (input embeddings, not token ids).
    const int64_t d = static_cast<int64_t>(model_.hparams().d_model);
    std::vector<float> logits;
    try {
      logits = session_.eval_embeddings(std::span(c.embeddings).subspan(offset * d), s->seq, last_chunk);
    } catch (const std::exception& e) {
      fail_job(s->job, e.what(), 500);
      session_.reset(s->seq);
      s->held.clear();
      release_slot(*s);
      return;
    }
    s->held.insert(s->held.end(), keys.begin() + static_cast<std::ptrdiff_t>(s->prompt_done),
                   keys.begin() + static_cast<std::ptrdiff_t>(start + c.rows));
    s->prompt_done = static_cast<size_t>(start + c.rows);
    if (last_chunk) draw(*s, logits);
    return;
  }
  int64_t take = std::min<int64_t>(n_batch_, static_cast<int64_t>(c.tokens.size()) - offset);
  const int64_t n_past = static_cast<int64_t>(session_.n_past(s->seq));
  if (const int64_t b = session_.kv_cache().next_chunk_boundary(n_past); b > 0) take = std::min(take, b - n_past);
  const engine::SeqTokens piece[1] = {{s->seq, std::span(c.tokens).subspan(static_cast<size_t>(offset), take)}};
  Slot* owner[1] = {s};
  const std::vector<float> logits = pass(piece, owner);
  if (logits.empty()) return;
  s->held.insert(s->held.end(), keys.begin() + static_cast<std::ptrdiff_t>(s->prompt_done),
                 keys.begin() + static_cast<std::ptrdiff_t>(s->prompt_done + take));
  s->prompt_done += static_cast<size_t>(take);
  if (s->prompt_done == keys.size()) draw(*s, logits);
}

std::vector<float> Scheduler::pass(std::span<const engine::SeqTokens> parts, std::span<Slot* const> owners) {
  try {
    return session_.eval_batch(parts);
  } catch (const std::exception& e) {  // not expected: ids and room were checked
    spdlog::error("forward pass failed: {}", e.what());
    for (Slot* s : owners) {
      fail_job(s->job, e.what(), 500);
      session_.reset(s->seq);
      s->held.clear();
      release_slot(*s);
    }
    return {};
  }
}

void Scheduler::draw(Slot& s, std::span<const float> row) {
  const auto now = Clock::now();
  const bool first = !s.generating;
  const std::optional<int32_t> next = s.gen->step(row, session_.n_past(s.seq), n_ctx_);
  if (metrics_) {
    if (first && s.index == 0)
      metrics_->time_to_first_token(std::chrono::duration<double>(now - s.job->submitted_).count());
    else if (!first)
      metrics_->inter_token_latency(std::chrono::duration<double>(now - s.last_token).count());
  }
  s.last_token = now;
  s.generating = true;
  if (!next) {
    const engine::StopReason why = s.gen->result().stop_reason;
    finish_choice(s, why == engine::StopReason::EndOfGeneration || why == engine::StopReason::StopString ? "stop"
                                                                                                         : "length");
    return;
  }
  const int64_t limit = s.job->prepared_->options.max_tokens;
  if (limit >= 0 && static_cast<int64_t>(s.gen->result().ids.size()) >= limit) {
    // The last token is drawn: end now (its text goes out with the finish
    // reason) rather than evaluate it for nothing.
    s.gen->step(row, session_.n_past(s.seq), n_ctx_);
    finish_choice(s, "length");
    return;
  }
  s.next = *next;
  if (!s.pending_text.empty()) {
    Event e;
    e.kind = Event::Kind::Text;
    e.index = s.index;
    e.text = std::move(s.pending_text);
    s.pending_text.clear();
    const auto& lp = s.gen->result().logprobs;
    for (; s.logprobs_sent < lp.size(); ++s.logprobs_sent) e.logprobs.push_back(lp[s.logprobs_sent]);
    s.job->push(std::move(e));
  }
}

// ---------------------------------------------------------------- the thread

void Scheduler::loop() {
  for (;;) {
    bool any_busy = false;
    for (auto& s : slots_) any_busy = any_busy || s->busy();
    {
      std::unique_lock lock(mu_);
      if (!any_busy)
        cv_.wait(lock, [&] { return quit_ || !queue_.empty(); });
      if (quit_ && queue_.empty() && !any_busy) break;
      if (deadline_ && Clock::now() >= *deadline_) {
        // Out of time: everything left ends with an error.
        for (auto& j : queue_) fail_job(j, "the server is shutting down", 503);
        queue_.clear();
        lock.unlock();
        for (auto& s : slots_)
          if (s->busy()) {
            fail_job(s->job, "the server is shutting down", 503);
            release_slot(*s);
          }
        break;
      }
    }
    admit();
    step();
    State st;
    size_t busy = 0;
    for (auto& s : slots_) {
      st.slots.push_back({s->seq, s->busy(), static_cast<int64_t>(session_.n_past(s->seq))});
      busy += s->busy();
    }
    st.kv_bytes_in_use = session_.kv_cache().bytes_in_use();
    {
      std::lock_guard lock(mu_);
      st.queued = queue_.size();
      state_ = st;
    }
    if (metrics_) {
      metrics_->gauges(st.queued, busy, slots_.size(), st.kv_bytes_in_use);
      if (expert_stats_) metrics_->expert_counts(expert_stats_->counts);
    }
  }
}

}  // namespace scout::server
