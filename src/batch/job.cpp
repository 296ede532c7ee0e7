#include "batch/job.h"

#include <fmt/format.h>

#include <stdexcept>

namespace scout::batch {

using json = nlohmann::ordered_json;

std::string Job::key() const { return id.is_null() ? fmt::format("line {}", line) : id.dump(); }

std::optional<std::string> result_key(const json& result) {
  if (!result.is_object()) return std::nullopt;
  const auto id = result.find("id");
  if (id != result.end() && !id->is_null()) return id->dump();
  const auto line = result.find("line");
  if (line != result.end() && line->is_number_integer() && line->get<int64_t>() > 0)
    return fmt::format("line {}", line->get<int64_t>());
  return std::nullopt;
}

namespace {

// Field readers: each throws std::runtime_error naming the field.
int64_t get_int(const json& v, const char* name, int64_t lo) {
  if (!v.is_number_integer() || v.get<int64_t>() < lo)
    throw std::runtime_error(fmt::format("\"{}\" must be an integer >= {}", name, lo));
  return v.get<int64_t>();
}

float get_float(const json& v, const char* name, float lo, float hi) {
  if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi)
    throw std::runtime_error(fmt::format("\"{}\" must be a number from {} to {}", name, lo, hi));
  return v.get<float>();
}

std::vector<std::string> get_stop(const json& v) {
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) throw std::runtime_error("\"stop\" must be a string or an array of strings");
  std::vector<std::string> out;
  for (const json& s : v) {
    if (!s.is_string()) throw std::runtime_error("\"stop\" must be a string or an array of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::vector<chat::Message> get_messages(const json& v) {
  if (!v.is_array() || v.empty()) throw std::runtime_error("\"messages\" must be a non-empty array");
  std::vector<chat::Message> out;
  for (const json& m : v) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      throw std::runtime_error(
          fmt::format("message {} must be an object with string \"role\" and \"content\"", out.size() + 1));
    out.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  }
  return out;
}

void parse_fields(const json& j, Job& job, std::set<std::string>& unknown_keys) {
  const bool has_prompt = j.contains("prompt"), has_messages = j.contains("messages");
  if (has_prompt == has_messages) throw std::runtime_error("give either \"prompt\" or \"messages\"");
  if (has_prompt) {
    if (!j["prompt"].is_string()) throw std::runtime_error("\"prompt\" must be a string");
    job.prompt = j["prompt"].get<std::string>();
  } else {
    job.messages = get_messages(j["messages"]);
  }
  JobOverrides& o = job.overrides;
  for (const auto& [key, v] : j.items()) {
    if (key == "id" || key == "prompt" || key == "messages") continue;
    if (key == "max_tokens") o.max_tokens = get_int(v, "max_tokens", -1);
    else if (key == "temperature") o.temperature = get_float(v, "temperature", 0.0f, 100.0f);
    else if (key == "top_p") o.top_p = get_float(v, "top_p", 0.0f, 1.0f);
    else if (key == "seed") o.seed = static_cast<uint64_t>(get_int(v, "seed", 0));
    else if (key == "stop") o.stop = get_stop(v);
    else unknown_keys.insert(key);
  }
}

}  // namespace

Job parse_jsonl_line(const std::string& line, size_t line_no, std::set<std::string>& unknown_keys) {
  Job job;
  job.line = line_no;
  json j;
  try {
    j = json::parse(line);
  } catch (const json::parse_error& e) {
    // Without nlohmann's "[json.exception.parse_error.101] " tag.
    const std::string what = e.what();
    job.error = fmt::format("not valid JSON: {}", what.substr(what.find("] ") == std::string::npos ? 0 : what.find("] ") + 2));
    return job;
  }
  if (!j.is_object()) {
    job.error = "not a JSON object";
    return job;
  }
  const auto id = j.find("id");
  if (id == j.end() || !(id->is_string() || id->is_number_integer())) {
    job.error = "missing \"id\" (a string or an integer)";
    return job;
  }
  job.id = *id;
  try {
    parse_fields(j, job, unknown_keys);
  } catch (const std::runtime_error& e) {
    job.error = e.what();
  }
  return job;
}

}  // namespace scout::batch
