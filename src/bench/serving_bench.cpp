// `scout bench --url`'s client (the declarations and what a run does:
// serving_bench.h): the URL, the HTTP requests, the prompts, each streamed
// request read through SseParser into a RequestRecord, and the run loop of
// concurrency levels. The metrics and the reports on the records are in
// serving_metrics.cpp, which needs no HTTP and builds into scout_lib; this
// file is the only one of the benchmark to use cpp-httplib (into scout_http).
#include "bench/serving_bench.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <thread>

namespace scout::bench {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// At most n bytes of s, for error messages, on one line.
std::string clip(std::string_view s, size_t n = 200) {
  std::string out(s.substr(0, n));
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  if (s.size() > n) out += "...";
  return out;
}

// ---- where the server is --------------------------------------------------

struct Target {
  std::string origin;  // scheme://host:port, what httplib::Client takes
  std::string base;    // a path prefix, "" or "/something" (no trailing slash)
  std::string url;     // as the user wrote it, for messages
};

Target parse_url(const std::string& url) {
  Target t;
  t.url = url;
  const size_t sep = url.find("://");
  const std::string scheme = sep == std::string::npos ? "http" : url.substr(0, sep);
  if (scheme != "http" && scheme != "https")
    throw std::invalid_argument(fmt::format("--url: '{}': the scheme must be http or https", url));
  const std::string rest = sep == std::string::npos ? url : url.substr(sep + 3);
  const size_t slash = rest.find('/');
  const std::string host_port = rest.substr(0, slash);
  if (host_port.empty()) throw std::invalid_argument(fmt::format("--url: '{}' names no host", url));
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  // http://host:8000/v1 as OpenAI clients take it: the endpoints add /v1 themselves.
  if (path.size() >= 3 && path.compare(path.size() - 3, 3, "/v1") == 0) path.resize(path.size() - 3);
  t.origin = scheme + "://" + host_port;
  t.base = path;
  return t;
}

std::unique_ptr<httplib::Client> make_client(const Target& t, double timeout_s) {
  auto cli = std::make_unique<httplib::Client>(t.origin);
  if (!cli->is_valid()) throw ServingError(fmt::format("--url: '{}' is not a URL httplib can use", t.url));
  cli->set_connection_timeout(10, 0);
  const auto timeout_us = static_cast<int64_t>(timeout_s * 1e6);
  cli->set_read_timeout(static_cast<time_t>(timeout_us / 1000000), static_cast<time_t>(timeout_us % 1000000));
  cli->set_write_timeout(60, 0);
  cli->set_decompress(false);
  cli->set_tcp_nodelay(true);  // headers and body go out in two writes: no Nagle wait between them
  return cli;
}

httplib::Headers base_headers(const std::string& api_key) {
  httplib::Headers h = {{"Accept-Encoding", "identity"}};
  if (!api_key.empty()) h.emplace("Authorization", "Bearer " + api_key);
  return h;
}

// The message of an OpenAI error body ({"error": {"message": ...}}), llama-server's
// ({"error": {"message"...}} too) or FastAPI's ({"detail": ...}); else the body itself.
std::string error_message(const json& err) {
  if (err.is_string()) return err.get<std::string>();
  if (err.is_object()) {
    if (auto m = err.find("message"); m != err.end() && m->is_string()) return m->get<std::string>();
    if (auto e = err.find("error"); e != err.end()) return error_message(*e);
    if (auto d = err.find("detail"); d != err.end()) return d->is_string() ? d->get<std::string>() : clip(d->dump());
  }
  return clip(err.dump());
}

std::string http_error(int status, const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  const std::string msg = j.is_discarded() ? clip(body) : error_message(j);
  return msg.empty() ? fmt::format("HTTP {}", status) : fmt::format("HTTP {}: {}", status, msg);
}

std::string connection_error(const Target& t, httplib::Error e) {
  if (e == httplib::Error::Connection) return fmt::format("cannot reach {} ({})", t.url, httplib::to_string(e));
  return fmt::format("no answer from {} ({})", t.url, httplib::to_string(e));
}

// ---- prompts ----------------------------------------------------------------

// Common English words: most tokenizers make one token of each (with its space).
constexpr const char* kWords[] = {
    "the",    "of",     "and",    "to",     "in",     "is",     "that",   "for",    "it",     "as",     "was",
    "with",   "be",     "by",     "on",     "not",    "he",     "this",   "are",    "or",     "his",    "from",
    "at",     "which",  "but",    "have",   "an",     "had",    "they",   "you",    "were",   "their",  "one",
    "all",    "we",     "can",    "her",    "has",    "there",  "been",   "if",     "more",   "when",   "will",
    "would",  "who",    "so",     "no",     "time",   "people", "year",   "way",    "day",    "man",    "thing",
    "woman",  "life",   "child",  "world",  "school", "state",  "family", "student","group",  "country","problem",
    "hand",   "part",   "place",  "case",   "week",   "company","system", "program","question","work",  "number",
    "night",  "point",  "home",   "water",  "room",   "mother", "area",   "money",  "story",  "fact",   "month",
    "lot",    "right",  "study",  "book",   "eye",    "job",    "word",   "business","issue", "side",   "kind",
    "head",   "house",  "service","friend", "father", "power",  "hour",   "game",   "line",   "end",    "member",
    "law",    "car",    "city",   "name",   "team",   "minute", "idea",   "kid",    "body",   "back",   "parent",
    "face",   "others", "level",  "office", "door",   "health", "person", "art",    "war",    "history","party",
    "result", "change", "morning","reason", "research","girl",  "guy",    "moment", "air",    "teacher","force",
    "good",   "new",    "first",  "last",   "long",   "great",  "little", "own",    "other",  "old",    "big",
    "high",   "small",  "large",  "next",   "early",  "young",  "important","few",  "public", "bad",    "same",
    "able",   "say",    "get",    "make",   "go",     "know",   "take",   "see",    "come",   "think",  "look",
    "want",   "give",   "use",    "find",   "tell",   "ask",    "seem",   "feel",   "try",    "leave",  "call"};
constexpr size_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);

// A seed for (run seed, level, prompt): every prompt of every level differs,
// so a server's prefix cache does not carry one level's work into the next.
uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b) {
  uint64_t x = seed ^ (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full);
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::string random_words(std::mt19937_64& rng, int64_t n) {
  std::string s;
  for (int64_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kWords[rng() % kNumWords];
  }
  return s;
}

struct PromptSource {
  std::vector<int32_t> pool;     // token ids of a long random text, when POST /tokenize answered
  double words_per_token = 1.0;  // measured on that text; 1 when it did not answer
  bool token_ids = false;        // completions prompts are windows of `pool`
};

struct Prompt {
  json prompt;  // the token ids, or the text
  int64_t intended_tokens = 0;
};

Prompt make_prompt(const PromptSource& src, ServingEndpoint endpoint, int64_t input_len, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Prompt p;
  p.intended_tokens = input_len;
  if (endpoint == ServingEndpoint::Completions && src.token_ids) {
    std::vector<int32_t> ids(static_cast<size_t>(input_len));
    const size_t n = src.pool.size();
    const size_t span = n > ids.size() ? n - ids.size() + 1 : n;
    const size_t off = rng() % span;
    for (size_t k = 0; k < ids.size(); ++k) ids[k] = src.pool[(off + k) % n];
    p.prompt = ids;
  } else {
    const auto words = std::max<int64_t>(1, std::llround(static_cast<double>(input_len) * src.words_per_token));
    p.prompt = random_words(rng, words);
  }
  return p;
}

std::string request_body(const ServingOptions& o, const std::string& model, const Prompt& p, int64_t max_tokens) {
  json body = {{"model", model}};
  if (o.endpoint == ServingEndpoint::Completions) {
    body["prompt"] = p.prompt;
  } else {
    body["messages"] = json::array({{{"role", "user"}, {"content", p.prompt}}});
  }
  body["max_tokens"] = max_tokens;
  body["temperature"] = 0.0;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  if (o.ignore_eos) body["ignore_eos"] = true;
  return body.dump();
}

// ---- one streamed request ---------------------------------------------------

RequestRecord stream_request(httplib::Client& cli, const Target& t, const std::string& path, const std::string& body,
                             const std::string& api_key, Clock::time_point t0, int64_t intended_prompt_tokens) {
  RequestRecord r;
  r.prompt_tokens = intended_prompt_tokens;
  int status = 0;
  std::string content_type, error_body, stream_error;
  bool done = false;
  double now = 0;
  SseParser parser;

  const SseParser::Handler on_event = [&](std::string_view data) {
    if (done || !stream_error.empty()) return;  // after [DONE] or an error: nothing more counts
    if (data == "[DONE]") {
      done = true;
      return;
    }
    const json j = json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      stream_error = fmt::format("malformed SSE event (not a JSON object): '{}'", clip(data, 80));
      return;
    }
    if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
      stream_error = "error in the stream: " + error_message(*e);
      return;
    }
    if (auto ch = j.find("choices"); ch != j.end() && ch->is_array() && !ch->empty() && (*ch)[0].is_object()) {
      const json& c = (*ch)[0];
      const json* text = nullptr;
      bool role_only = false;
      if (auto it = c.find("text"); it != c.end()) {
        text = &*it;
      } else if (auto d = c.find("delta"); d != c.end() && d->is_object()) {
        if (auto it = d->find("content"); it != d->end()) text = &*it;
        role_only = d->contains("role");
      }
      const bool has_text = text && text->is_string() && !text->get_ref<const std::string&>().empty();
      const auto f = c.find("finish_reason");
      const bool finished = f != c.end() && f->is_string();
      if (finished) r.finish_reason = f->get<std::string>();
      // Not tokens: a chat stream's first chunk that only announces the role,
      // before any token (OpenAI's does; vLLM's comes with the first token),
      // and a last chunk that only carries the finish reason after the tokens
      // (scout's and llama-server's; vLLM's comes with the last token).
      const bool role_first = role_only && !has_text && !finished && r.chunk_s.empty();
      const bool finish_last = finished && !has_text && !r.chunk_s.empty();
      if (!role_first && !finish_last) {
        r.chunk_s.push_back(now);
        if (has_text) ++r.text_chunks;
      }
    }
    if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
      if (auto n = u->find("completion_tokens"); n != u->end() && n->is_number_integer())
        r.output_tokens = n->get<int64_t>();
      if (auto n = u->find("prompt_tokens"); n != u->end() && n->is_number_integer()) {
        r.prompt_tokens = n->get<int64_t>();
      }
    }
  };

  httplib::Request req;
  req.method = "POST";
  req.path = t.base + path;
  req.headers = base_headers(api_key);
  req.headers.emplace("Accept", "text/event-stream");
  req.headers.emplace("Content-Type", "application/json");
  req.body = body;
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    content_type = res.get_header_value("Content-Type");
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (status != 200) {
      error_body.append(data, std::min(n, size_t{4096} - std::min<size_t>(4096, error_body.size())));
      return true;
    }
    now = seconds_since(t0);
    parser.feed(std::string_view(data, n), on_event);
    return stream_error.empty();  // false: stop reading
  };

  r.start_s = seconds_since(t0);
  const httplib::Result res = cli.send(req);
  now = seconds_since(t0);
  r.end_s = now;
  if (!stream_error.empty()) {
    r.error = stream_error;
    return r;
  }
  if (status == 0) {  // no answer at all
    r.error = connection_error(t, res.error());
    return r;
  }
  if (status != 200) {
    r.error = http_error(status, error_body);
    return r;
  }
  if (res) parser.finish(on_event);
  if (!stream_error.empty()) {
    r.error = stream_error;
  } else if (!res) {
    r.error = fmt::format("the stream broke off after {} chunks ({})", r.chunk_s.size(), httplib::to_string(res.error()));
  } else if (r.chunk_s.empty()) {
    r.error = fmt::format("no streamed chunk with choices in the answer (Content-Type: {})",
                          content_type.empty() ? "none" : content_type);
  } else if (!done) {
    r.error = "the stream ended without 'data: [DONE]'";
  } else {
    r.success = true;
  }
  return r;
}

// ---- the server's model and tokenizer ----------------------------------------

std::string first_model(httplib::Client& cli, const Target& t, const std::string& api_key) {
  const httplib::Result res = cli.Get((t.base + "/v1/models").c_str(), base_headers(api_key));
  if (!res) throw ServingError(connection_error(t, res.error()));
  if (res->status != 200)
    throw ServingError(fmt::format("GET {}/v1/models: {} (name the model with -m)", t.url, http_error(res->status, res->body)));
  const json j = json::parse(res->body, nullptr, false);
  if (j.is_object())
    if (auto d = j.find("data"); d != j.end() && d->is_array() && !d->empty() && (*d)[0].is_object())
      if (auto id = (*d)[0].find("id"); id != (*d)[0].end() && id->is_string()) return id->get<std::string>();
  throw ServingError(fmt::format("GET {}/v1/models listed no model: '{}' (name the model with -m)", t.url, clip(res->body)));
}

// POST /tokenize (scout serve's and llama-server's): the token ids of a long
// random text, for exact prompt lengths. A server without it: approximate text.
PromptSource prompt_source(httplib::Client& cli, const Target& t, const ServingOptions& o,
                           const std::function<void(const std::string&)>& log) {
  PromptSource src;
  std::mt19937_64 rng(mix_seed(o.seed, ~uint64_t{0}, 0));
  const int64_t words = o.input_len + 2048;
  const std::string text = random_words(rng, words);
  const std::string body = json{{"content", text}, {"add_special", false}}.dump();
  httplib::Headers h = base_headers(o.api_key);
  const httplib::Result res = cli.Post((t.base + "/tokenize").c_str(), h, body, "application/json");
  if (!res) throw ServingError(connection_error(t, res.error()));
  if (res->status == 200) {
    const json j = json::parse(res->body, nullptr, false);
    if (j.is_object())
      if (auto tok = j.find("tokens"); tok != j.end() && tok->is_array()) {
        for (const json& x : *tok) {
          if (x.is_number_integer()) src.pool.push_back(x.get<int32_t>());
          else if (x.is_object() && x.contains("id") && x["id"].is_number_integer()) src.pool.push_back(x["id"].get<int32_t>());
        }
      }
  }
  if (!src.pool.empty()) {
    src.token_ids = true;
    src.words_per_token = static_cast<double>(words) / static_cast<double>(src.pool.size());
  } else if (log) {
    log(fmt::format("POST /tokenize did not answer with tokens ({}): prompts are {} random words, about as many tokens",
                    res->status == 200 ? "no \"tokens\" array" : http_error(res->status, res->body), o.input_len));
  }
  return src;
}

}  // namespace

// ---- SSE ----------------------------------------------------------------------

void SseParser::feed(std::string_view bytes, const Handler& on_event) {
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // the \n of a \r\n split from its \r, or not
    }
    if (c == '\n' || c == '\r') {
      after_cr_ = c == '\r';
      line(line_, on_event);
      line_.clear();
    } else {
      line_ += c;
    }
  }
}

void SseParser::finish(const Handler& on_event) {
  if (!line_.empty()) line(line_, on_event);
  line_.clear();
  after_cr_ = false;
  dispatch(on_event);
}

void SseParser::line(std::string_view text, const Handler& on_event) {
  if (text.empty()) {
    dispatch(on_event);
    return;
  }
  if (text.front() == ':') return;  // a comment (keep-alive)
  const size_t colon = text.find(':');
  const std::string_view field = text.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field != "data") return;  // event, id, retry: nothing a benchmark needs
  if (has_data_) data_ += '\n';
  data_.append(value);
  has_data_ = true;
}

void SseParser::dispatch(const Handler& on_event) {
  if (has_data_ && !data_.empty()) on_event(data_);
  data_.clear();
  has_data_ = false;
}

ServingEndpoint parse_serving_endpoint(const std::string& name) {
  if (name == "completions") return ServingEndpoint::Completions;
  if (name == "chat") return ServingEndpoint::Chat;
  throw std::invalid_argument(fmt::format("--endpoint: '{}' is not completions or chat", name));
}

std::string endpoint_path(ServingEndpoint e) {
  return e == ServingEndpoint::Completions ? "/v1/completions" : "/v1/chat/completions";
}

// ---- the run ------------------------------------------------------------------

ServingReport run_serving_bench(const ServingOptions& o) {
  if (o.concurrency.empty()) throw std::invalid_argument("--concurrency: no level");
  for (int64_t c : o.concurrency)
    if (c < 1) throw std::invalid_argument("--concurrency: at least 1");
  if (o.input_len < 1) throw std::invalid_argument("--input-len: at least 1");
  if (o.output_len < 1) throw std::invalid_argument("--output-len: at least 1");
  const auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  Target t;
  try {
    t = parse_url(o.url);
  } catch (const std::invalid_argument& e) {
    throw ServingError(e.what());
  }
  const std::unique_ptr<httplib::Client> cli = make_client(t, o.timeout_s);

  ServingReport rep;
  rep.url = o.url;
  rep.endpoint_path = endpoint_path(o.endpoint);
  rep.input_len = o.input_len;
  rep.output_len = o.output_len;
  rep.seed = o.seed;
  rep.model = o.model.empty() ? first_model(*cli, t, o.api_key) : o.model;
  const PromptSource src = prompt_source(*cli, t, o, log);
  rep.prompt_kind = o.endpoint == ServingEndpoint::Completions && src.token_ids ? "token ids" : "text";
  log(fmt::format("serving bench: model '{}' at {}{}, prompts of {} tokens ({}), up to {} output tokens", rep.model,
                  t.origin + t.base, rep.endpoint_path, o.input_len,
                  rep.prompt_kind == "token ids" ? "token ids"
                  : src.token_ids ? fmt::format("{:.2f} words per token", src.words_per_token)
                                  : "approximate: 1 word per token",
                  o.output_len));

  if (o.warmup) {
    const Prompt p = make_prompt(src, o.endpoint, o.input_len, mix_seed(o.seed, ~uint64_t{0}, 1));
    const RequestRecord r = stream_request(*cli, t, rep.endpoint_path,
                                           request_body(o, rep.model, p, std::min<int64_t>(o.output_len, 16)),
                                           o.api_key, Clock::now(), p.intended_tokens);
    if (!r.success) throw ServingError(fmt::format("the warm-up request to {}{} failed: {}", t.url, rep.endpoint_path, r.error));
  }

  for (size_t level = 0; level < o.concurrency.size(); ++level) {
    const int64_t c = o.concurrency[level];
    const int64_t n = o.num_prompts > 0 ? o.num_prompts : std::max<int64_t>(16, 4 * c);
    std::vector<std::string> bodies;
    std::vector<int64_t> intended;
    for (int64_t i = 0; i < n; ++i) {
      const Prompt p = make_prompt(src, o.endpoint, o.input_len, mix_seed(o.seed, level + 1, static_cast<uint64_t>(i)));
      bodies.push_back(request_body(o, rep.model, p, o.output_len));
      intended.push_back(p.intended_tokens);
    }
    log(fmt::format("concurrency {}: {} requests", c, n));
    std::vector<RequestRecord> records(static_cast<size_t>(n));
    std::atomic<int64_t> next{0};
    // Clients are made before the clock starts; each worker sends its next
    // request when its last one ended (at most c in flight).
    const auto workers = static_cast<size_t>(std::min(c, n));
    std::vector<std::unique_ptr<httplib::Client>> clients;
    for (size_t w = 0; w < workers; ++w) clients.push_back(make_client(t, o.timeout_s));
    const Clock::time_point t0 = Clock::now();
    const auto work = [&](httplib::Client& wc) {
      for (int64_t i = next++; i < n; i = next++) {
        const auto k = static_cast<size_t>(i);
        try {
          records[k] = stream_request(wc, t, rep.endpoint_path, bodies[k], o.api_key, t0, intended[k]);
        } catch (const std::exception& e) {
          records[k].success = false;
          records[k].error = e.what();
        }
      }
    };
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; ++w) threads.emplace_back(work, std::ref(*clients[w]));
    for (std::thread& th : threads) th.join();
    const double duration = seconds_since(t0);
    LevelMetrics m = compute_metrics(records, duration, c);
    log(fmt::format("concurrency {}: {}/{} completed in {:.2f} s, {:.2f} output tok/s, mean TTFT {:.1f} ms", c,
                    m.completed, n, duration, m.output_throughput, m.ttft.mean));
    for (const auto& [text, count] : m.errors) log(fmt::format("concurrency {}: {} failed: {}", c, count, text));
    rep.levels.push_back(std::move(m));
    rep.records.push_back(std::move(records));
  }
  return rep;
}

}  // namespace scout::bench
