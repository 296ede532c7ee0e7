// `scout bench --url`: the SSE framing, and whole runs against a fake
// OpenAI-compatible server (cpp-httplib) that streams canned chunks with known
// delays. Timing assertions are lower bounds and orderings only: the machine
// may be busy. (The metrics on hand-made records: serving_metrics_test.cpp.)
#ifdef SCOUT_HAVE_HTTP

#include "bench/serving_bench.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace scout::bench {
namespace {

using json = nlohmann::json;

// ---- SSE framing ----------------------------------------------------------------

std::vector<std::string> parse_in_pieces(const std::string& stream, const std::vector<size_t>& cuts) {
  std::vector<std::string> events;
  SseParser p;
  const SseParser::Handler h = [&](std::string_view d) { events.emplace_back(d); };
  size_t at = 0;
  for (size_t cut : cuts) {
    p.feed(std::string_view(stream).substr(at, cut - at), h);
    at = cut;
  }
  p.feed(std::string_view(stream).substr(at), h);
  p.finish(h);
  return events;
}

const std::string kStream =
    "data: a\r\n\r\n"          // CRLF
    "data: b\n: keep-alive comment\ndata: c\n\n"  // two data lines join with \n; comments skipped
    "event: x\nid: 7\ndata:d\r\r"                 // CR alone; no space after the colon
    "retry: 10\n\n"                               // an event with no data: nothing
    "data: {\"choices\":[]}\n\n"
    "data: [DONE]\n\n"
    "data: tail";  // no newline at the end: finish() dispatches it
const std::vector<std::string> kEvents = {"a", "b\nc", "d", "{\"choices\":[]}", "[DONE]", "tail"};

TEST(SseParser, WholeStream) { EXPECT_EQ(parse_in_pieces(kStream, {}), kEvents); }

TEST(SseParser, SplitAnywhereGivesTheSameEvents) {
  for (size_t i = 0; i <= kStream.size(); ++i) {
    EXPECT_EQ(parse_in_pieces(kStream, {i}), kEvents) << "cut at " << i;
    for (size_t j = i; j <= kStream.size(); j += 3) EXPECT_EQ(parse_in_pieces(kStream, {i, j}), kEvents);
  }
}

TEST(SseParser, ByteByByte) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < kStream.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(parse_in_pieces(kStream, cuts), kEvents);
}

TEST(SseParser, CrLfSplitBetweenCrAndLfIsOneLineEnd) {
  // "\r" | "\n\r\n": one line end then a blank line, not two blank lines.
  const std::string s = "data: x\r\ndata: y\r\n\r\n";
  for (size_t i = 0; i <= s.size(); ++i)
    EXPECT_EQ(parse_in_pieces(s, {i}), std::vector<std::string>{"x\ny"}) << "cut at " << i;
}

// ---- a fake server -----------------------------------------------------------------

enum class Mode { Ok, Http500, Malformed, NoDone, ErrorEvent };

// Streams `tokens` chunks (at most max_tokens): the first after first_delay_ms,
// the others gap_ms apart, the first event cut in two writes; completions
// then send the finish reason in a chunk of its own; then a usage chunk and
// [DONE]. Chat streams use \r\n line ends and announce the role first.
class FakeServer {
 public:
  int first_delay_ms = 60, gap_ms = 10, tokens = 5;
  bool usage = true, tokenize = true;
  std::string api_key;                                 // required when not empty
  std::function<Mode(int)> mode = [](int) { return Mode::Ok; };  // by generation request number, from 0
  std::atomic<int> generations{0};

  FakeServer() {
    svr_.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      res.set_content(R"({"object":"list","data":[{"id":"fake-model","object":"model"}]})", "application/json");
    });
    svr_.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
      if (!tokenize) {
        res.status = 404;
        res.set_content(R"({"error":{"message":"no such route"}})", "application/json");
        return;
      }
      // One token per word: ids 100, 101, ... by position.
      const json body = json::parse(req.body);
      const std::string text = body.at("content").get<std::string>();
      json ids = json::array();
      int32_t next = 100;
      bool in_word = false;
      for (char c : text) {
        if (c != ' ' && !in_word) ids.push_back(next++ % 1000 + 100);
        in_word = c != ' ';
      }
      res.set_content(json{{"tokens", ids}}.dump(), "application/json");
    });
    svr_.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { generate(req, res, false); });
    svr_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { generate(req, res, true); });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeServer() {
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (api_key.empty() || req.get_header_value("Authorization") == "Bearer " + api_key) return true;
    res.status = 401;
    res.set_content(R"({"error":{"message":"bad api key","type":"invalid_request_error"}})", "application/json");
    return false;
  }

  void generate(const httplib::Request& req, httplib::Response& res, bool chat) {
    if (!authorized(req, res)) return;
    const Mode m = mode(generations++);
    if (m == Mode::Http500) {
      res.status = 500;
      res.set_content(R"({"error":{"message":"the fake failed","type":"server_error"}})", "application/json");
      return;
    }
    const json body = json::parse(req.body);
    EXPECT_EQ(body.at("stream"), true);
    EXPECT_EQ(body.at("model"), "fake-model");
    int64_t prompt_tokens = 0;
    if (chat) {
      const std::string text = body.at("messages").at(0).at("content").get<std::string>();
      prompt_tokens = 1 + static_cast<int64_t>(std::count(text.begin(), text.end(), ' '));
    } else {
      const json& p = body.at("prompt");
      prompt_tokens = p.is_array() ? static_cast<int64_t>(p.size()) : 1 + static_cast<int64_t>(std::count(p.get<std::string>().begin(), p.get<std::string>().end(), ' '));
    }
    const int n = static_cast<int>(std::min<int64_t>(tokens, body.at("max_tokens").get<int64_t>()));
    const int first = first_delay_ms, gap = gap_ms;
    const bool with_usage = usage;
    res.set_chunked_content_provider("text/event-stream", [=](size_t, httplib::DataSink& sink) {
      const std::string eol = chat ? "\r\n" : "\n";
      auto send = [&](const std::string& s) { sink.write(s.data(), s.size()); };
      if (chat) send("data: " + json{{"choices", {{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"finish_reason", nullptr}}}}}.dump() + eol + eol);
      std::this_thread::sleep_for(std::chrono::milliseconds(first));
      for (int k = 0; k < n; ++k) {
        if (k) std::this_thread::sleep_for(std::chrono::milliseconds(gap));
        if (m == Mode::Malformed && k == 1) {
          send("data: {\"choices\": [oops" + eol + eol);
          continue;
        }
        if (m == Mode::ErrorEvent && k == 1) {
          send("data: {\"error\":{\"message\":\"out of memory\"}}" + eol + eol);
          continue;
        }
        // Chat: the finish reason with the last token (vLLM's way); completions: in a chunk of its own (scout's).
        const json choice = chat ? json{{"index", 0}, {"delta", {{"content", "w"}}}, {"finish_reason", k + 1 == n ? json("length") : json(nullptr)}}
                                 : json{{"index", 0}, {"text", "w"}, {"finish_reason", nullptr}};
        const std::string event = "data: " + json{{"choices", {choice}}}.dump() + eol + eol;
        if (k == 0) {  // one event in two writes (two HTTP chunks)
          send(event.substr(0, 11));
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          send(event.substr(11));
        } else {
          send(event);
        }
      }
      if (!chat) {
        std::this_thread::sleep_for(std::chrono::milliseconds(gap));
        send("data: " + json{{"choices", {{{"index", 0}, {"text", ""}, {"finish_reason", "length"}}}}}.dump() + eol + eol);
      }
      if (with_usage)
        send("data: " + json{{"choices", json::array()}, {"usage", {{"prompt_tokens", prompt_tokens}, {"completion_tokens", n}, {"total_tokens", prompt_tokens + n}}}}.dump() + eol + eol);
      if (m != Mode::NoDone) send("data: [DONE]" + eol + eol);
      sink.done();
      return true;
    });
  }

  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
};

ServingOptions options_for(const FakeServer& s) {
  ServingOptions o;
  o.url = s.url();
  o.input_len = 12;
  o.output_len = 64;
  o.timeout_s = 30;
  return o;
}

void expect_sane(const LevelMetrics& m) {
  EXPECT_LE(m.ttft.median, m.ttft.p99 + 1e-9);
  EXPECT_LE(m.e2el.median, m.e2el.p99 + 1e-9);
  EXPECT_LE(m.ttft.mean, m.e2el.mean + 1e-9);
  EXPECT_GE(m.tpot.mean, 0.0);
  EXPECT_GE(m.itl.mean, 0.0);
  EXPECT_GT(m.duration_s, 0.0);
  EXPECT_NEAR(m.request_throughput, static_cast<double>(m.completed) / m.duration_s, 1e-9);
  EXPECT_NEAR(m.output_throughput, static_cast<double>(m.total_output_tokens) / m.duration_s, 1e-9);
}

TEST(ServingBench, CompletionsAgainstFakeServer) {
  FakeServer s;
  ServingOptions o = options_for(s);
  o.concurrency = {1, 4};
  o.num_prompts = 8;
  const ServingReport rep = run_serving_bench(o);
  EXPECT_EQ(rep.model, "fake-model");  // the first of /v1/models
  EXPECT_EQ(rep.prompt_kind, "token ids");
  EXPECT_EQ(s.generations.load(), 1 + 2 * 8);  // the warm-up, then every prompt of both levels
  ASSERT_EQ(rep.levels.size(), 2u);
  const double first_s = s.first_delay_ms / 1e3, whole_s = (s.first_delay_ms + (s.tokens - 1) * s.gap_ms) / 1e3;
  for (size_t l = 0; l < 2; ++l) {
    const LevelMetrics& m = rep.levels[l];
    EXPECT_EQ(m.concurrency, o.concurrency[l]);
    EXPECT_EQ(m.num_prompts, 8);
    EXPECT_EQ(m.completed, 8);
    EXPECT_EQ(m.failed, 0);
    EXPECT_EQ(m.total_input_tokens, 8 * 12);  // usage's prompt_tokens: exactly --input-len token ids
    EXPECT_EQ(m.total_output_tokens, 8 * 5);
    EXPECT_EQ(m.tpot.count, 8u);
    EXPECT_EQ(m.itl.count, 8u * 4);
    EXPECT_GE(m.ttft.mean, s.first_delay_ms * 0.999);
    expect_sane(m);
    for (const RequestRecord& r : rep.records[l]) {
      EXPECT_TRUE(r.success) << r.error;
      EXPECT_EQ(r.chunk_s.size(), 5u);
      EXPECT_EQ(r.output_tokens, 5);
      EXPECT_EQ(r.finish_reason, "length");
      EXPECT_GE(r.chunk_s.front() - r.start_s, first_s * 0.999);
      EXPECT_GE(r.chunk_s.back() - r.start_s, whole_s * 0.999);
      EXPECT_GE(r.end_s, r.chunk_s.back());
    }
  }
  // One at a time: 8 requests end to end at least; four at a time cannot be slower than 2 rounds.
  EXPECT_GE(rep.levels[0].duration_s, 8 * whole_s * 0.999);
  EXPECT_GE(rep.levels[1].duration_s, 2 * whole_s * 0.999);
  EXPECT_EQ(rep.base(), &rep.levels[0]);

  const std::string md = serving_markdown(rep);
  EXPECT_NE(md.find("| concurrency |"), std::string::npos) << md;
  EXPECT_NE(md.find("TTFT median"), std::string::npos) << md;
  EXPECT_NE(md.find("relative to concurrency 1: c=1 x1.00, c=4 x"), std::string::npos) << md;
  const auto j = serving_json(rep);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["max_concurrency"], 4);
  EXPECT_EQ(j[1]["completed"], 8);
  EXPECT_DOUBLE_EQ(j[0]["output_throughput_scaling"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j[1]["mean_ttft_ms"].get<double>(), rep.levels[1].ttft.mean);
  const std::string csv = serving_csv(rep);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);
  EXPECT_EQ(csv.rfind("url,model_id,endpoint,", 0), 0u) << csv;
}

TEST(ServingBench, ChatWithApiKeyAndNoTokenizeOrUsage) {
  FakeServer s;
  s.api_key = "sekrit";
  s.usage = false;      // output tokens: the chunks with text
  s.tokenize = false;   // prompts: words
  ServingOptions o = options_for(s);
  o.endpoint = ServingEndpoint::Chat;
  o.api_key = "sekrit";
  o.concurrency = {2};
  o.num_prompts = 3;
  o.output_len = 4;  // the fake stops at max_tokens
  const ServingReport rep = run_serving_bench(o);
  EXPECT_EQ(rep.endpoint_path, "/v1/chat/completions");
  EXPECT_EQ(rep.prompt_kind, "text");
  ASSERT_EQ(rep.levels.size(), 1u);
  const LevelMetrics& m = rep.levels[0];
  EXPECT_EQ(m.completed, 3);
  EXPECT_EQ(m.failed, 0);
  EXPECT_EQ(m.total_output_tokens, 3 * 4);
  EXPECT_EQ(m.total_input_tokens, 3 * 12);  // no usage: the intended length
  // The role chunk comes at once; the first token only after the delay.
  EXPECT_GE(m.ttft.mean, s.first_delay_ms * 0.999);
  for (const RequestRecord& r : rep.records[0]) {
    EXPECT_EQ(r.chunk_s.size(), 4u);
    EXPECT_EQ(r.output_tokens, -1);
    EXPECT_GE(r.chunk_s.front() - r.start_s, s.first_delay_ms / 1e3 * 0.999);
  }
  expect_sane(m);

  o.api_key = "wrong";
  try {
    run_serving_bench(o);
    FAIL() << "a refused key should stop the run";
  } catch (const ServingError& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 401: bad api key"), std::string::npos) << e.what();
  }
}

struct FailureCase {
  Mode mode;
  std::string error;
};

TEST(ServingBench, FailedRequestsAreCountedAndTheRunGoesOn) {
  for (const FailureCase& fc : {FailureCase{Mode::Http500, "HTTP 500: the fake failed"},
                                FailureCase{Mode::Malformed, "malformed SSE event"},
                                FailureCase{Mode::ErrorEvent, "error in the stream: out of memory"},
                                FailureCase{Mode::NoDone, "without 'data: [DONE]'"}}) {
    FakeServer s;
    s.first_delay_ms = 1;
    s.gap_ms = 1;
    const Mode bad = fc.mode;
    s.mode = [bad](int i) { return i % 2 == 1 ? bad : Mode::Ok; };  // 0 (the warm-up) succeeds
    ServingOptions o = options_for(s);
    o.num_prompts = 6;
    const ServingReport rep = run_serving_bench(o);  // one at a time: requests 1..6 alternate
    ASSERT_EQ(rep.levels.size(), 1u);
    const LevelMetrics& m = rep.levels[0];
    EXPECT_EQ(m.completed, 3);
    EXPECT_EQ(m.failed, 3);
    ASSERT_EQ(m.errors.size(), 1u);
    EXPECT_NE(m.errors.begin()->first.find(fc.error), std::string::npos) << m.errors.begin()->first;
    EXPECT_EQ(m.errors.begin()->second, 3);
    EXPECT_EQ(m.total_output_tokens, 3 * 5);
    EXPECT_EQ(serving_json(rep)[0]["errors"].size(), 1u);
  }
}

TEST(ServingBench, AFailingWarmUpStopsTheRun) {
  FakeServer s;
  s.mode = [](int) { return Mode::Http500; };
  ServingOptions o = options_for(s);
  try {
    run_serving_bench(o);
    FAIL() << "expected a ServingError";
  } catch (const ServingError& e) {
    EXPECT_NE(std::string(e.what()).find("warm-up request"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("HTTP 500"), std::string::npos) << e.what();
  }
  EXPECT_EQ(s.generations.load(), 1);
}

TEST(ServingBench, UnreachableUrl) {
  ServingOptions o;
  o.url = "http://127.0.0.1:1";  // nothing listens on port 1
  try {
    run_serving_bench(o);
    FAIL() << "expected a ServingError";
  } catch (const ServingError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot reach http://127.0.0.1:1"), std::string::npos) << e.what();
  }
  o.url = "ftp://127.0.0.1:1";
  EXPECT_THROW(run_serving_bench(o), ServingError);
}

// ---- the CLI ----------------------------------------------------------------------

TEST(ServingBenchCli, JsonAndTable) {
  FakeServer s;
  s.first_delay_ms = 5;
  s.gap_ms = 1;
  const test::CommandResult j = test::run_scout({"bench", "--url", s.url() + "/v1/", "--concurrency", "1,2", "--num-prompts",
                                                 "3", "--input-len", "8", "--output-len", "4", "-o", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const json rows = json::parse(j.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["max_concurrency"], 2);
  EXPECT_EQ(rows[1]["completed"], 3);
  EXPECT_EQ(rows[1]["total_output_tokens"], 12);
  EXPECT_EQ(rows[0]["total_input_tokens"], 24);

  const test::CommandResult md = test::run_scout({"bench", "--url", s.url(), "--endpoint", "chat", "--num-prompts", "2",
                                                  "--input-len", "8", "--output-len", "3", "-m", "fake-model"});
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("relative to concurrency 1: c=1 x1.00"), std::string::npos) << md.out;
}

TEST(ServingBenchCli, Errors) {
  const test::CommandResult down = test::run_scout({"bench", "--url", "http://127.0.0.1:1"});
  EXPECT_EQ(down.exit_code, 2);
  EXPECT_NE(down.err.find("scout: error: cannot reach http://127.0.0.1:1"), std::string::npos) << down.err;
  EXPECT_EQ(std::count(down.err.begin(), down.err.end(), '\n'), 1) << down.err;

  const test::CommandResult mixed = test::run_scout({"bench", "--url", "http://127.0.0.1:1", "-p", "64"});
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.err.find("--n-prompt"), std::string::npos) << mixed.err;

  const test::CommandResult no_url = test::run_scout({"bench", "--concurrency", "4"});
  EXPECT_EQ(no_url.exit_code, 2);
  EXPECT_NE(no_url.err.find("--concurrency is a flag of the serving benchmark"), std::string::npos) << no_url.err;

  const test::CommandResult bad_list = test::run_scout({"bench", "--url", "http://127.0.0.1:1", "--concurrency", "1,x"});
  EXPECT_EQ(bad_list.exit_code, 2);
  EXPECT_NE(bad_list.err.find("--concurrency: 'x'"), std::string::npos) << bad_list.err;
}

}  // namespace
}  // namespace scout::bench

#endif  // SCOUT_HAVE_HTTP
