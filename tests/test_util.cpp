#include "test_util.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>

namespace scout::test {

std::string shared_dir() { return SCOUT_SHARED_DIR; }
std::string vision_oracle_dir() { return shared_dir() + "/testdata/llama4-vision-tiny/"; }
bool have_shared() { return std::filesystem::exists(shared_dir() + "/testdata/README.md"); }
std::string scout_binary() { return SCOUT_BINARY; }
std::string default_model_path() { return SCOUT_DEFAULT_MODEL_PATH; }

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "scout-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> read_floats(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

namespace {
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
}  // namespace

namespace {
CommandResult run_scout_with_stdin(const std::vector<std::string>& args, const std::string* stdin_text) {
  TempDir tmp;
  std::string in = "/dev/null";
  if (stdin_text) {
    in = tmp.path("in");
    write_file(in, std::vector<uint8_t>(stdin_text->begin(), stdin_text->end()));
  }
  std::string cmd = shell_quote(scout_binary());
  for (const std::string& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(tmp.path("out")) + " 2>" + shell_quote(tmp.path("err")) + " <" + shell_quote(in);
  CommandResult r;
  int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  r.out = slurp(tmp.path("out"));
  r.err = slurp(tmp.path("err"));
  return r;
}
}  // namespace

CommandResult run_scout(const std::vector<std::string>& args) { return run_scout_with_stdin(args, nullptr); }
CommandResult run_scout(const std::vector<std::string>& args, const std::string& stdin_text) {
  return run_scout_with_stdin(args, &stdin_text);
}

std::vector<float> random_floats(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<int32_t> random_tokens(size_t n, uint32_t n_vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(n_vocab) - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = dist(rng);
  return t;
}

PositionAgreement compare_positions(const std::vector<float>& ours, const std::vector<std::vector<double>>& ref,
                                    size_t n_vocab) {
  PositionAgreement a;
  for (size_t t = 0; t < ref.size(); ++t) {
    double se = 0, ss = 0;
    size_t mine = 0, theirs = 0;
    for (size_t i = 0; i < n_vocab; ++i) {
      const double d = ours[t * n_vocab + i] - ref[t][i];
      se += d * d;
      ss += ref[t][i] * ref[t][i];
      if (ours[t * n_vocab + i] > ours[t * n_vocab + mine]) mine = i;
      if (ref[t][i] > ref[t][theirs]) theirs = i;
    }
    a.rel_rms.push_back(std::sqrt(se / ss));
    a.argmax_same.push_back(mine == theirs);
  }
  return a;
}

std::string base64(const std::vector<uint8_t>& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t n = bytes.size() - i;
    const uint32_t g = uint32_t(bytes[i]) << 16 | (n > 1 ? uint32_t(bytes[i + 1]) << 8 : 0) | (n > 2 ? bytes[i + 2] : 0);
    for (uint32_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(g >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

std::string read_text(const std::string& path) {
  if (!std::filesystem::exists(path)) return {};
  const std::vector<uint8_t> b = read_file(path);
  return {b.begin(), b.end()};
}

void write_text(const std::string& path, const std::string& text) {
  write_file(path, std::vector<uint8_t>(text.begin(), text.end()));
}

size_t count_lines(const std::string& path) {
  const std::string s = read_text(path);
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  const std::string text = read_text(path);
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "partial last line in " << path;
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) EXPECT_NO_THROW(out.push_back(nlohmann::json::parse(line))) << line;
  return out;
}

pid_t spawn_scout(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = open("/dev/null", O_RDONLY);
    dup2(null, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    std::vector<std::string> all = {scout_binary()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace scout::test
