#include "engine/generate.h"

#include <chrono>
#include <utility>

namespace scout::engine {

const char* finish_reason(StopReason r) {
  switch (r) {
    case StopReason::EndOfGeneration:
    case StopReason::StopString: return "stop";
    case StopReason::MaxTokens: return "length";
    case StopReason::ContextFull: return "context";
    case StopReason::Cancelled: return "cancelled";
  }
  return "unknown";
}

double GenerateResult::prompt_tokens_per_second() const {
  return prompt_seconds > 0 ? static_cast<double>(prompt_ids.size()) / prompt_seconds : 0.0;
}

double GenerateResult::generated_tokens_per_second() const {
  return generate_seconds > 0 ? static_cast<double>(ids.size()) / generate_seconds : 0.0;
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

Generation::Generation(const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt, GenerateOptions opts,
                       std::function<void(std::string_view)> on_text)
    : tok_(tok),
      opts_(std::move(opts)),
      on_text_(std::move(on_text)),
      sampler_(opts_.sampler),
      stream_(tok, opts_.render_specials),
      stops_(opts_.stop) {
  r_.prompt_ids.assign(prompt.begin(), prompt.end());
  for (int32_t id : prompt) sampler_.accept(id);
}

void Generation::emit(const std::string& s) {
  if (!s.empty() && on_text_) on_text_(s);
}

std::optional<int32_t> Generation::step(std::span<const float> logits, uint64_t n_past, uint64_t n_ctx) {
  return advance([&] { return sampler_.sample(logits); }, n_past, n_ctx);
}

std::optional<int32_t> Generation::step(std::span<const int32_t> top_ids, std::span<const float> top_logits,
                                        uint64_t n_past, uint64_t n_ctx) {
  return advance([&] { return sampler_.sample_top(top_ids, top_logits); }, n_past, n_ctx);
}

int Generation::candidates() const {
  return std::min<int>(sampler_.candidates_needed(), static_cast<int>(tok_.n_vocab()));
}

template <class Draw>
std::optional<int32_t> Generation::advance(Draw&& draw, uint64_t n_past, uint64_t n_ctx) {
  if (done_) return std::nullopt;
  if (r_.ids.empty()) t_first_step_ = Clock::now();  // the first step (a later one has a token)
  if (opts_.max_tokens >= 0 && static_cast<int64_t>(r_.ids.size()) >= opts_.max_tokens) {
    finish(StopReason::MaxTokens);
    return std::nullopt;
  }
  // Checked before sampling: every token generated so far is evaluated.
  if (opts_.should_stop && opts_.should_stop()) {
    finish(StopReason::Cancelled);
    return std::nullopt;
  }
  const int32_t id = draw();
  sampler_.accept(id);
  r_.ids.push_back(id);
  if (tok_.is_eog(id) && !opts_.ignore_eog) {
    finish(StopReason::EndOfGeneration);
    return std::nullopt;
  }
  bool stopped = false;
  emit(stops_.push(stream_.push(id), stopped));
  if (stopped) {
    finish(StopReason::StopString);
    return std::nullopt;
  }
  if (n_past >= n_ctx) {
    finish(StopReason::ContextFull);
    return std::nullopt;
  }
  return id;
}

void Generation::finish(StopReason why) {
  done_ = true;
  r_.stop_reason = why;
  r_.generate_seconds = seconds_since(t_first_step_);
  if (why != StopReason::StopString) {
    bool stopped = false;
    emit(stops_.push(stream_.flush(), stopped));
    if (!stopped) emit(stops_.finish());
  }
  r_.text = stops_.text();
}

GenerateResult generate(Session& session, const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opts, const std::function<void(std::string_view)>& on_text,
                        std::span<const float> prompt_logits) {
  Generation g(tok, prompt, opts, on_text);
  // Sampling that looks at the top k only gets only those from the backend.
  const int k = g.candidates();
  auto step = [&](std::span<const int32_t> ids) {
    if (k > 0) {
      const TopTokens top = session.eval_top(ids, k);
      return g.step(top.row_ids(0), top.row_logits(0), session.n_past(), session.n_ctx());
    }
    return g.step(session.eval(ids), session.n_past(), session.n_ctx());
  };
  std::optional<int32_t> next;
  if (!prompt_logits.empty()) {  // the session holds the prompt already (a loaded cache)
    next = g.step(prompt_logits, session.n_past(), session.n_ctx());
  } else {
    const auto t_prompt = Clock::now();
    next = step(prompt);
    g.result().prompt_seconds = seconds_since(t_prompt);  // includes the first draw: microseconds
  }
  while (next) {
    const int32_t ids[1] = {*next};
    next = step(ids);
  }
  return std::move(g.result());
}

}  // namespace scout::engine
