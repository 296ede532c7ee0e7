// The server's scheduler without HTTP: requests running together (continuous
// batching, chunked prefill) get the text each gets alone and the text
// engine::generate gives (what `scout run` prints); a prompt that extends what
// a slot holds reuses it; the KV budget, the queue bound, cancellation, n > 1,
// too-long prompts and shutdown.
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <thread>

#include "chat/chat_prompt.h"
#include "chat/turn_end_tokenizer.h"
#include "engine/generate.h"
#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "models/model.h"
#include "test_util.h"

namespace scout::server {
namespace {

using namespace std::chrono_literals;

struct Outcome {
  bool started = false;
  std::vector<std::string> text;
  std::vector<std::string> finish;
  std::string error;
  int status = 0;
  std::string code;
  Usage usage;
};

Outcome collect(Job& job, uint32_t n = 1) {
  Outcome o;
  o.text.resize(n);
  o.finish.resize(n);
  for (uint32_t done = 0; done < n;) {
    std::optional<Event> e = job.next(60s);
    if (!e) {
      ADD_FAILURE() << "no event within 60 s";
      break;
    }
    if (e->kind == Event::Kind::Started) o.started = true;
    if (e->kind == Event::Kind::Error) {
      o.error = e->error;
      o.status = e->status;
      o.code = e->code;
      break;
    }
    if (e->kind == Event::Kind::Text || e->kind == Event::Kind::Done) o.text.at(e->index) += e->text;
    if (e->kind == Event::Kind::Done) {
      o.finish.at(e->index) = e->finish_reason;
      ++done;
    }
  }
  o.usage = job.usage();
  return o;
}

CompletionRequest completion(const std::string& prompt, int64_t max_tokens) {
  CompletionRequest r;
  r.endpoint = Endpoint::Completions;
  r.prompt = prompt;
  r.max_tokens = max_tokens;
  r.temperature = 0.0f;
  return r;
}

CompletionRequest chat(const std::vector<chat::Message>& messages, int64_t max_tokens) {
  CompletionRequest r;
  r.endpoint = Endpoint::ChatCompletions;
  r.messages = messages;
  r.max_tokens = max_tokens;
  r.temperature = 0.0f;
  return r;
}

engine::SessionOptions session_options() {
  engine::SessionOptions so;
  so.n_ctx = 256;
  so.n_threads = 1;
  so.n_batch = 32;  // long prompts take several steps, interleaved with other requests' tokens
  return so;
}

// The default preset with f16 weights: the float matmul path gives a row the
// same bits whatever its pass holds, so a request whose prompt reuses a slot's
// KV (its pieces cut elsewhere) must still give exactly the fresh text, on
// every CPU (quantized weights meet that only where one kernel serves every
// pass size: not on AVX-512 VNNI, whose panel kernels take passes of 16 rows on).
class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nlohmann::json config = maker::preset_json("default");
    config["weight_type"] = "f16";
    maker::make_model(maker::parse_model_config(config), 1, dir_.path("m.gguf"));
    model_ = Model::load(dir_.path("m.gguf"));
  }

  std::unique_ptr<Scheduler> make(uint32_t parallel, SchedulerOptions o = {}) {
    o.n_parallel = parallel;
    return std::make_unique<Scheduler>(*model_, session_options(), o, nullptr);
  }
  // What `scout run -p PROMPT --temp 0 -n N` generates: engine::generate on a fresh session.
  std::string alone(const std::string& prompt, int64_t n) {
    engine::SessionOptions so = session_options();
    engine::Session s(*model_, so);
    auto tok = tokenizer::Tokenizer::from_gguf(model_->file());
    engine::GenerateOptions go;
    go.max_tokens = n;
    go.sampler.temperature = 0;
    return engine::generate(s, *tok, tok->encode(prompt, tok->add_bos(), false), go).text;
  }

  test::TempDir dir_;
  std::unique_ptr<Model> model_;
};

TEST_F(SchedulerTest, RequestsTogetherGetTheTextEachGetsAlone) {
  std::vector<CompletionRequest> reqs;
  for (int i = 0; i < 7; ++i)
    reqs.push_back(completion("Request " + std::to_string(i) + std::string(static_cast<size_t>(i * 11), '~'),
                              3 + (i * 5) % 17));
  reqs.push_back(chat({{"system", "Be brief."}, {"user", "Hello there"}}, 12));
  std::vector<Outcome> serial;
  {
    auto s = make(1);
    for (const CompletionRequest& r : reqs) serial.push_back(collect(*s->submit(r)));
  }
  for (size_t i = 0; i + 1 < reqs.size(); ++i) {
    EXPECT_EQ(serial[i].text[0], alone(reqs[i].prompt, *reqs[i].max_tokens)) << i;
    EXPECT_EQ(serial[i].finish[0], "length") << i;
    EXPECT_EQ(serial[i].usage.completion_tokens, *reqs[i].max_tokens) << i;
  }
  for (uint32_t parallel : {3u, 8u}) {
    auto s = make(parallel);
    std::vector<std::shared_ptr<Job>> jobs;
    for (const CompletionRequest& r : reqs) jobs.push_back(s->submit(r));
    for (size_t i = 0; i < reqs.size(); ++i) {
      const Outcome o = collect(*jobs[i]);
      EXPECT_TRUE(o.started);
      EXPECT_EQ(o.text[0], serial[i].text[0]) << "request " << i << ", parallel " << parallel;
      EXPECT_EQ(o.usage.prompt_tokens, serial[i].usage.prompt_tokens) << i;
    }
  }
}

TEST_F(SchedulerTest, APromptExtendingWhatASlotHoldsReusesIt) {
  auto s = make(2);
  const std::string base = "A long shared document " + std::string(120, '=');
  const Outcome first = collect(*s->submit(completion(base + " Q1", 8)));
  EXPECT_EQ(first.usage.cached_tokens, 0);
  const Outcome second = collect(*s->submit(completion(base + " Q2?", 8)));
  // The document's tokens (BOS + bytes) were there already.
  EXPECT_GE(second.usage.cached_tokens, static_cast<int64_t>(base.size()));
  EXPECT_LT(second.usage.cached_tokens, second.usage.prompt_tokens);
  EXPECT_EQ(second.text[0], alone(base + " Q2?", 8));
  // The very same prompt again: everything but the last position is reused.
  const Outcome again = collect(*s->submit(completion(base + " Q2?", 8)));
  EXPECT_EQ(again.usage.cached_tokens, again.usage.prompt_tokens - 1);
  EXPECT_EQ(again.text[0], second.text[0]);
}

TEST_F(SchedulerTest, AChatGrowingByATurnEvaluatesOnlyTheNewTurn) {
  auto s = make(1);
  std::vector<chat::Message> conv = {{"user", "Tell me something."}};
  const Outcome one = collect(*s->submit(chat(conv, 10)));
  conv.push_back({"assistant", one.text[0]});
  conv.push_back({"user", "And then?"});
  const Outcome two = collect(*s->submit(chat(conv, 10)));
  EXPECT_GT(two.usage.cached_tokens, one.usage.prompt_tokens - 1);
  // The same conversation on a fresh scheduler: the same answer, nothing cached.
  auto fresh = make(1);
  const Outcome ref = collect(*fresh->submit(chat(conv, 10)));
  EXPECT_EQ(ref.usage.cached_tokens, 0);
  EXPECT_EQ(two.text[0], ref.text[0]);
}

TEST_F(SchedulerTest, TheKvBudgetQueuesOrRefuses) {
  SchedulerOptions o;
  // Enough for one request at a time, not two (a block holds 256 positions: the whole context).
  engine::Session sizing(*model_, session_options());
  o.kv_budget = sizing.kv_cache().bytes_for(70);
  ASSERT_LT(o.kv_budget, 2 * sizing.kv_cache().bytes_for(1));
  auto s = make(2, o);
  auto a = s->submit(completion("first request", 40));
  auto b = s->submit(completion("second request", 40));
  const Outcome oa = collect(*a), ob = collect(*b);
  EXPECT_EQ(oa.text[0], alone("first request", 40));
  EXPECT_EQ(ob.text[0], alone("second request", 40));
  // A request whose worst case can never fit is refused up front.
  o.kv_budget = sizing.kv_cache().bytes_for(1) - 1;
  auto tight = make(2, o);
  const Outcome big = collect(*tight->submit(completion("too much", 200)));
  EXPECT_EQ(big.status, 400);
  EXPECT_NE(big.error.find("--kv-budget"), std::string::npos) << big.error;
}

TEST_F(SchedulerTest, TooLongPromptsAreRefusedNotCut) {
  auto s = make(1);
  const Outcome o = collect(*s->submit(completion(std::string(300, 'x'), 4)));
  EXPECT_FALSE(o.started);
  EXPECT_EQ(o.status, 400);
  EXPECT_EQ(o.code, "context_length_exceeded");
}

TEST_F(SchedulerTest, TheQueueIsBoundedAndCancellingFreesTheSlot) {
  SchedulerOptions o;
  o.max_queue = 1;
  auto s = make(1, o);
  auto running = s->submit(completion("runs until cancelled", -1));
  std::optional<Event> e = running->next(60s);
  ASSERT_TRUE(e && e->kind == Event::Kind::Started);
  auto waiting = s->submit(completion("waits", 3));
  EXPECT_THROW(
      {
        try {
          s->submit(completion("one too many", 3));
        } catch (const RequestError& err) {
          EXPECT_EQ(err.status, 503);
          throw;
        }
      },
      RequestError);
  running->cancel();
  const Outcome w = collect(*waiting);
  EXPECT_EQ(w.text[0], alone("waits", 3));
  // The state is published after each step: the slot shows idle right after.
  bool idle = false;
  for (int i = 0; i < 200 && !idle; ++i, std::this_thread::sleep_for(5ms)) idle = !s->state().slots.at(0).busy;
  EXPECT_TRUE(idle);
}

TEST_F(SchedulerTest, SeveralChoicesAndSeededSampling) {
  auto s = make(2);
  CompletionRequest r = completion("Pick a word:", 6);
  r.n = 3;
  r.temperature = 1.0f;
  r.seed = 7;
  const Outcome a = collect(*s->submit(r), 3);
  const Outcome b = collect(*s->submit(r), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a.finish[i], "length");
    EXPECT_EQ(a.text[i], b.text[i]) << "choice " << i << ": the same seed draws the same";
  }
  EXPECT_EQ(a.usage.completion_tokens, 18);
  EXPECT_TRUE(a.text[0] != a.text[1] || a.text[1] != a.text[2]) << "choices draw with seeds seed + i";
}

TEST_F(SchedulerTest, DrainingCancelsWhatIsLeftAtTheDeadline) {
  auto s = make(1);
  auto running = s->submit(completion("endless", -1));
  ASSERT_TRUE(running->next(60s));  // started
  s->drain(std::chrono::steady_clock::now());
  Outcome o = collect(*running);
  EXPECT_EQ(o.status, 503);
  EXPECT_THROW(s->submit(completion("late", 1)), RequestError);
}

}  // namespace
}  // namespace scout::server
