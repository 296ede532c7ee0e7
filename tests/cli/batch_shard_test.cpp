// `scout batch` split over processes and in the OpenAI Batch format, end to
// end: shards run side by side (one killed with SIGKILL and rerun) merge into
// exactly the unsharded run's output; the shard comes from Slurm's or
// Kubernetes' variables when --shard is absent; merge's refusals; Batch lines
// in and out, a bad line being that line's error. Default model, one thread.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "test_util.h"

namespace scout::test {
namespace {

using nlohmann::json;

// Sets environment variables for the scout processes this test starts; unsets them after.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {
    for (const auto& [k, v] : vars_) setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : vars_) unsetenv(k.c_str());
  }

 private:
  std::map<std::string, std::string> vars_;
};

// id -> text of a results file (scout format).
std::map<std::string, std::string> texts_by_id(const std::vector<json>& results) {
  std::map<std::string, std::string> m;
  for (const json& r : results) {
    EXPECT_FALSE(r.contains("error")) << r.dump();
    m[r["id"].get<std::string>()] = r.value("text", "");
  }
  return m;
}

const std::vector<std::string> kCommon = {"batch", "-t", "1", "-c", "128", "--temp", "0"};

std::vector<std::string> batch_args(std::vector<std::string> more) {
  std::vector<std::string> a = kCommon;
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

TEST(BatchShardCli, ConcurrentShardsWithAKilledOneMergeToTheUnshardedRun) {
  TempDir tmp;
  std::string in;
  for (int i = 0; i < 36; ++i) in += "{\"id\": \"s" + std::to_string(i) + "\", \"prompt\": \"Tale " + std::to_string(i) + ":\"}\n";
  write_text(tmp.path("in.jsonl"), in);
  const auto shard_args = [&](int k) {
    return batch_args({"-n", "48", "-i", tmp.path("in.jsonl"), "-o", tmp.path("out.{shard}.jsonl"), "--shard",
                       std::to_string(k) + "/3"});
  };
  std::vector<pid_t> pids;
  for (int k = 0; k < 3; ++k) pids.push_back(spawn_scout(shard_args(k), tmp.path("log" + std::to_string(k))));
  // Shard 1 is killed once it has written a few results.
  const std::string out1 = tmp.path("out.1-of-3.jsonl");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (count_lines(out1) < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(kill(pids[1], SIGKILL), 0);
  for (int k = 0; k < 3; ++k) {
    int status = 0;
    waitpid(pids[k], &status, 0);
    if (k == 1) ASSERT_TRUE(WIFSIGNALED(status)) << "shard 1 ended before it was killed:\n" << read_text(tmp.path("log1"));
    else ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_text(tmp.path("log" + std::to_string(k)));
    EXPECT_NE(read_text(tmp.path("log" + std::to_string(k))).find("shard " + std::to_string(k) + "-of-3 (--shard"),
              std::string::npos);
  }
  const size_t partial = count_lines(out1);
  // The rerun resumes from its own file.
  CommandResult r = run_scout(shard_args(1));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("skipping " + std::to_string(partial) + " done"), std::string::npos) << r.err;

  std::vector<std::string> merge = {"batch", "merge", "-i", tmp.path("in.jsonl"), "-o", tmp.path("merged.jsonl")};
  for (int k = 0; k < 3; ++k) merge.push_back(tmp.path("out." + std::to_string(k) + "-of-3.jsonl"));
  r = run_scout(merge);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("36 results from 3 shard files"), std::string::npos) << r.err;

  r = run_scout(batch_args({"-n", "48", "-i", tmp.path("in.jsonl"), "-o", tmp.path("whole.jsonl")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> merged = read_jsonl(tmp.path("merged.jsonl")), whole = read_jsonl(tmp.path("whole.jsonl"));
  ASSERT_EQ(merged.size(), 36u);
  for (int i = 0; i < 36; ++i) EXPECT_EQ(merged[i]["id"], "s" + std::to_string(i));  // input order
  EXPECT_EQ(texts_by_id(merged), texts_by_id(whole));

  // A shard file missing: merge names what is missing, writes nothing, exits 1.
  std::filesystem::remove(tmp.path("merged.jsonl"));
  merge.pop_back();
  r = run_scout(merge);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("in no shard file: \"s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("another shard count"), std::string::npos) << r.err;  // 3 shards' files as 2
  EXPECT_FALSE(std::filesystem::exists(tmp.path("merged.jsonl")));
}

TEST(BatchShardCli, ShardFromTheEnvironment) {
  TempDir tmp;
  std::string in;
  for (int i = 0; i < 8; ++i) in += "{\"id\": " + std::to_string(i) + ", \"prompt\": \"Hi " + std::to_string(i) + "\"}\n";
  write_text(tmp.path("in.jsonl"), in);
  const std::vector<std::string> args = batch_args({"-n", "4", "-i", tmp.path("in.jsonl"), "-o", tmp.path("out.jsonl")});
  {
    ScopedEnv env({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "2"}});
    const CommandResult r = run_scout(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("shard 1-of-2 (SLURM_ARRAY_TASK_ID=1"), std::string::npos) << r.err;
  }
  {
    ScopedEnv env({{"JOB_COMPLETION_INDEX", "0"}, {"SCOUT_SHARD_COUNT", "2"}});
    const CommandResult r = run_scout(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("shard 0-of-2 (JOB_COMPLETION_INDEX=0 of SCOUT_SHARD_COUNT=2)"), std::string::npos) << r.err;
    // --shard wins over the environment.
    const CommandResult all = run_scout(batch_args({"-n", "4", "-i", tmp.path("in.jsonl"), "-o", tmp.path("one.jsonl"),
                                                    "--shard", "0/1"}));
    ASSERT_EQ(all.exit_code, 0) << all.err;
    EXPECT_EQ(read_jsonl(tmp.path("one.jsonl")).size(), 8u);
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.path("out.jsonl")));  // the suffix goes before the extension
  const size_t a = read_jsonl(tmp.path("out.shard-0-of-2.jsonl")).size();
  const size_t b = read_jsonl(tmp.path("out.shard-1-of-2.jsonl")).size();
  EXPECT_EQ(a + b, 8u);
  const CommandResult m = run_scout({"batch", "merge", "-i", tmp.path("in.jsonl"), "-o", tmp.path("m.jsonl"),
                                     tmp.path("out.shard-0-of-2.jsonl"), tmp.path("out.shard-1-of-2.jsonl")});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const std::vector<json> merged = read_jsonl(tmp.path("m.jsonl"));
  ASSERT_EQ(merged.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(merged[i]["id"], i);
  {
    ScopedEnv env(std::map<std::string, std::string>{{"JOB_COMPLETION_INDEX", "0"}});  // no count: an error, not every pod running everything
    const CommandResult r = run_scout(args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("SCOUT_SHARD_COUNT is not"), std::string::npos) << r.err;
  }
}

TEST(BatchShardCli, BadShardIsOneErrorLineExitTwo) {
  TempDir tmp;
  write_text(tmp.path("in.jsonl"), "{\"id\": 1, \"prompt\": \"x\"}\n");
  for (const char* bad : {"3/2", "0/0", "x"}) {
    const CommandResult r = run_scout(batch_args({"-i", tmp.path("in.jsonl"), "-o", tmp.path("o.jsonl"), "--shard", bad}));
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("scout: error: --shard"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.path("o.jsonl")));
  // merge needs its input, output and shard files.
  EXPECT_EQ(run_scout({"batch", "merge", "-i", tmp.path("in.jsonl"), "-o", tmp.path("m.jsonl")}).exit_code, 2);
}

TEST(BatchShardCli, OpenAIBatchFormat) {
  TempDir tmp;
  write_text(tmp.path("in.jsonl"),
             R"({"custom_id": "chat", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}})" "\n"
             R"({"custom_id": "text", "method": "POST", "url": "/v1/completions", "body": {"prompt": "Once upon", "max_tokens": 6}})" "\n"
             R"({"custom_id": "lp", "method": "POST", "url": "/v1/chat/completions", "body": {"messages": [{"role": "user", "content": "Yo"}], "max_tokens": 3, "logprobs": true, "top_logprobs": 2}})" "\n"
             R"({"custom_id": "emb", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}})" "\n"
             R"({"custom_id": "bad", "method": "POST", "url": "/v1/completions", "body": {"prompt": "x", "max_tokens": "many"}})" "\n"
             "{not json\n");
  CommandResult r = run_scout(batch_args({"-i", tmp.path("in.jsonl"), "-o", tmp.path("out.jsonl"), "-n", "9"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("6 done (3 errors)"), std::string::npos) << r.err;
  const std::vector<json> out = read_jsonl(tmp.path("out.jsonl"));
  ASSERT_EQ(out.size(), 6u);
  for (const json& o : out) {
    EXPECT_TRUE(o["id"].get<std::string>().starts_with("batch_req_")) << o.dump();
    EXPECT_TRUE(o.contains("response") && o.contains("error")) << o.dump();
  }
  EXPECT_NE(out[0]["id"], out[1]["id"]);

  const json& chat = out[0];
  EXPECT_EQ(chat["custom_id"], "chat");
  EXPECT_TRUE(chat["error"].is_null());
  EXPECT_EQ(chat["response"]["status_code"], 200);
  EXPECT_TRUE(chat["response"]["request_id"].is_string());
  const json& body = chat["response"]["body"];
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["model"], "tiny");
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(body["choices"][0]["message"]["content"].is_string());
  EXPECT_TRUE(body["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(body["usage"]["completion_tokens"], 5);
  EXPECT_EQ(body["usage"]["total_tokens"], body["usage"]["prompt_tokens"].get<int>() + 5);

  const json& text = out[1]["response"]["body"];
  EXPECT_EQ(text["object"], "text_completion");
  EXPECT_EQ(text["model"], "default");  // the model file's name when the body names none
  EXPECT_EQ(text["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(text["usage"]["completion_tokens"], 6);
  // The same text as scout's own format at temperature 0.
  write_text(tmp.path("scout.jsonl"), "{\"id\": \"text\", \"prompt\": \"Once upon\", \"max_tokens\": 6}\n");
  r = run_scout(batch_args({"-i", tmp.path("scout.jsonl"), "-o", tmp.path("scout_out.jsonl")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(text["choices"][0]["text"], read_jsonl(tmp.path("scout_out.jsonl"))[0]["text"]);

  const json& lp = out[2]["response"]["body"]["choices"][0]["logprobs"];
  ASSERT_EQ(lp["content"].size(), 3u);
  EXPECT_EQ(lp["content"][0]["top_logprobs"].size(), 2u);

  EXPECT_EQ(out[3]["custom_id"], "emb");
  EXPECT_EQ(out[3]["response"]["status_code"], 400);
  EXPECT_EQ(out[3]["error"]["code"], "invalid_url");
  EXPECT_NE(out[3]["response"]["body"]["error"]["message"].get<std::string>().find("/v1/embeddings"), std::string::npos);
  EXPECT_EQ(out[4]["custom_id"], "bad");
  EXPECT_EQ(out[4]["response"]["status_code"], 400);
  EXPECT_EQ(out[4]["response"]["body"]["error"]["param"], "max_tokens");
  EXPECT_TRUE(out[5]["custom_id"].is_null());
  EXPECT_EQ(out[5]["line"], 6);
  EXPECT_EQ(out[5]["error"]["code"], "invalid_json");

  // Resuming goes by custom_id.
  r = run_scout(batch_args({"-i", tmp.path("in.jsonl"), "-o", tmp.path("out.jsonl"), "-n", "9"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("nothing to do"), std::string::npos) << r.err;

  // --format scout reads the same lines as scout's objects: no "id", every line an error.
  r = run_scout(batch_args({"-i", tmp.path("in.jsonl"), "-o", tmp.path("as_scout.jsonl"), "--format", "scout"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_jsonl(tmp.path("as_scout.jsonl"))[0]["error"], "missing \"id\" (a string or an integer)");

  // A custom_id used twice: the run refuses, naming it.
  write_text(tmp.path("dup.jsonl"), read_text(tmp.path("in.jsonl")) +
                                        R"({"custom_id": "text", "url": "/v1/completions", "body": {"prompt": "again"}})" "\n");
  r = run_scout(batch_args({"-i", tmp.path("dup.jsonl"), "-o", tmp.path("dup_out.jsonl")}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("\"text\" (lines 2, 7)"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace scout::test
