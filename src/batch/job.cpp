#include "batch/job.h"

#include <fmt/format.h>

#include <stdexcept>

#include "vision/image_source.h"
#include "vision/media_prompt.h"

namespace scout::batch {

using json = nlohmann::ordered_json;

std::string Job::key() const { return id.is_null() ? fmt::format("line {}", line) : id.dump(); }

std::optional<std::string> result_key(const json& result) {
  if (!result.is_object()) return std::nullopt;
  const auto custom_id = result.find("custom_id");  // a Batch output line: its "id" is batch_req_...
  const auto id = custom_id != result.end() ? custom_id : result.find("id");
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

// A message's "content": a string, or OpenAI content parts, text and
// image_url, joined in order with a <__media__> marker where each image goes
// (no separator, so [image, text] reads as `scout run --image` does).
void get_content(const json& v, size_t index, const std::string& base_dir, chat::Message& m) {
  if (v.is_string()) {
    m.content = v.get<std::string>();
    return;
  }
  if (!v.is_array())
    throw std::runtime_error(fmt::format("message {}: \"content\" must be a string or an array of parts", index));
  for (size_t n = 1; n <= v.size(); ++n) {
    const json& part = v[n - 1];
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw std::runtime_error(fmt::format("message {}, part {}: a part is an object with a \"type\"", index, n));
    const std::string type = part["type"].get<std::string>();
    if (type == "text") {
      if (!part.contains("text") || !part["text"].is_string())
        throw std::runtime_error(fmt::format("message {}, part {}: a text part needs a string \"text\"", index, n));
      m.content += part["text"].get<std::string>();
    } else if (type == "image_url") {
      const json* url = part.contains("image_url") ? &part["image_url"] : nullptr;
      if (url && url->is_object()) url = url->contains("url") ? &(*url)["url"] : nullptr;
      if (!url || !url->is_string())
        throw std::runtime_error(
            fmt::format("message {}, part {}: an image_url part needs \"image_url\": {{\"url\": \"...\"}}", index, n));
      const std::string u = url->get<std::string>();
      try {
        m.images.push_back(vision::is_data_uri(u) ? u : vision::resolve_image_path(u, base_dir));
      } catch (const std::runtime_error& e) {
        throw std::runtime_error(fmt::format("message {}, part {}: {}", index, n, e.what()));
      }
      m.content += vision::kMediaMarker;
    } else {
      throw std::runtime_error(
          fmt::format("message {}, part {}: type \"{}\" is not supported (text, image_url)", index, n, type));
    }
  }
}

std::vector<chat::Message> get_messages(const json& v, const std::string& base_dir) {
  if (!v.is_array() || v.empty()) throw std::runtime_error("\"messages\" must be a non-empty array");
  std::vector<chat::Message> out;
  for (const json& m : v) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content"))
      throw std::runtime_error(
          fmt::format("message {} must be an object with a string \"role\" and a \"content\"", out.size() + 1));
    chat::Message msg{m["role"].get<std::string>(), {}};
    get_content(m["content"], out.size() + 1, base_dir, msg);
    out.push_back(std::move(msg));
  }
  return out;
}

void parse_fields(const json& j, Job& job, std::set<std::string>& unknown_keys, const std::string& base_dir) {
  const bool has_prompt = j.contains("prompt"), has_messages = j.contains("messages");
  if (has_prompt == has_messages) throw std::runtime_error("give either \"prompt\" or \"messages\"");
  if (has_prompt) {
    if (!j["prompt"].is_string()) throw std::runtime_error("\"prompt\" must be a string");
    job.prompt = j["prompt"].get<std::string>();
  } else {
    job.messages = get_messages(j["messages"], base_dir);
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

Job parse_jsonl_line(const std::string& line, size_t line_no, std::set<std::string>& unknown_keys,
                     const std::string& base_dir) {
  Job job;
  job.line = line_no;
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
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
    parse_fields(j, job, unknown_keys, base_dir);
  } catch (const std::runtime_error& e) {
    job.error = e.what();
  }
  return job;
}

}  // namespace scout::batch
