// The batch runner with several jobs in flight: every job gets the text it
// gets when jobs run one at a time (greedy and seeded sampling, stop strings,
// different lengths, jobs that fail), and results come out in input order.
#include "batch/runner.h"

#include <gtest/gtest.h>

#include "models/model.h"
#include "test_util.h"

namespace scout::batch {
namespace {

using json = nlohmann::ordered_json;

std::vector<Job> make_jobs() {
  std::vector<Job> jobs;
  for (int i = 0; i < 11; ++i) {
    Job j;
    j.line = static_cast<size_t>(i + 1);
    j.id = "j" + std::to_string(i);
    j.prompt = "Job " + std::to_string(i) + std::string(static_cast<size_t>(i * 3), '~') + " says";
    j.overrides.max_tokens = 1 + (i * 7) % 23;  // finishing out of input order
    if (i % 3 == 0) j.overrides.temperature = 0.0f;
    if (i == 6) j.error = "not valid JSON: test";
    if (i == 8) j.prompt = std::string(200, 'x');  // does not fit the context
    jobs.push_back(std::move(j));
  }
  return jobs;
}

std::vector<json> run_all(const Model& model, const std::vector<Job>& jobs, uint32_t n_parallel) {
  engine::SessionOptions so;
  so.n_ctx = 128;
  so.n_threads = 1;
  RunDefaults d;
  d.sampler.seed = 42;
  Runner runner(model, so, d, n_parallel);
  EXPECT_EQ(runner.n_parallel(), n_parallel);
  std::vector<const Job*> todo;
  for (const Job& j : jobs) todo.push_back(&j);
  std::vector<json> out;
  runner.run(todo, [&](const json& r) { out.push_back(r); });
  return out;
}

TEST(BatchRunner, ParallelJobsGetTheTextTheyGetAlone) {
  const auto model = Model::load(test::default_model_path());
  std::vector<Job> jobs = make_jobs();
  // Job 3 (greedy) stops at a piece of the text it generates without a stop.
  const std::string free_text = run_all(*model, jobs, 1)[3]["text"];
  ASSERT_GE(free_text.size(), 6u);
  jobs[3].overrides.stop = std::vector<std::string>{"\x01never", free_text.substr(3, 3)};
  const std::vector<json> one = run_all(*model, jobs, 1);
  ASSERT_EQ(one.size(), jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(one[i]["id"], jobs[i].id);  // input order
  EXPECT_EQ(one[3]["finish_reason"], "stop");
  EXPECT_EQ(one[3]["text"], free_text.substr(0, free_text.find(free_text.substr(3, 3))));
  EXPECT_EQ(one[6]["error"], "not valid JSON: test");
  EXPECT_NE(one[8]["error"].get<std::string>().find("does not fit the context of 128"), std::string::npos);
  EXPECT_EQ(one[5]["completion_tokens"], 1 + 35 % 23);

  for (uint32_t n : {2u, 4u, 16u}) {
    const std::vector<json> par = run_all(*model, jobs, n);
    ASSERT_EQ(par.size(), jobs.size()) << n;
    for (size_t i = 0; i < jobs.size(); ++i) {
      EXPECT_EQ(par[i]["id"], jobs[i].id) << n;
      EXPECT_EQ(par[i].value("text", ""), one[i].value("text", "")) << "job " << i << ", parallel " << n;
      EXPECT_EQ(par[i].value("completion_tokens", -1), one[i].value("completion_tokens", -1)) << i;
      EXPECT_EQ(par[i].value("finish_reason", ""), one[i].value("finish_reason", "")) << i;
      EXPECT_EQ(par[i].value("error", ""), one[i].value("error", "")) << i;
    }
  }
}

// Prompts of several jobs share forward passes: with every job in flight at
// once, all five prompts (one of them shorter than a panel of 16 rows) go
// through one pass, and each job still gets exactly the text it gets alone.
// The default model's weights are Q8_0: on a CPU with AVX-512 VNNI the long
// prompts' rows take the panel kernels and the short one's the row kernels,
// as they do alone (and so do their experts' shares).
TEST(BatchRunner, PromptsOfSeveralJobsShareAPass) {
  const auto model = Model::load(test::default_model_path());
  std::vector<Job> jobs;
  for (int i = 0; i < 5; ++i) {
    Job j;
    j.line = static_cast<size_t>(i + 1);
    j.id = i;
    j.prompt_is_tokens = true;
    const int n = i == 4 ? 5 : 20 + 3 * i;  // the last one is short
    for (int t = 0; t < n; ++t) j.prompt_tokens.push_back(10 + (i * 37 + t * 11) % 200);
    j.overrides.max_tokens = 4 + i;
    j.overrides.temperature = 0.0f;
    jobs.push_back(std::move(j));
  }
  std::vector<const Job*> todo;
  for (const Job& j : jobs) todo.push_back(&j);
  engine::SessionOptions so;
  so.n_ctx = 64;
  so.n_threads = 1;
  auto run = [&](uint32_t n_parallel, Runner::Passes& passes) {
    Runner runner(*model, so, RunDefaults{}, n_parallel);
    std::vector<json> out;
    runner.run(todo, [&](const json& r) { out.push_back(r); });
    passes = runner.passes();
    return out;
  };
  Runner::Passes alone, together;
  const std::vector<json> one = run(1, alone);
  const std::vector<json> five = run(5, together);
  EXPECT_EQ(alone.prompt, 5u);
  EXPECT_EQ(together.prompt, 1u);
  EXPECT_EQ(together.decode, 8u);  // one per token of the longest job (8)
  ASSERT_EQ(five.size(), jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(five[i]["id"], jobs[i].id);
    EXPECT_EQ(five[i]["prompt_tokens"], jobs[i].prompt_tokens.size()) << i;
    EXPECT_EQ(five[i]["completion_tokens"], 4 + i) << i;
    EXPECT_EQ(five[i]["text"], one[i]["text"]) << i;
  }
}

TEST(BatchRunner, OneJobOnItsOwn) {
  const auto model = Model::load(test::default_model_path());
  engine::SessionOptions so;
  so.n_ctx = 64;
  so.n_threads = 1;
  Runner runner(*model, so, RunDefaults{}, 3);
  Job j;
  j.id = 7;
  j.prompt = "Hello";
  j.overrides.max_tokens = 5;
  const json r = runner.run(j);
  EXPECT_EQ(r["id"], 7);
  EXPECT_EQ(r["completion_tokens"], 5);
  EXPECT_EQ(r["prompt_tokens"], 6);  // BOS + 5 bytes
}

}  // namespace
}  // namespace scout::batch
