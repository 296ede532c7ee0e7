#include "batch/runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <stdexcept>

#include "batch/openai_batch.h"
#include "chat/chat_prompt.h"
#include "chat/turn_end_tokenizer.h"
#include "engine/generate.h"
#include "vision/image_source.h"

namespace scout::batch {

using json = nlohmann::ordered_json;

json error_result(const Job& job, const std::string& message) {
  if (job.endpoint) return batch_error_line(job, message);
  return {{"id", job.id}, {"line", job.line}, {"error", message}};
}

namespace {

engine::SessionOptions with_sequences(engine::SessionOptions o, uint32_t n) {
  o.n_seq = n;
  return o;
}

// Results arrive in any order; they go out in the jobs' order, each as soon
// as every one before it has gone.
class InOrder {
 public:
  InOrder(size_t n, const Runner::Emit& emit) : ready_(n), emit_(emit) {}
  void put(size_t i, json result) {
    ready_[i] = std::move(result);
    for (; next_ < ready_.size() && ready_[next_]; ++next_) {
      emit_(*ready_[next_]);
      ready_[next_].reset();
    }
  }

 private:
  std::vector<std::optional<json>> ready_;
  const Runner::Emit& emit_;
  size_t next_ = 0;
};

using Clock = std::chrono::steady_clock;

}  // namespace

struct Runner::Slot {
  uint32_t seq = 0;
  size_t index = 0;  // the job's place in the run
  const Job* job = nullptr;
  uint64_t seed = 0;
  std::unique_ptr<engine::Generation> gen;
  // A text prompt still being evaluated: its tokens, how many are in the KV,
  // and when its first piece went in.
  std::vector<int32_t> prompt;
  size_t prompt_done = 0;
  Clock::time_point prompt_start;
  bool generating = false;  // the prompt is done: `next` is the token to evaluate
  int32_t next = 0;
};

Runner::Runner(const Model& model, const engine::SessionOptions& session, RunDefaults defaults, uint32_t n_parallel)
    : model_(model),
      defaults_(std::move(defaults)),
      tok_(tokenizer::Tokenizer::from_gguf(model.file())),
      session_(model, with_sequences(session, n_parallel)),
      n_batch_(std::max<int64_t>(1, session.n_batch)) {}

const chat::ChatTemplate& Runner::chat_template() {
  if (!chat_resolved_) {
    chat_resolved_ = true;
    try {
      template_ = chat::ChatTemplate::for_model(model_.file(), defaults_.chat_template);
      chat_tok_ = chat::stop_at_turn_end(tokenizer::Tokenizer::from_gguf(model_.file()), *template_);
    } catch (const std::exception& e) {
      chat_error_ = e.what();
    }
  }
  if (!template_) throw std::runtime_error("messages need a chat template: " + chat_error_);
  return *template_;
}

vision::MediaPrompt Runner::prompt_for(const Job& job, const tokenizer::Tokenizer*& tok) {
  if (job.messages.empty()) {
    tok = tok_.get();
    vision::MediaPrompt p;
    if (job.prompt_is_tokens) {
      for (int32_t id : job.prompt_tokens)
        if (id < 0 || static_cast<size_t>(id) >= tok_->n_vocab())
          throw std::runtime_error(fmt::format("token id {} is not in the vocabulary of {}", id, tok_->n_vocab()));
      p.chunks.push_back({job.prompt_tokens, {}, 0});
    } else {
      p.chunks.push_back({tok_->encode(job.prompt, tok_->add_bos(), defaults_.parse_special), {}, 0});
    }
    return p;
  }
  const chat::ChatTemplate& tmpl = chat_template();
  tok = chat_tok_.get();
  // The job's images, read and encoded now: a bad one is this job's error.
  std::vector<vision::EncodedImage> images;
  for (const chat::Message& m : job.messages) {
    for (const std::string& url : m.images) {
      if (!defaults_.projector) throw std::runtime_error("the messages hold images: run scout batch with --mmproj FILE");
      const std::string name = vision::is_data_uri(url) ? fmt::format("image {}", images.size() + 1) : url;
      images.push_back(vision::encode_image_at(*defaults_.projector, url, name, defaults_.layout));
    }
  }
  return vision::build_media_prompt(*chat_tok_, tmpl.render(job.messages, /*add_generation_prompt=*/true),
                                    vision::pointers_to(images), model_.hparams().d_model, defaults_.layout);
}

sampling::SamplerParams Runner::sampler_for(const Job& job) const {
  sampling::SamplerParams p = defaults_.sampler;
  const JobOverrides& o = job.overrides;
  if (o.temperature) p.temperature = *o.temperature;
  if (o.top_p) p.top_p = *o.top_p;
  if (o.top_k) p.top_k = *o.top_k;
  if (o.min_p) p.min_p = *o.min_p;
  if (o.presence_penalty) p.presence_penalty = *o.presence_penalty;
  if (o.frequency_penalty) p.frequency_penalty = *o.frequency_penalty;
  if (o.repeat_penalty) p.repeat_penalty = *o.repeat_penalty;
  if (o.seed) p.seed = *o.seed;
  else if (defaults_.random_seed) p.seed = std::random_device{}();
  return p;
}

std::optional<json> Runner::start(const Job& job, Slot& slot) {
  slot.job = &job;
  if (!job.error.empty()) return error_result(job, job.error);
  try {
    const tokenizer::Tokenizer* tok = nullptr;
    const vision::MediaPrompt prompt = prompt_for(job, tok);
    const std::vector<int32_t> ids = prompt.text_tokens();  // all of it without images
    const bool images = prompt.has_images();
    const uint64_t n_positions = static_cast<uint64_t>(prompt.n_positions());
    if (n_positions == 0) return error_result(job, "the prompt is empty and the vocabulary adds no BOS token");
    // Like `scout run`: the prompt must leave room for at least one new token.
    if (n_positions >= session_.n_ctx())
      return error_result(job, fmt::format("prompt of {} {} does not fit the context of {} (use a larger -c)",
                                           n_positions, images ? "positions (images included)" : "tokens",
                                           session_.n_ctx()));
    engine::GenerateOptions go;
    go.max_tokens = job.overrides.max_tokens.value_or(defaults_.max_tokens);
    go.stop = job.overrides.stop.value_or(defaults_.stop);
    go.sampler = sampler_for(job);
    go.ignore_eog = job.overrides.ignore_eos;
    go.top_logprobs = job.overrides.top_logprobs;
    go.json_object = job.overrides.json_object;
    if (go.json_object) {
      auto& table = json_tables_[tok];
      if (!table) table = std::make_shared<const engine::JsonTokenTable>(*tok);
      go.json_tokens = table;
    }
    slot.seed = go.sampler.seed;
    slot.gen = std::make_unique<engine::Generation>(*tok, ids, std::move(go));

    session_.reset(slot.seq);
    if (!images) {  // evaluated piece by piece in prefill(), with other jobs' pieces
      slot.prompt = ids;
      slot.prompt_done = 0;
      slot.generating = false;
      return std::nullopt;
    }
    // Text and image rows, chunk by chunk, on their own; then the full logits.
    const auto t0 = Clock::now();
    const std::vector<float> logits = vision::eval_media_prompt(session_, prompt, slot.seq);
    ++passes_.prompt;
    slot.gen->result().prompt_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    slot.gen->result().prompt_ids = prompt.positions();  // prompt_tokens counts image rows too
    if (const std::optional<int32_t> next = slot.gen->step(logits, session_.n_past(slot.seq), session_.n_ctx())) {
      slot.next = *next;
      slot.generating = true;
      return std::nullopt;
    }
    return finish(slot);
  } catch (const std::exception& e) {
    session_.reset(slot.seq);
    return error_result(job, e.what());
  }
}

json Runner::finish(Slot& slot) {
  session_.reset(slot.seq);  // its blocks go back to the pool for the next job
  const engine::GenerateResult& r = slot.gen->result();
  if (slot.job->endpoint) return batch_result_line(*slot.job, r, *tok_, defaults_.model_name);
  return {{"id", slot.job->id},
          {"text", r.text},
          {"prompt_tokens", r.prompt_ids.size()},
          {"completion_tokens", r.ids.size()},
          {"finish_reason", engine::finish_reason(r.stop_reason)},
          {"seed", slot.seed},
          {"timings",
           {{"prompt_ms", r.prompt_seconds * 1e3},
            {"prompt_tokens_per_s", r.prompt_tokens_per_second()},
            {"generate_ms", r.generate_seconds * 1e3},
            {"generate_tokens_per_s", r.generated_tokens_per_second()}}}};
}

void Runner::prefill(std::vector<Slot>& active, const std::function<void(Slot&, std::optional<json>)>& done) {
  // Each prompt is cut into the pieces eval_seq cuts it into alone (up to
  // n_batch tokens, never across a chunk boundary), and the pieces of several
  // jobs share one pass, oldest job first, up to the batch size. On the CPU a
  // job's rows then round as they do alone (Session::mixed_passes_exact: its
  // kernels are picked per sequence). A GPU picks them by the pass's rows:
  // there a piece of fewer than kAloneBelow tokens, which alone runs the
  // small-batch kernels, keeps a pass of its own, and the larger ones, which
  // alone run the large-batch kernels, run them together too.
  constexpr int64_t kAloneBelow = 16;
  const bool mix_any = session_.mixed_passes_exact();
  const int64_t limit = std::max<int64_t>(n_batch_, session_.n_seq());
  std::vector<Slot*> order;
  for (Slot& s : active)
    if (!s.generating) order.push_back(&s);
  std::sort(order.begin(), order.end(), [](const Slot* a, const Slot* b) { return a->index < b->index; });

  auto piece = [&](const Slot& s) {
    const int64_t n_past = static_cast<int64_t>(session_.n_past(s.seq));
    int64_t m = std::min<int64_t>(n_batch_, static_cast<int64_t>(s.prompt.size() - s.prompt_done));
    if (const int64_t b = session_.kv_cache().next_chunk_boundary(n_past); b >= 0) m = std::min(m, b - n_past);
    return m;
  };
  // One pass over these slots' pieces; then the ones whose prompt is done draw their first token.
  auto pass = [&](const std::vector<Slot*>& owners, const std::vector<int64_t>& sizes) {
    std::vector<engine::SeqTokens> parts;
    const auto now = Clock::now();
    for (size_t i = 0; i < owners.size(); ++i) {
      Slot& s = *owners[i];
      if (s.prompt_done == 0) s.prompt_start = now;
      parts.push_back({s.seq, std::span<const int32_t>(s.prompt).subspan(s.prompt_done, static_cast<size_t>(sizes[i]))});
    }
    std::vector<float> logits;
    try {
      logits = session_.eval_batch(parts);
      ++passes_.prompt;
    } catch (const std::exception& e) {  // not expected: ids and room were checked
      for (Slot* s : owners) done(*s, error_result(*s->job, e.what()));
      return;
    }
    const size_t n_vocab = model_.hparams().n_vocab;
    for (size_t i = 0; i < owners.size(); ++i) {
      Slot& s = *owners[i];
      s.prompt_done += static_cast<size_t>(sizes[i]);
      if (s.prompt_done < s.prompt.size()) continue;
      s.gen->result().prompt_seconds = std::chrono::duration<double>(Clock::now() - s.prompt_start).count();
      s.prompt.clear();
      s.prompt.shrink_to_fit();
      const std::optional<int32_t> next = s.gen->step(std::span<const float>(logits.data() + i * n_vocab, n_vocab),
                                                      session_.n_past(s.seq), session_.n_ctx());
      if (next) {
        s.next = *next;
        s.generating = true;
      } else {
        done(s, std::nullopt);
      }
    }
  };

  std::vector<Slot*> shared;
  std::vector<int64_t> sizes;
  int64_t room = limit;
  for (Slot* s : order) {
    const int64_t m = piece(*s);
    if (m < kAloneBelow && !mix_any) {
      pass({s}, {m});
    } else if (m <= room) {
      shared.push_back(s);
      sizes.push_back(m);
      room -= m;
    }  // else: a later step
  }
  if (!shared.empty()) pass(shared, sizes);
}

void Runner::run(const std::vector<const Job*>& jobs, const Emit& emit) {
  InOrder out(jobs.size(), emit);
  std::vector<uint32_t> free_seqs;
  for (uint32_t s = session_.n_seq(); s-- > 0;) free_seqs.push_back(s);
  std::vector<Slot> active;
  const size_t n_vocab = model_.hparams().n_vocab;
  // A slot is over: its result (an error; nullopt: finish()), its sequence free.
  std::vector<size_t> over;  // indices into active, swept after each phase
  auto sweep = [&] {
    if (over.empty()) return;
    std::vector<Slot> still;
    for (size_t i = 0; i < active.size(); ++i)
      if (std::find(over.begin(), over.end(), i) == over.end()) still.push_back(std::move(active[i]));
    active = std::move(still);
    over.clear();
  };

  for (size_t next_job = 0;;) {
    // Jobs start in input order as sequences free up, so the earliest job not
    // yet written is always in flight and no result waits on a job not started.
    while (next_job < jobs.size() && !free_seqs.empty()) {
      Slot slot;
      slot.seq = free_seqs.back();
      slot.index = next_job++;
      if (std::optional<json> r = start(*jobs[slot.index], slot)) {
        out.put(slot.index, std::move(*r));
        continue;
      }
      free_seqs.pop_back();
      active.push_back(std::move(slot));
    }
    if (active.empty()) break;

    // Pieces of the prompts still being evaluated, several jobs' in one pass.
    prefill(active, [&](Slot& s, std::optional<json> error) {
      if (error) session_.reset(s.seq);
      free_seqs.push_back(s.seq);
      out.put(s.index, error ? std::move(*error) : finish(s));
      over.push_back(static_cast<size_t>(&s - active.data()));
    });
    sweep();

    // One new token for every generating job, in one forward pass of its own
    // (so its rows run the kernels they run alone). When every job samples
    // from its top k, only the largest k per job come back.
    std::vector<engine::SeqToken> steps;
    std::vector<size_t> rows;  // the active slot of each step
    int k = 0;
    bool every_top = true;
    for (size_t i = 0; i < active.size(); ++i) {
      const Slot& s = active[i];
      if (!s.generating) continue;
      steps.push_back({s.seq, s.next});
      rows.push_back(i);
      every_top = every_top && s.gen->candidates() > 0;
      k = std::max(k, s.gen->candidates());
    }
    if (steps.empty()) continue;
    if (!every_top) k = 0;
    std::vector<float> logits;
    engine::TopTokens top;
    try {
      if (k > 0) top = session_.decode_top(steps, k);
      else logits = session_.decode(steps);
      ++passes_.decode;
    } catch (const std::exception& e) {  // not expected: ids and room were checked
      for (size_t i : rows) {
        Slot& s = active[i];
        session_.reset(s.seq);
        free_seqs.push_back(s.seq);
        out.put(s.index, error_result(*s.job, e.what()));
        over.push_back(i);
      }
      sweep();
      continue;
    }
    for (size_t r = 0; r < rows.size(); ++r) {
      Slot& s = active[rows[r]];
      const std::optional<int32_t> next =
          top.k > 0 ? s.gen->step(top.row_ids(r), top.row_logits(r), session_.n_past(s.seq), session_.n_ctx())
                    : s.gen->step(std::span<const float>(logits.data() + r * n_vocab, n_vocab), session_.n_past(s.seq),
                                  session_.n_ctx());
      if (next) {
        s.next = *next;
      } else {
        free_seqs.push_back(s.seq);
        out.put(s.index, finish(s));
        over.push_back(rows[r]);
      }
    }
    sweep();
  }
}

json Runner::run(const Job& job) {
  json result;
  run({&job}, [&](const json& r) { result = r; });
  return result;
}

}  // namespace scout::batch
