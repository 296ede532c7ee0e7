// `scout batch` end to end: per-line errors in input order, resuming without
// recomputing, surviving kill -9 with no partial line (also with --parallel),
// text and directory inputs, chat messages, --parallel matching one at a
// time. Runs on the default model with one thread: fast
// anywhere, and fair to tests running beside it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "test_util.h"

namespace scout::test {
namespace {

using nlohmann::json;

CommandResult batch(std::vector<std::string> args) {
  args.insert(args.begin(), {"batch", "-t", "1", "-c", "128", "--seed", "5"});
  return run_scout(args);
}

TEST(BatchCli, ErrorsPerLineInInputOrder) {
  TempDir tmp;
  write_text(tmp.path("in.jsonl"),
             "{\"id\": \"a\", \"prompt\": \"Hello\"}\n"
             "{\"id\": \"b\", \"prompt\": \"broken\n"
             "{\"id\": \"c\", \"prompt\": \"" + std::string(300, 'x') + "\"}\n"
             "{\"id\": 4, \"prompt\": \"World\", \"max_tokens\": 3, \"temperature\": 0}\n"
             "{\"prompt\": \"no id\"}\n");
  CommandResult r = batch({"-i", tmp.path("in.jsonl"), "-o", tmp.path("out.jsonl"), "-n", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> out = read_jsonl(tmp.path("out.jsonl"));
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0]["id"], "a");
  EXPECT_EQ(out[0]["completion_tokens"], 8);
  EXPECT_EQ(out[0]["finish_reason"], "length");
  EXPECT_EQ(out[0]["prompt_tokens"], 6);  // BOS + 5 bytes
  EXPECT_EQ(out[0]["seed"], 5);
  EXPECT_TRUE(out[0]["text"].is_string());
  EXPECT_TRUE(out[0]["timings"].contains("generate_tokens_per_s"));
  EXPECT_TRUE(out[1]["id"].is_null());
  EXPECT_EQ(out[1]["line"], 2);
  EXPECT_NE(out[1]["error"].get<std::string>().find("not valid JSON"), std::string::npos);
  EXPECT_EQ(out[2]["id"], "c");
  EXPECT_NE(out[2]["error"].get<std::string>().find("does not fit the context of 128"), std::string::npos);
  EXPECT_EQ(out[3]["id"], 4);
  EXPECT_EQ(out[3]["completion_tokens"], 3);
  EXPECT_EQ(out[4]["line"], 5);
  EXPECT_NE(out[4]["error"].get<std::string>().find("missing \"id\""), std::string::npos);
  EXPECT_NE(r.err.find("5 done (3 errors)"), std::string::npos) << r.err;
}

TEST(BatchCli, ResumeSkipsWhatIsDone) {
  TempDir tmp;
  std::string in;
  for (int i = 1; i <= 5; ++i) in += "{\"id\": \"p" + std::to_string(i) + "\", \"prompt\": \"Prompt " + std::to_string(i) + "\"}\n";
  write_text(tmp.path("in.jsonl"), in);
  const std::vector<std::string> args = {"-i", tmp.path("in.jsonl"), "-o", tmp.path("out.jsonl"), "-n", "6"};
  ASSERT_EQ(batch(args).exit_code, 0);
  const std::string first_bytes = read_text(tmp.path("out.jsonl"));
  const std::vector<json> first = read_jsonl(tmp.path("out.jsonl"));
  ASSERT_EQ(first.size(), 5u);

  // All done: nothing recomputed, the file untouched.
  CommandResult r = batch(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("skipping 5 done of 5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing to do"), std::string::npos) << r.err;
  EXPECT_EQ(read_text(tmp.path("out.jsonl")), first_bytes);

  // Two results lost: only those two run again, and input order is kept.
  std::string three;
  for (int i = 0; i < 3; ++i) three += first[i].dump() + "\n";
  write_text(tmp.path("out.jsonl"), three);
  r = batch(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("skipping 3 done of 5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("batch: 2 done"), std::string::npos) << r.err;
  const std::vector<json> out = read_jsonl(tmp.path("out.jsonl"));
  ASSERT_EQ(out.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(out[i]["id"], "p" + std::to_string(i + 1));
    EXPECT_EQ(out[i]["text"], first[i]["text"]);  // same seed, same prompt, same text
  }

  // --no-resume starts afresh.
  std::vector<std::string> fresh = args;
  fresh.push_back("--no-resume");
  r = batch(fresh);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("skipping"), std::string::npos) << r.err;
  EXPECT_EQ(read_jsonl(tmp.path("out.jsonl")).size(), 5u);
}

TEST(BatchCli, RepairsATruncatedLastLine) {
  TempDir tmp;
  write_text(tmp.path("in.txt"), "one\ntwo\nthree\n");
  write_text(tmp.path("out.jsonl"), "{\"id\": 1, \"text\": \"earlier\"}\n{\"id\": 2, \"te");
  CommandResult r = batch({"-i", tmp.path("in.txt"), "--input-format", "text", "-o", tmp.path("out.jsonl"), "-n", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("removing a truncated last line"), std::string::npos) << r.err;
  const std::vector<json> out = read_jsonl(tmp.path("out.jsonl"));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]["text"], "earlier");
  EXPECT_EQ(out[1]["id"], 2);
  EXPECT_EQ(out[2]["id"], 3);
}

void kill_nine_and_resume(const std::string& parallel) {
  TempDir tmp;
  std::string in;
  for (int i = 1; i <= 30; ++i) in += "{\"id\": \"p" + std::to_string(i) + "\", \"prompt\": \"Story " + std::to_string(i) + ":\"}\n";
  write_text(tmp.path("in.jsonl"), in);
  const std::vector<std::string> args = {"batch", "-t", "1", "-c", "128", "--seed", "5", "-n", "64", "--parallel",
                                         parallel, "-i", tmp.path("in.jsonl"), "-o", tmp.path("out.jsonl")};

  const pid_t pid = spawn_scout(args, tmp.path("log"));
  ASSERT_GT(pid, 0);
  // Kill it once a few results are out, mid-run.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (count_lines(tmp.path("out.jsonl")) < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "scout batch ended before it was killed:\n" << read_text(tmp.path("log"));

  const std::vector<json> partial = read_jsonl(tmp.path("out.jsonl"));
  EXPECT_GE(partial.size(), 3u);
  EXPECT_LT(partial.size(), 30u);

  CommandResult r = run_scout(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("skipping " + std::to_string(partial.size()) + " done of 30"), std::string::npos) << r.err;
  const std::vector<json> out = read_jsonl(tmp.path("out.jsonl"));
  ASSERT_EQ(out.size(), 30u);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(out[i]["id"], "p" + std::to_string(i + 1));  // each id once, in input order
    EXPECT_EQ(out[i]["completion_tokens"], 64);
  }
}

TEST(BatchCli, SurvivesKillNineAndResumes) { kill_nine_and_resume("1"); }
// With jobs in flight together, what is written is still whole lines in input order.
TEST(BatchCli, SurvivesKillNineAndResumesInParallel) { kill_nine_and_resume("4"); }

// --parallel decodes jobs together; each job's text is what it is alone, greedy or sampled.
TEST(BatchCli, ParallelGivesEveryJobItsOwnText) {
  TempDir tmp;
  std::string in;
  for (int i = 1; i <= 12; ++i)
    in += "{\"id\": " + std::to_string(i) + ", \"prompt\": \"" + std::string(static_cast<size_t>(i), '#') +
          " tale\", \"max_tokens\": " + std::to_string(8 + i * 3) + (i % 2 ? ", \"temperature\": 0" : "") + "}\n";
  write_text(tmp.path("in.jsonl"), in);
  std::vector<std::vector<json>> outs;
  for (const std::string p : {"1", "4"}) {
    const CommandResult r = batch({"-i", tmp.path("in.jsonl"), "-o", tmp.path("out" + p + ".jsonl"), "--parallel", p});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find(p + " in parallel"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("not implemented"), std::string::npos) << r.err;
    outs.push_back(read_jsonl(tmp.path("out" + p + ".jsonl")));
  }
  ASSERT_EQ(outs[0].size(), 12u);
  ASSERT_EQ(outs[1].size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(outs[1][i]["id"], i + 1);
    EXPECT_EQ(outs[1][i]["text"], outs[0][i]["text"]) << "job " << i + 1;
    EXPECT_EQ(outs[1][i]["completion_tokens"], outs[0][i]["completion_tokens"]) << "job " << i + 1;
  }
}

TEST(BatchCli, TextLinesAndDirectoryInputs) {
  TempDir tmp;
  write_text(tmp.path("in.txt"), "first prompt\n\nthird prompt\n");
  CommandResult r = batch({"-i", tmp.path("in.txt"), "--input-format", "text", "-o", tmp.path("t.jsonl"), "-n", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> out = read_jsonl(tmp.path("t.jsonl"));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["id"], 1);
  EXPECT_EQ(out[1]["id"], 3);  // ids are line numbers; blank lines are skipped
  EXPECT_EQ(out[1]["prompt_tokens"], 13);  // BOS + "third prompt"

  std::filesystem::create_directory(tmp.path("prompts"));
  write_text(tmp.path("prompts/b.txt"), "bee\n");
  write_text(tmp.path("prompts/a.txt"), "ay");
  write_text(tmp.path("prompts/readme.md"), "not a prompt");
  r = batch({"-i", tmp.path("prompts"), "-o", tmp.path("d.jsonl"), "-n", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  out = read_jsonl(tmp.path("d.jsonl"));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["id"], "a.txt");
  EXPECT_EQ(out[1]["id"], "b.txt");
  EXPECT_EQ(out[1]["prompt_tokens"], 4);  // BOS + "bee", the final newline dropped
}

TEST(BatchCli, ChatMessagesAndStops) {
  TempDir tmp;
  write_text(tmp.path("in.jsonl"),
             "{\"id\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 4}\n"
             "{\"id\": \"s\", \"prompt\": \"Once upon a time\", \"stop\": \"Lily\", \"max_tokens\": 40}\n");
  CommandResult r = batch({"-i", tmp.path("in.jsonl"), "-o", tmp.path("out.jsonl")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> out = read_jsonl(tmp.path("out.jsonl"));
  ASSERT_EQ(out.size(), 2u);
  // The default model is a llama4 file: the llama4 template applies.
  EXPECT_FALSE(out[0].contains("error")) << out[0].dump();
  EXPECT_GT(out[0]["prompt_tokens"].get<int>(), 10);
  EXPECT_EQ(out[1]["id"], "s");

  if (!have_shared()) GTEST_SKIP() << "the no-template case needs ../shared";
  r = batch({"-m", shared_dir() + "/models/stories260K/stories260K.gguf", "-i", tmp.path("in.jsonl"), "-o",
             tmp.path("stories.jsonl"), "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> st = read_jsonl(tmp.path("stories.jsonl"));
  ASSERT_EQ(st.size(), 2u);
  EXPECT_NE(st[0]["error"].get<std::string>().find("messages need a chat template"), std::string::npos);
  // Greedy: ", there was a little girl named Lily." ends at the stop string, which is not kept.
  EXPECT_EQ(st[1]["text"], ", there was a little girl named ");
  EXPECT_EQ(st[1]["finish_reason"], "stop");
}

TEST(BatchCli, FlagErrors) {
  TempDir tmp;
  CommandResult r = run_scout({"batch", "-i", tmp.path("missing.jsonl"), "-o", tmp.path("out.jsonl")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("scout: error: "), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.path("out.jsonl")));
  r = run_scout({"batch", "-i", tmp.path("x")});
  EXPECT_EQ(r.exit_code, 2);
  write_text(tmp.path("in.txt"), "one\n");
  r = batch({"-i", tmp.path("in.txt"), "--input-format", "text", "-o", tmp.path("out.jsonl"), "--parallel", "0"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace scout::test
