#include "server/request.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace scout::server {

using json = nlohmann::json;

namespace {

// vision::kMediaMarker (vision/media_prompt.h), spelled out so this file
// needs nothing of the engine (the fuzz target compiles it alone); a test
// checks the two agree.
constexpr std::string_view kMediaMarker = "<__media__>";

constexpr int64_t kMaxTokenId = std::numeric_limits<int32_t>::max();

// `s` with every byte that is not part of well-formed UTF-8 replaced by
// U+FFFD: error messages quote what they were given, and must stay
// encodable as JSON (nlohmann's dump throws on ill-formed UTF-8).
std::string valid_utf8(std::string_view s) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1Fu;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0Fu;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07u;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const auto d = static_cast<uint8_t>(s[i + k]);
      if ((d & 0xC0u) != 0x80u) ok = false;
      else cp = (cp << 6) | (d & 0x3Fu);
    }
    if (ok && len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok && len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ok = false;
    if (!ok) {
      out += kReplacement;
      ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

// At most `max` bytes of `s` (cut at a character boundary, "..." added).
std::string shorten(std::string_view s, size_t max = 40) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  while (cut > 0 && (static_cast<uint8_t>(s[cut]) & 0xC0u) == 0x80u) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

// A JSON value as it reads in a message: strings quoted and shortened.
std::string quote(const json& v) {
  if (v.is_string()) return "\"" + shorten(v.get_ref<const std::string&>()) + "\"";
  return shorten(v.dump(-1, ' ', false, json::error_handler_t::replace));
}

[[noreturn]] void fail(const std::string& message, const std::string& param, const std::string& code = {}) {
  throw RequestError(valid_utf8(message), valid_utf8(param), code);
}

// A field of `obj`; null when it is absent or JSON null (null means absent
// for every optional field, as in OpenAI's API).
const json* field(const json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

bool get_bool(const json& v, const std::string& name) {
  if (!v.is_boolean()) fail(fmt::format("\"{}\" must be true or false", name), name);
  return v.get<bool>();
}

const std::string& get_string(const json& v, const std::string& name) {
  if (!v.is_string()) fail(fmt::format("\"{}\" must be a string", name), name);
  return v.get_ref<const std::string&>();
}

// An integer in [lo, hi]; numbers with a fraction or an exponent (3.0, 1e3) are not integers.
int64_t get_int(const json& v, const std::string& name, int64_t lo, int64_t hi) {
  const std::string range = hi == std::numeric_limits<int64_t>::max()
                                ? fmt::format("an integer >= {}", lo)
                                : fmt::format("an integer from {} to {}", lo, hi);
  if (!v.is_number_integer()) fail(fmt::format("\"{}\" must be {}", name, range), name);
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi) || (lo > 0 && u < static_cast<uint64_t>(lo)))
      fail(fmt::format("\"{}\" must be {}", name, range), name);
    return static_cast<int64_t>(u);
  }
  const auto i = v.get<int64_t>();
  if (i < lo || i > hi) fail(fmt::format("\"{}\" must be {}", name, range), name);
  return i;
}

// A number (integers too) in [lo, hi], or (lo, hi] when lo_open; also
// checked after the conversion to float (1e-300 is not > 0 as a float).
float get_float(const json& v, const std::string& name, double lo, double hi, bool lo_open = false) {
  const bool unbounded = hi >= std::numeric_limits<float>::max();
  const std::string what = unbounded ? fmt::format("\"{}\" must be a number > {}", name, lo)
                           : lo_open ? fmt::format("\"{}\" must be a number > {} and <= {}", name, lo, hi)
                                     : fmt::format("\"{}\" must be a number from {} to {}", name, lo, hi);
  if (!v.is_number()) fail(what, name);
  const double d = v.get<double>();
  const auto f = static_cast<float>(d);
  if (!(d >= lo && d <= hi) || (lo_open && !(f > lo)) || !std::isfinite(f)) fail(what, name);
  return f;
}

// A token id: an integer in [0, 2^31).
int32_t get_token(const json& v, const std::string& name) {
  if (!v.is_number_integer() || (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(kMaxTokenId)
                                                         : v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxTokenId))
    fail(fmt::format("\"{}\" must be a token id (an integer from 0 to {})", name, kMaxTokenId), name);
  return static_cast<int32_t>(v.get<int64_t>());
}

// null, "", [] and {}: a field that asks for nothing.
bool is_empty(const json& v) {
  return v.is_null() || ((v.is_string() || v.is_array() || v.is_object()) && v.empty());
}

[[noreturn]] void not_supported(const std::string& name, const std::string& why = {}) {
  fail(fmt::format("\"{}\" is not supported by scout{}", name, why.empty() ? "" : " (" + why + ")"), name);
}

// Fields whose meaning scout cannot honour: present and asking for
// something, they are a 400 rather than silently ignored.
void refuse_unsupported(const json& body, Endpoint endpoint) {
  for (const char* key : {"tools", "functions", "logit_bias", "audio", "prediction"}) {
    const auto it = body.find(key);
    if (it == body.end() || is_empty(*it)) continue;
    if (std::string_view(key) == "logit_bias" && !it->is_object())
      fail("\"logit_bias\" must be an object of token ids and biases", "logit_bias");
    not_supported(key, std::string_view(key) == "tools" || std::string_view(key) == "functions" ? "it has no tool calls" : "");
  }
  // "none", and "auto" with no tools (refused above): both ask for no tool call.
  for (const char* key : {"tool_choice", "function_call"}) {
    const json* v = field(body, key);
    if (v && !(v->is_string() && (*v == "none" || *v == "auto"))) not_supported(key, "it has no tool calls");
  }
  if (const json* m = field(body, "modalities")) {
    if (!m->is_array()) fail("\"modalities\" must be an array of strings", "modalities");
    for (const json& x : *m)
      if (x != "text") not_supported("modalities", "it answers with text only");
  }
  if (endpoint == Endpoint::Completions) {
    if (const json* e = field(body, "echo"); e && get_bool(*e, "echo")) not_supported("echo");
    if (const json* s = field(body, "suffix"); s && !get_string(*s, "suffix").empty()) not_supported("suffix");
    if (const json* b = field(body, "best_of");
        b && get_int(*b, "best_of", 1, std::numeric_limits<int64_t>::max()) > 1)
      not_supported("best_of", "use n");
  }
}

// A message's "content": a string, or OpenAI content parts (text and
// image_url) joined in order with no separator and a <__media__> marker
// where each image goes, as batch/job.cpp reads them.
void get_content(const json& v, const std::string& path, chat::Message& m) {
  if (v.is_string()) {
    m.content = v.get<std::string>();
    return;
  }
  if (!v.is_array()) fail(fmt::format("\"{}\" must be a string or an array of content parts", path), path);
  for (size_t k = 0; k < v.size(); ++k) {
    const json& part = v[k];
    const std::string part_path = fmt::format("{}[{}]", path, k);
    if (!part.is_object()) fail(fmt::format("\"{}\" must be a content part (an object with a \"type\")", part_path), part_path);
    const json* type = field(part, "type");
    if (!type) fail(fmt::format("\"{}.type\" is required", part_path), part_path + ".type");
    const std::string& t = get_string(*type, part_path + ".type");
    if (t == "text") {
      const json* text = field(part, "text");
      if (!text) fail(fmt::format("\"{}.text\" is required in a text part", part_path), part_path + ".text");
      m.content += get_string(*text, part_path + ".text");
    } else if (t == "image_url") {
      const std::string url_path = part_path + ".image_url";
      const json* url = field(part, "image_url");
      if (!url) fail(fmt::format("\"{}\" is required in an image_url part", url_path), url_path);
      std::string name = url_path;
      if (url->is_object()) {  // {"url": "...", "detail": "auto"}: detail has no meaning here
        name = url_path + ".url";
        url = field(*url, "url");
        if (!url) fail(fmt::format("\"{}\" is required", name), name);
      }
      if (!url->is_string() || url->get_ref<const std::string&>().empty())
        fail(fmt::format("\"{}\" must be a non-empty string (a data: URI)", name), name);
      m.images.push_back(url->get<std::string>());
      m.content += kMediaMarker;
    } else {
      fail(fmt::format("content part type {} is not supported by scout (text, image_url)", quote(*type)),
           part_path + ".type");
    }
  }
}

std::vector<chat::Message> get_messages(const json& body, const ParseLimits& limits) {
  const json* msgs = field(body, "messages");
  if (!msgs) fail("\"messages\" is required", "messages");
  if (!msgs->is_array() || msgs->empty()) fail("\"messages\" must be a non-empty array of messages", "messages");
  if (msgs->size() > limits.max_messages)
    fail(fmt::format("\"messages\" holds {} messages; scout takes at most {}", msgs->size(), limits.max_messages),
         "messages");
  std::vector<chat::Message> out;
  out.reserve(msgs->size());
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string path = fmt::format("messages[{}]", i);
    if (!m.is_object()) fail(fmt::format("\"{}\" must be an object with a \"role\" and a \"content\"", path), path);
    const json* role = field(m, "role");
    if (!role) fail(fmt::format("\"{}.role\" is required", path), path + ".role");
    const std::string& r = get_string(*role, path + ".role");
    chat::Message msg;
    if (r == "system" || r == "developer") msg.role = "system";
    else if (r == "user" || r == "assistant") msg.role = r;
    else if (r == "tool" || r == "function")
      fail(fmt::format("role \"{}\" is not supported by scout (it has no tool calls)", r), path + ".role");
    else
      fail(fmt::format("\"{}.role\" must be system, developer, user or assistant, not {}", path, quote(*role)),
           path + ".role");
    for (const char* key : {"tool_calls", "function_call", "audio"}) {
      const auto it = m.find(key);
      if (it != m.end() && !is_empty(*it))
        fail(fmt::format("\"{}.{}\" is not supported by scout", path, key), fmt::format("{}.{}", path, key));
    }
    const json* content = field(m, "content");
    if (content) get_content(*content, path + ".content", msg);
    else if (msg.role != "assistant")  // an assistant's turn may be empty; anyone else's must say something
      fail(fmt::format("\"{}.content\" is required", path), path + ".content");
    out.push_back(std::move(msg));
  }
  return out;
}

// A /v1/completions "prompt": a string, an array of token ids, or an array
// holding one of those.
void get_prompt(const json& body, CompletionRequest& r) {
  const json* p = field(body, "prompt");
  if (!p) fail("\"prompt\" is required", "prompt");
  const char* kShape = "\"prompt\" must be a string, an array of token ids, or an array holding one of those";
  if (p->is_string()) {
    r.prompt = p->get<std::string>();
    return;
  }
  if (!p->is_array()) fail(kShape, "prompt");
  if (p->empty()) fail("\"prompt\" must not be an empty array", "prompt");
  const json& first = p->front();
  const json* tokens = p;
  std::string path = "prompt";
  if (first.is_string() || first.is_array()) {
    if (p->size() > 1)
      fail(fmt::format("\"prompt\" holds {} prompts; scout takes one prompt per request", p->size()), "prompt");
    if (first.is_string()) {
      r.prompt = first.get<std::string>();
      return;
    }
    tokens = &first;
    path = "prompt[0]";
    if (tokens->empty()) fail(fmt::format("\"{}\" must not be an empty array", path), path);
  } else if (!first.is_number()) {
    fail(kShape, "prompt");
  }
  r.prompt_is_tokens = true;
  r.prompt_tokens.reserve(tokens->size());
  for (size_t i = 0; i < tokens->size(); ++i)
    r.prompt_tokens.push_back(get_token((*tokens)[i], fmt::format("{}[{}]", path, i)));
}

std::vector<std::string> get_stop(const json& v, const ParseLimits& limits) {
  const char* kShape = "\"stop\" must be a string or an array of strings";
  std::vector<std::string> out;
  if (v.is_string()) {
    if (!v.get_ref<const std::string&>().empty()) out.push_back(v.get<std::string>());
    return out;
  }
  if (!v.is_array()) fail(kShape, "stop");
  if (v.size() > limits.max_stop)
    fail(fmt::format("\"stop\" holds {} strings; scout takes at most {}", v.size(), limits.max_stop), "stop");
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string& s = get_string(v[i], fmt::format("stop[{}]", i));
    if (!s.empty()) out.push_back(s);
  }
  return out;
}

void get_sampling(const json& body, Endpoint endpoint, const ParseLimits& limits, CompletionRequest& r) {
  constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
  const json* max_tokens = field(body, "max_tokens");
  const json* max_completion_tokens = field(body, "max_completion_tokens");
  if (max_tokens) r.max_tokens = get_int(*max_tokens, "max_tokens", 1, kMaxInt);
  if (max_completion_tokens) {
    const int64_t m = get_int(*max_completion_tokens, "max_completion_tokens", 1, kMaxInt);
    if (r.max_tokens && *r.max_tokens != m)
      fail("\"max_tokens\" and \"max_completion_tokens\" differ; give one of them", "max_completion_tokens");
    r.max_tokens = m;
  }
  if (const json* v = field(body, "temperature")) r.temperature = get_float(*v, "temperature", 0, 2);
  if (const json* v = field(body, "top_p")) r.top_p = get_float(*v, "top_p", 0, 1, true);
  if (const json* v = field(body, "top_k"))
    r.top_k = static_cast<int32_t>(get_int(*v, "top_k", 0, std::numeric_limits<int32_t>::max()));
  if (const json* v = field(body, "min_p")) r.min_p = get_float(*v, "min_p", 0, 1);
  if (const json* v = field(body, "presence_penalty")) r.presence_penalty = get_float(*v, "presence_penalty", -2, 2);
  if (const json* v = field(body, "frequency_penalty"))
    r.frequency_penalty = get_float(*v, "frequency_penalty", -2, 2);
  if (const json* v = field(body, "repeat_penalty"))
    r.repeat_penalty = get_float(*v, "repeat_penalty", 0, std::numeric_limits<float>::max(), true);
  if (const json* v = field(body, "seed")) {
    // OpenAI's seeds are signed 64-bit; negative ones wrap to the same 64 bits.
    if (!v->is_number_integer()) fail("\"seed\" must be an integer", "seed");
    r.seed = v->is_number_unsigned() ? v->get<uint64_t>() : static_cast<uint64_t>(v->get<int64_t>());
  }
  if (const json* v = field(body, "stop")) r.stop = get_stop(*v, limits);
  if (const json* v = field(body, "ignore_eos")) r.ignore_eos = get_bool(*v, "ignore_eos");
  if (const json* v = field(body, "n")) r.n = static_cast<int>(get_int(*v, "n", 1, limits.max_n));

  if (endpoint == Endpoint::ChatCompletions) {
    if (const json* v = field(body, "logprobs")) r.logprobs = get_bool(*v, "logprobs");
    if (const json* v = field(body, "top_logprobs")) {
      const int64_t top = get_int(*v, "top_logprobs", 0, 20);
      if (!r.logprobs) fail("\"top_logprobs\" needs \"logprobs\": true", "top_logprobs");
      r.top_logprobs = static_cast<int>(top);
    }
  } else if (const json* v = field(body, "logprobs")) {
    r.logprobs = true;
    r.top_logprobs = static_cast<int>(get_int(*v, "logprobs", 0, 5));
  }

  if (const json* v = field(body, "response_format")) {
    if (!v->is_object()) fail("\"response_format\" must be an object with a \"type\"", "response_format");
    const json* type = field(*v, "type");
    if (!type) fail("\"response_format.type\" is required", "response_format");
    if (*type == "json_schema") fail("response_format \"json_schema\" is not supported by scout (\"json_object\" is)", "response_format");
    if (*type == "json_object") r.json_object = true;
    else if (*type != "text")
      fail(fmt::format("\"response_format.type\" must be \"text\" or \"json_object\", not {}", quote(*type)),
           "response_format");
  }
  if (const json* v = field(body, "stream")) r.stream = get_bool(*v, "stream");
  if (const json* v = field(body, "stream_options")) {
    if (!r.stream) fail("stream_options is only allowed with stream: true", "stream_options");
    if (!v->is_object()) fail("\"stream_options\" must be an object", "stream_options");
    if (const json* u = field(*v, "include_usage")) r.include_usage = get_bool(*u, "stream_options.include_usage");
  }
}

CompletionRequest parse_request(const json& body, Endpoint endpoint, const ParseLimits& limits) {
  if (!body.is_object()) fail("the request body must be a JSON object", "");
  CompletionRequest r;
  r.endpoint = endpoint;
  if (const json* m = field(body, "model")) r.model = get_string(*m, "model");
  refuse_unsupported(body, endpoint);
  if (endpoint == Endpoint::ChatCompletions) r.messages = get_messages(body, limits);
  else get_prompt(body, r);
  get_sampling(body, endpoint, limits, r);
  return r;
}

// nlohmann's message without its "[json.exception.parse_error.101] " tag,
// the text it quotes shortened (it can be the whole body) and made valid UTF-8.
std::string json_error_message(const json::exception& e) {
  std::string what = e.what();
  if (const size_t tag = what.find("] "); what.rfind("[json.exception.", 0) == 0 && tag != std::string::npos)
    what.erase(0, tag + 2);
  static constexpr std::string_view kLastRead = "; last read: '";
  if (const size_t at = what.find(kLastRead); at != std::string::npos) {
    const size_t begin = at + kLastRead.size();
    const size_t end = what.size() > begin && what.back() == '\'' ? what.size() - 1 : what.size();
    if (end - begin > 40) {  // keep the end: the error is there
      size_t from = end - 40;
      while (from < end && (static_cast<uint8_t>(what[from]) & 0xC0u) == 0x80u) ++from;
      what = what.substr(0, begin) + "..." + what.substr(from, end - from) + what.substr(end);
    }
  }
  return valid_utf8(shorten(what, 200));
}

}  // namespace

json parse_json_body(std::string_view body, const ParseLimits& limits) {
  const int max_depth = limits.max_depth;
  const json::parser_callback_t limit_depth = [max_depth](int depth, json::parse_event_t event, json&) {
    // depth: the enclosing containers' count, 0 for the body itself.
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) && depth >= max_depth)
      throw RequestError(fmt::format("the request body nests deeper than {} levels", max_depth), "", "invalid_json");
    return true;
  };
  try {
    return json::parse(body.begin(), body.end(), limit_depth);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 4E888
    throw RequestError("the request body is not valid JSON: " + json_error_message(e), "", "invalid_json");
  }
}

CompletionRequest parse_completion_request(const json& body, Endpoint endpoint, const ParseLimits& limits) {
  try {
    return parse_request(body, endpoint, limits);
  } catch (const json::exception& e) {  // none expected: every access above is checked
    throw RequestError("the request could not be read: " + json_error_message(e));
  }
}

CompletionRequest parse_completion_request(std::string_view body, Endpoint endpoint, const ParseLimits& limits) {
  return parse_completion_request(parse_json_body(body, limits), endpoint, limits);
}

TokenizeRequest parse_tokenize_request(std::string_view body, const ParseLimits& limits) {
  const json j = parse_json_body(body, limits);
  try {
    if (!j.is_object()) fail("the request body must be a JSON object", "");
    TokenizeRequest r;
    const json* content = field(j, "content");
    if (!content) fail("\"content\" is required", "content");
    r.content = get_string(*content, "content");
    if (const json* v = field(j, "add_special")) r.add_special = get_bool(*v, "add_special");
    if (const json* v = field(j, "parse_special")) r.parse_special = get_bool(*v, "parse_special");
    if (const json* v = field(j, "with_pieces")) r.with_pieces = get_bool(*v, "with_pieces");
    return r;
  } catch (const json::exception& e) {
    throw RequestError("the request could not be read: " + json_error_message(e));
  }
}

std::vector<int32_t> parse_detokenize_request(std::string_view body, const ParseLimits& limits) {
  const json j = parse_json_body(body, limits);
  try {
    if (!j.is_object()) fail("the request body must be a JSON object", "");
    const json* tokens = field(j, "tokens");
    if (!tokens) fail("\"tokens\" is required", "tokens");
    if (!tokens->is_array()) fail("\"tokens\" must be an array of token ids", "tokens");
    std::vector<int32_t> out;
    out.reserve(tokens->size());
    for (size_t i = 0; i < tokens->size(); ++i) out.push_back(get_token((*tokens)[i], fmt::format("tokens[{}]", i)));
    return out;
  } catch (const json::exception& e) {
    throw RequestError("the request could not be read: " + json_error_message(e));
  }
}

}  // namespace scout::server
