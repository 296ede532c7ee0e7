#include "runtime/generate.h"

#include <algorithm>
#include <chrono>

namespace scout::runtime {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::EndOfGeneration: return "eog";
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

// Holds generated text back while it could still turn into a stop string.
class StopMatcher {
 public:
  explicit StopMatcher(const std::vector<std::string>& stops) : stops_(stops) {}

  // Appends text; returns what may be emitted now. Sets `stopped` when a stop
  // string appeared (the text from it on is dropped).
  std::string push(const std::string& piece, bool& stopped) {
    text_ += piece;
    // Emitted text never holds the start of a stop string, so search after it.
    size_t cut = std::string::npos;
    for (const std::string& s : stops_)
      if (!s.empty()) cut = std::min(cut, text_.find(s, emitted_));
    stopped = cut != std::string::npos;
    const size_t ready = stopped ? cut : text_.size() - held_prefix();
    std::string out = ready > emitted_ ? text_.substr(emitted_, ready - emitted_) : std::string();
    emitted_ = std::max(emitted_, ready);
    if (stopped) text_.resize(cut);
    return out;
  }
  // The end of generation: nothing can complete any more.
  std::string finish() {
    std::string out = text_.substr(std::min(emitted_, text_.size()));
    emitted_ = text_.size();
    return out;
  }
  const std::string& text() const { return text_; }

 private:
  // Length of the longest tail of text_ that is a proper prefix of a stop string.
  size_t held_prefix() const {
    size_t best = 0;
    for (const std::string& s : stops_)
      for (size_t k = std::min(s.size() - (s.empty() ? 0 : 1), text_.size()); k > best; --k)
        if (text_.compare(text_.size() - k, k, s, 0, k) == 0) {
          best = k;
          break;
        }
    return best;
  }

  const std::vector<std::string>& stops_;
  std::string text_;
  size_t emitted_ = 0;
};

}  // namespace

GenerateResult generate(Session& session, const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opts, const std::function<void(std::string_view)>& on_text) {
  GenerateResult r;
  r.prompt_ids.assign(prompt.begin(), prompt.end());
  sampling::Sampler sampler(opts.sampler);
  for (int32_t id : prompt) sampler.accept(id);
  tokenizer::TextStream stream(tok, opts.render_specials);
  StopMatcher stops(opts.stop);
  auto emit = [&](const std::string& s) {
    if (!s.empty() && on_text) on_text(s);
  };

  const auto t_prompt = Clock::now();
  std::vector<float> logits = session.eval(prompt);
  r.prompt_seconds = seconds_since(t_prompt);

  const auto t_gen = Clock::now();
  for (;;) {
    if (opts.max_tokens >= 0 && static_cast<int64_t>(r.ids.size()) >= opts.max_tokens) {
      r.stop_reason = StopReason::MaxTokens;
      break;
    }
    // Checked before sampling: every token generated so far is evaluated.
    if (opts.should_stop && opts.should_stop()) {
      r.stop_reason = StopReason::Cancelled;
      break;
    }
    const int32_t id = sampler.sample(logits);
    sampler.accept(id);
    r.ids.push_back(id);
    if (tok.is_eog(id) && !opts.ignore_eog) {
      r.stop_reason = StopReason::EndOfGeneration;
      break;
    }
    bool stopped = false;
    emit(stops.push(stream.push(id), stopped));
    if (stopped) {
      r.stop_reason = StopReason::StopString;
      break;
    }
    if (session.n_past() >= session.n_ctx()) {
      r.stop_reason = StopReason::ContextFull;
      break;
    }
    const int32_t next[1] = {id};
    logits = session.eval(next);
  }
  r.generate_seconds = seconds_since(t_gen);
  if (r.stop_reason != StopReason::StopString) {
    bool stopped = false;
    emit(stops.push(stream.flush(), stopped));
    if (!stopped) emit(stops.finish());
  }
  r.text = stops.text();
  return r;
}

}  // namespace scout::runtime
