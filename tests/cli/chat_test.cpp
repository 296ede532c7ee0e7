// `scout run --chat` and `scout chat` end to end. The interactive tests drive
// `scout chat` through a pseudo-terminal, as a person at a terminal would:
// messages, the prompt marker, /stats showing that a follow-up turn evaluates
// only its own tokens, Ctrl-C during a long reply, /save and /load, Ctrl-D.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "gguf/reader.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace scout::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string tiny() { return shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf"; }

json run_json(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"run", "--json"};
  all.insert(all.end(), args.begin(), args.end());
  CommandResult r = run_scout(all);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? json::parse(r.out) : json();
}

TEST(RunChatCli, AppliesTheLlama4TemplateToThePrompt) {
  if (!have_shared()) GTEST_SKIP() << "needs ../shared";
  json j = run_json({"-m", tiny(), "--chat", "-p", "Write a haiku about experts.", "--temp", "0", "-n", "8"});
  // prompts/chat.txt is this prompt in the template; llama.cpp's ids for it:
  std::ifstream in(shared_dir() + "/testdata/llama4-tiny/expected/f16-chat.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const json want = json::parse(ss.str());
  EXPECT_EQ(j["prompt_ids"], want["prompt_ids"]);
  EXPECT_LE(j["ids"].size(), 8u);
  EXPECT_NE(j["finish_reason"], "cancelled");

  json sys = run_json({"-m", tiny(), "--chat", "--system", "Be brief.", "-p", "Hi", "-n", "2", "--temp", "0"});
  EXPECT_EQ(sys["prompt_ids"][0], 4096);
  EXPECT_EQ(std::count(sys["prompt_ids"].begin(), sys["prompt_ids"].end(), 4096), 1);
  EXPECT_EQ(std::count(sys["prompt_ids"].begin(), sys["prompt_ids"].end(), 4104), 2);  // two <|eot|>

  CommandResult r = run_scout({"run", "-m", tiny(), "--chat", "-p", "Hi", "-n", "4"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(RunChatCli, Errors) {
  CommandResult r = run_scout({"run", "--chat", "--chat-template", "vicuna", "-p", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "scout: error: unknown chat template 'vicuna' (known: llama4, llama3, llama2, chatml, mistral)\n");
  r = run_scout({"run", "--system", "x", "-p", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--chat"), std::string::npos) << r.err;
  if (!have_shared()) return;
  r = run_scout({"chat", "-m", shared_dir() + "/models/stories260K/stories260K.gguf"}, "hi\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the model has no chat template"), std::string::npos) << r.err;
}

// Tokens that one follow-up turn should evaluate on the default model.
size_t turn_tokens(const std::string& message) {
  gguf::GgufFile f = gguf::GgufFile::open(default_model_path());
  auto tok = tokenizer::Tokenizer::from_gguf(f);
  return tok->encode("<|eot|><|header_start|>user<|header_end|>\n\n" + message +
                         "<|eot|><|header_start|>assistant<|header_end|>\n\n",
                     false, true)
      .size();
}

struct Stats {
  size_t context = 0, evaluated = 0, reused = 0, messages = 0;
  bool whole = false;
};

// Parses the last "/stats" line in `text`.
std::optional<Stats> last_stats(const std::string& text) {
  static const std::regex re(
      R"(context: (\d+) of \d+ tokens; last turn: (\d+) evaluated, (\d+) reused( \(whole conversation\))?; (\d+) messages)");
  std::optional<Stats> last;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    last = Stats{std::stoul(m[1]), std::stoul(m[2]), std::stoul(m[3]), std::stoul(m[5]), m[4].matched};
  }
  return last;
}

// `scout ARGS` on a pseudo-terminal: stdin, stdout and stderr are its slave side.
class PtyScout {
 public:
  explicit PtyScout(const std::vector<std::string>& args) {
    std::vector<std::string> all = {scout_binary()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      execv(argv[0], argv.data());
      _exit(127);
    }
    EXPECT_GT(pid_, 0) << "forkpty failed";
  }
  ~PtyScout() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }

  void send(const std::string& s) {
    ASSERT_EQ(write(master_, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  // Reads until `needle` appears at or after `from` in the output; false on timeout or exit.
  bool wait_for(const std::string& needle, size_t from, int timeout_s = 30) {
    return wait_until([&] { return out.find(needle, from) != std::string::npos; }, timeout_s);
  }
  bool wait_for_bytes(size_t n, int timeout_s = 30) {
    return wait_until([&] { return out.size() >= n; }, timeout_s);
  }
  // Sends `line` and waits for the reply to end (the prompt marker returns).
  // Returns the output from the line on.
  std::string say(const std::string& line) {
    const size_t from = out.size();
    send(line + "\n");
    EXPECT_TRUE(wait_for("\n> ", from + line.size())) << "no prompt after '" << line << "':\n" << out.substr(from);
    return out.substr(from);
  }
  int wait_exit(int timeout_s = 30) {
    const auto end = Clock::now() + std::chrono::seconds(timeout_s);
    while (Clock::now() < end) {
      read_some(50);
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    return -1;
  }

  std::string out;  // everything the terminal showed (line breaks as \r\n)

 private:
  template <typename Done>
  bool wait_until(Done done, int timeout_s) {
    const auto end = Clock::now() + std::chrono::seconds(timeout_s);
    while (!done()) {
      if (Clock::now() > end || !read_some(100)) return done();
    }
    return true;
  }
  // False when the terminal is closed (the process ended).
  bool read_some(int timeout_ms) {
    pollfd p{master_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return true;
    char buf[4096];
    const ssize_t n = read(master_, buf, sizeof buf);
    if (n <= 0) return false;
    out.append(buf, static_cast<size_t>(n));
    return true;
  }

  int master_ = -1;
  pid_t pid_ = -1;
  bool exited_ = false;
};

TEST(ChatCli, TerminalSessionReusesTheCacheAndSavesAndLoads) {
  TempDir tmp;
  PtyScout chat({"chat", "-m", default_model_path(), "--temp", "0", "-n", "8"});
  ASSERT_TRUE(chat.wait_for("> ", 0)) << chat.out;
  EXPECT_NE(chat.out.find("template llama4"), std::string::npos) << chat.out;

  chat.say("Hello there");
  std::optional<Stats> s = last_stats(chat.say("/stats"));
  ASSERT_TRUE(s) << chat.out;
  EXPECT_EQ(s->reused, 0u);
  EXPECT_TRUE(s->whole);
  EXPECT_EQ(s->messages, 2u);
  const size_t held = s->context;

  // The follow-up turn evaluates only its own tokens.
  chat.say("Second message");
  s = last_stats(chat.say("/stats"));
  ASSERT_TRUE(s) << chat.out;
  EXPECT_FALSE(s->whole);
  EXPECT_EQ(s->reused, held);
  EXPECT_EQ(s->evaluated, turn_tokens("Second message"));
  EXPECT_EQ(s->messages, 4u);

  EXPECT_NE(chat.say("/save " + tmp.path("a.json")).find("saved 4 messages"), std::string::npos) << chat.out;
  EXPECT_TRUE(std::filesystem::exists(tmp.path("a.json.kv")));  // and the KV cache beside it
  std::ifstream in(tmp.path("a.json"));
  const json saved = json::parse(in);
  ASSERT_EQ(saved["messages"].size(), 4u);
  EXPECT_EQ(saved["messages"][0], json({{"role", "user"}, {"content", "Hello there"}}));
  EXPECT_EQ(saved["messages"][1]["role"], "assistant");
  EXPECT_EQ(saved["messages"][2]["content"], "Second message");

  const size_t held_at_save = last_stats(chat.say("/stats"))->context;
  EXPECT_NE(chat.say("/reset").find("conversation cleared"), std::string::npos);
  EXPECT_NE(chat.say("/load " + tmp.path("a.json")).find("loaded 4 messages"), std::string::npos) << chat.out;
  chat.say("Third");
  s = last_stats(chat.say("/stats"));
  ASSERT_TRUE(s) << chat.out;
  EXPECT_FALSE(s->whole);  // the loaded KV cache is reused: only the new message is evaluated
  EXPECT_EQ(s->reused, held_at_save);
  EXPECT_EQ(s->evaluated, turn_tokens("Third"));
  EXPECT_EQ(s->messages, 6u);
  // Without its KV cache (or with one of another conversation) a loaded conversation is evaluated from the start.
  chat.say("/save " + tmp.path("c.json"));  // c.json.kv: the 6-message conversation's cache
  std::filesystem::copy_file(tmp.path("a.json.kv"), tmp.path("c.json.kv"), std::filesystem::copy_options::overwrite_existing);
  EXPECT_NE(chat.say("/load " + tmp.path("c.json")).find("another conversation"), std::string::npos) << chat.out;
  chat.say("Fourth");
  s = last_stats(chat.say("/stats"));
  ASSERT_TRUE(s) << chat.out;
  EXPECT_TRUE(s->whole);
  EXPECT_EQ(s->messages, 8u);
  chat.say("/save " + tmp.path("b.json"));
  std::ifstream in_b(tmp.path("b.json"));
  const json again = json::parse(in_b);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(again["messages"][i], saved["messages"][i]);

  chat.send("\x04");  // Ctrl-D
  EXPECT_EQ(chat.wait_exit(), 0) << chat.out;
}

TEST(ChatCli, CtrlCStopsTheReplyAndTheChatGoesOn) {
  PtyScout chat({"chat", "-m", default_model_path(), "--temp", "0", "-n", "2000"});
  ASSERT_TRUE(chat.wait_for("> ", 0)) << chat.out;

  size_t from = chat.out.size();
  chat.send("Tell me a long story\n");
  ASSERT_TRUE(chat.wait_for("story\r\n", from)) << chat.out;
  ASSERT_TRUE(chat.wait_for_bytes(chat.out.size() + 40)) << chat.out;  // the reply is streaming
  chat.send("\x03");  // Ctrl-C
  ASSERT_TRUE(chat.wait_for("(reply stopped)", from)) << chat.out;
  ASSERT_TRUE(chat.wait_for("\n> ", from)) << chat.out;

  std::optional<Stats> s = last_stats(chat.say("/stats"));
  ASSERT_TRUE(s) << chat.out;
  EXPECT_LT(s->context, s->evaluated + 2000);  // stopped well before -n
  const size_t held = s->context;

  // Ctrl-C while typing drops the line; nothing is sent.
  from = chat.out.size();
  chat.send("never sent");
  chat.send("\x03");
  ASSERT_TRUE(chat.wait_for("\n> ", from)) << chat.out;
  s = last_stats(chat.say("/stats"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->context, held);
  EXPECT_EQ(s->messages, 2u);

  // The next turn extends the stopped one.
  from = chat.out.size();
  chat.send("Go on\n");
  ASSERT_TRUE(chat.wait_for("on\r\n", from)) << chat.out;
  ASSERT_TRUE(chat.wait_for_bytes(chat.out.size() + 20)) << chat.out;
  chat.send("\x03");
  ASSERT_TRUE(chat.wait_for("(reply stopped)", from)) << chat.out;
  ASSERT_TRUE(chat.wait_for("\n> ", from)) << chat.out;
  s = last_stats(chat.say("/stats"));
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->whole);
  EXPECT_EQ(s->reused, held);
  EXPECT_EQ(s->evaluated, turn_tokens("Go on"));

  chat.send("\x04");
  EXPECT_EQ(chat.wait_exit(), 0) << chat.out;
}

TEST(ChatCli, PipedInputNeedsNoTerminal) {
  TempDir tmp;
  const std::string input = "Hello there\n/stats\nline one \\\nline two\n/stats\n/save " + tmp.path("c.json") + "\n";
  CommandResult r = run_scout({"chat", "-m", default_model_path(), "--temp", "0", "-n", "8", "--system", "Be brief."}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("> "), std::string::npos) << r.err;  // no prompt marker
  EXPECT_EQ(r.err.find("template"), std::string::npos) << r.err;  // no banner
  std::optional<Stats> s = last_stats(r.err);
  ASSERT_TRUE(s) << r.err;
  EXPECT_EQ(s->messages, 4u);
  EXPECT_FALSE(s->whole);
  EXPECT_GT(s->reused, 0u);
  std::ifstream in(tmp.path("c.json"));
  const json saved = json::parse(in);
  EXPECT_EQ(saved["system"], "Be brief.");
  EXPECT_EQ(saved["messages"][2]["content"], "line one \nline two");  // one message over two lines
  // Each reply ends with a line break, and stdout holds only the replies.
  EXPECT_EQ(r.out.back(), '\n');

  // Greedy replies do not depend on how the turns were driven.
  CommandResult same = run_scout({"chat", "-m", default_model_path(), "--temp", "0", "-n", "8", "--system", "Be brief."},
                                 "Hello there\nline one \\\nline two\n");
  EXPECT_EQ(same.out, r.out);

  // In a script, a failing command ends the chat with the usual error.
  r = run_scout({"chat", "-m", default_model_path()}, "/load " + tmp.path("none.json") + "\nHello\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "scout: error: " + tmp.path("none.json") + ": cannot read the conversation\n");
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace scout::test
