#include "batch/runner.h"

#include <fmt/format.h>

#include <random>
#include <stdexcept>

#include "chat/chat_prompt.h"
#include "chat/turn_end_tokenizer.h"
#include "runtime/generate.h"

namespace scout::batch {

using json = nlohmann::ordered_json;

json error_result(const Job& job, const std::string& message) {
  return {{"id", job.id}, {"line", job.line}, {"error", message}};
}

namespace {

const char* finish_reason(runtime::StopReason r) {
  switch (r) {
    case runtime::StopReason::EndOfGeneration:
    case runtime::StopReason::StopString: return "stop";
    case runtime::StopReason::MaxTokens: return "length";
    case runtime::StopReason::ContextFull: return "context";
    case runtime::StopReason::Cancelled: return "cancelled";  // batch sets no should_stop
  }
  return "unknown";
}

}  // namespace

Runner::Runner(const Model& model, const runtime::SessionOptions& session, RunDefaults defaults)
    : model_(model),
      defaults_(std::move(defaults)),
      tok_(tokenizer::Tokenizer::from_gguf(model.file())),
      session_(model, session) {}

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

std::vector<int32_t> Runner::prompt_tokens(const Job& job, const tokenizer::Tokenizer*& tok) {
  if (job.messages.empty()) {
    tok = tok_.get();
    return tok_->encode(job.prompt, tok_->add_bos(), defaults_.parse_special);
  }
  const chat::ChatTemplate& tmpl = chat_template();
  tok = chat_tok_.get();
  return chat::encode_chat_text(*chat_tok_, tmpl.render(job.messages, /*add_generation_prompt=*/true));
}

sampling::SamplerParams Runner::sampler_for(const Job& job) const {
  sampling::SamplerParams p = defaults_.sampler;
  const JobOverrides& o = job.overrides;
  if (o.temperature) p.temperature = *o.temperature;
  if (o.top_p) p.top_p = *o.top_p;
  if (o.seed) p.seed = *o.seed;
  else if (defaults_.random_seed) p.seed = std::random_device{}();
  return p;
}

json Runner::run(const Job& job) {
  if (!job.error.empty()) return error_result(job, job.error);
  try {
    const tokenizer::Tokenizer* tok = nullptr;
    const std::vector<int32_t> ids = prompt_tokens(job, tok);
    if (ids.empty()) return error_result(job, "the prompt is empty and the vocabulary adds no BOS token");
    // Like `scout run`: the prompt must leave room for at least one new token.
    if (ids.size() >= session_.n_ctx())
      return error_result(job, fmt::format("prompt of {} tokens does not fit the context of {} (use a larger -c)",
                                           ids.size(), session_.n_ctx()));
    runtime::GenerateOptions go;
    go.max_tokens = job.overrides.max_tokens.value_or(defaults_.max_tokens);
    go.stop = job.overrides.stop.value_or(defaults_.stop);
    go.sampler = sampler_for(job);

    session_.reset();
    const runtime::GenerateResult r = runtime::generate(session_, *tok, ids, go);
    return {{"id", job.id},
            {"text", r.text},
            {"prompt_tokens", r.prompt_ids.size()},
            {"completion_tokens", r.ids.size()},
            {"finish_reason", finish_reason(r.stop_reason)},
            {"seed", go.sampler.seed},
            {"timings",
             {{"prompt_ms", r.prompt_seconds * 1e3},
              {"prompt_tokens_per_s", r.prompt_tokens_per_second()},
              {"generate_ms", r.generate_seconds * 1e3},
              {"generate_tokens_per_s", r.generated_tokens_per_second()}}}};
  } catch (const std::exception& e) {
    return error_result(job, e.what());
  }
}

}  // namespace scout::batch
