// Images in server requests (image_url content parts with data: URIs): the
// greedy answer equals `scout run --image`'s, a repeated image is found in a
// slot's cache, and what the server refuses to read.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/vision_flags.h"
#include "vision/media_prompt.h"
#include "server/scheduler.h"
#include "test_util.h"

namespace scout::server {
namespace {

using namespace std::chrono_literals;

std::string tiny_model() { return test::shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf"; }
std::string mmproj() { return test::vision_oracle_dir() + "mmproj-llama4-vision-tiny-f16.gguf"; }
std::string grad() { return test::vision_oracle_dir() + "images/grad-256x192.png"; }

struct Answer {
  std::string text, error;
  int status = 0;
  Usage usage;
};

Answer answer(Job& job) {
  Answer a;
  for (;;) {
    std::optional<Event> e = job.next(120s);
    if (!e) {
      ADD_FAILURE() << "no event";
      break;
    }
    if (e->kind == Event::Kind::Error) {
      a.error = e->error;
      a.status = e->status;
      break;
    }
    a.text += e->text;
    if (e->kind == Event::Kind::Done) break;
  }
  a.usage = job.usage();
  return a;
}

CompletionRequest ask(const std::string& image_url, const std::string& question) {
  CompletionRequest r;
  r.messages = {{"user", std::string(vision::kMediaMarker) + question, {image_url}}};
  r.max_tokens = 6;
  r.temperature = 0.0f;
  return r;
}

TEST(SchedulerVision, AnImageAnswersAsScoutRunDoesAndIsReused) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  const test::CommandResult run =
      test::run_scout({"run", "-m", tiny_model(), "--mmproj", mmproj(), "--image", grad(), "-p", "Describe this image.",
                       "--temp", "0", "-n", "6", "--json", "-t", "2", "-c", "2048"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const nlohmann::json want = nlohmann::json::parse(run.out);

  const auto model = Model::load(tiny_model());
  const auto projector = cli::open_projector(*model, mmproj(), 2);
  SchedulerOptions o;
  o.n_parallel = 2;
  o.projector = projector.get();
  engine::SessionOptions so;
  so.n_ctx = 2048;
  so.n_threads = 2;
  Scheduler s(*model, so, o, nullptr);
  const std::string uri = "data:image/png;base64," + test::base64(test::read_file(grad()));

  const Answer first = answer(*s.submit(ask(uri, "Describe this image.")));
  ASSERT_TRUE(first.error.empty()) << first.error;
  EXPECT_EQ(first.text, want["text"].get<std::string>());
  EXPECT_EQ(first.usage.prompt_tokens, static_cast<int64_t>(want["prompt_ids"].size()));
  // The same image with another question: its rows come from the slot.
  const Answer second = answer(*s.submit(ask(uri, "What colour is it?")));
  ASSERT_TRUE(second.error.empty()) << second.error;
  EXPECT_GT(second.usage.cached_tokens, 144);

  // Paths and URLs are not read; a broken image is the request's 400.
  EXPECT_EQ(answer(*s.submit(ask(grad(), "Hi"))).status, 400);
  EXPECT_EQ(answer(*s.submit(ask("https://example.com/a.png", "Hi"))).status, 400);
  EXPECT_EQ(answer(*s.submit(ask("data:image/png;base64,iVBORw0KGgoAAAAN", "Hi"))).status, 400);
}

TEST(SchedulerVision, ImagesWithoutAProjectorAreRefused) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  const auto model = Model::load(tiny_model());
  engine::SessionOptions so;
  so.n_ctx = 512;
  so.n_threads = 1;
  Scheduler s(*model, so, SchedulerOptions{}, nullptr);
  const Answer a = answer(*s.submit(ask("data:image/png;base64,AAAA", "Hi")));
  EXPECT_EQ(a.status, 400);
  EXPECT_NE(a.error.find("--mmproj"), std::string::npos) << a.error;
}

}  // namespace
}  // namespace scout::server
