#include "batch/openai_batch.h"

#include <fmt/format.h>

#include <random>

#include "server/openai_format.h"
#include "vision/image_source.h"

namespace scout::batch {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

std::string random_hex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += hex[rng() & 15];
  return s;
}

void fail(Job& job, const std::string& message, const std::string& param = {}, const std::string& code = {}) {
  job.error = message;
  job.error_param = param;
  job.error_code = code;
}

// The request's fields into the job; throws server::RequestError for what scout batch cannot honour.
void take_request(server::CompletionRequest&& req, const std::string& base_dir, Job& job) {
  using server::RequestError;
  if (req.n > 1)
    throw RequestError(fmt::format("n = {}: scout batch gives one choice per line (write one line per choice, "
                                   "each with its own seed)", req.n), "n");
  if (req.stream) throw RequestError("stream is not supported in a batch", "stream");
  job.model = req.model;
  job.messages = std::move(req.messages);
  for (size_t m = 0; m < job.messages.size(); ++m)
    for (std::string& url : job.messages[m].images)
      if (!vision::is_data_uri(url)) {
        try {
          url = vision::resolve_image_path(url, base_dir);
        } catch (const std::runtime_error& e) {
          throw RequestError(e.what(), fmt::format("messages[{}].content", m));
        }
      }
  job.prompt = std::move(req.prompt);
  job.prompt_tokens = std::move(req.prompt_tokens);
  job.prompt_is_tokens = req.prompt_is_tokens;
  JobOverrides& o = job.overrides;
  o.max_tokens = req.max_tokens;
  o.temperature = req.temperature;
  o.top_p = req.top_p;
  o.top_k = req.top_k;
  o.min_p = req.min_p;
  o.presence_penalty = req.presence_penalty;
  o.frequency_penalty = req.frequency_penalty;
  o.repeat_penalty = req.repeat_penalty;
  o.seed = req.seed;
  if (!req.stop.empty()) o.stop = std::move(req.stop);
  o.ignore_eos = req.ignore_eos;
  o.json_object = req.json_object;
  o.top_logprobs = req.logprobs ? req.top_logprobs : -1;
}

}  // namespace

bool is_batch_line(const std::string& line) {
  try {
    const json j = json::parse(line);
    return j.is_object() && j.contains("custom_id") && j.contains("body");
  } catch (const json::exception&) {
    return false;
  }
}

Job parse_batch_line(const std::string& line, size_t line_no, const std::string& base_dir) {
  Job job;
  job.line = line_no;
  job.endpoint = server::Endpoint::ChatCompletions;  // the format, whatever the line holds
  json j;
  try {
    j = server::parse_json_body(line);
  } catch (const server::RequestError& e) {
    std::string what = e.what();
    if (what.starts_with("the request body")) what.replace(0, 16, "the line");
    fail(job, what, {}, e.code);
    return job;
  }
  if (!j.is_object()) {
    fail(job, "a Batch line is a JSON object {\"custom_id\", \"method\", \"url\", \"body\"}", {}, "invalid_request");
    return job;
  }
  const auto id = j.find("custom_id");
  if (id == j.end() || !id->is_string()) {
    fail(job, "missing \"custom_id\" (a string)", "custom_id", "invalid_request");
    return job;
  }
  job.id = id->get<std::string>();
  const auto method = j.find("method");
  if (method != j.end() && *method != "POST") {
    fail(job, "\"method\" must be \"POST\"", "method", "invalid_request");
    return job;
  }
  const auto url = j.find("url");
  if (url == j.end() || !url->is_string() ||
      (*url != "/v1/chat/completions" && *url != "/v1/completions")) {
    fail(job,
         fmt::format("url {} is not served by scout batch (/v1/chat/completions, /v1/completions)",
                     url == j.end() ? "(missing)" : url->dump()),
         "url", "invalid_url");
    return job;
  }
  job.endpoint = *url == "/v1/completions" ? server::Endpoint::Completions : server::Endpoint::ChatCompletions;
  const auto body = j.find("body");
  if (body == j.end() || !body->is_object()) {
    fail(job, "\"body\" must be a JSON object", "body", "invalid_request");
    return job;
  }
  try {
    take_request(server::parse_completion_request(*body, *job.endpoint), base_dir, job);
  } catch (const server::RequestError& e) {
    fail(job, e.what(), e.param, e.code);
  }
  return job;
}

ojson batch_result_line(const Job& job, const engine::GenerateResult& r, const tokenizer::Tokenizer& tok,
                        const std::string& model_name) {
  const server::ResponseHead head =
      server::make_head(*job.endpoint, job.model.empty() ? model_name : job.model, job.overrides.top_logprobs);
  // As scout serve says it: a full context is "length" too.
  const bool stopped = r.stop_reason == engine::StopReason::EndOfGeneration ||
                       r.stop_reason == engine::StopReason::StopString;
  server::Usage usage;
  usage.prompt_tokens = static_cast<int64_t>(r.prompt_ids.size());
  usage.completion_tokens = static_cast<int64_t>(r.ids.size());
  const ojson body = server::completion_json(head, {{r.text, stopped ? "stop" : "length", r.logprobs}}, usage, tok);
  return {{"id", "batch_req_" + random_hex(24)},
          {"custom_id", job.id},
          {"response", {{"status_code", 200}, {"request_id", "req_" + random_hex(24)}, {"body", body}}},
          {"error", nullptr}};
}

ojson batch_error_line(const Job& job, const std::string& message) {
  // The parser's param and code belong to the parser's message only.
  const bool parsed = message == job.error;
  const std::string param = parsed ? job.error_param : std::string();
  const std::string code = parsed && !job.error_code.empty() ? job.error_code
                           : message.find("does not fit the context") != std::string::npos ? "context_length_exceeded"
                                                                                             : "invalid_request";
  ojson out = {{"id", "batch_req_" + random_hex(24)}, {"custom_id", job.id}};
  if (job.id.is_null()) {
    out["line"] = job.line;  // what resuming and merging know it by
    out["response"] = nullptr;
  } else {
    out["response"] = {{"status_code", 400},
                       {"request_id", "req_" + random_hex(24)},
                       {"body", server::error_body(400, message, param, code)}};
  }
  out["error"] = {{"code", code}, {"message", message}};
  return out;
}

}  // namespace scout::batch
