// Helpers shared by the tests: where things are, temporary files, running the CLI.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace scout::test {

// ../shared beside the checkout; tests needing it skip with a message when absent.
std::string shared_dir();
bool have_shared();
std::string scout_binary();
std::string default_model_path();
// The vision oracle: shared/testdata/llama4-vision-tiny/, with the trailing slash.
std::string vision_oracle_dir();

// n floats drawn from N(0, scale^2), the same for the same seed.
std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f);

// n token ids drawn uniformly from [0, n_vocab), the same for the same seed.
std::vector<int32_t> random_tokens(size_t n, uint32_t n_vocab, uint32_t seed);

// How logits compare with a reference's, position by position: the RMS of
// (ours - ref) over the RMS of ref, and whether the argmax is the same.
// ours is [positions][n_vocab] flat, ref one row per position.
struct PositionAgreement {
  std::vector<double> rel_rms;
  std::vector<bool> argmax_same;
};
PositionAgreement compare_positions(const std::vector<float>& ours, const std::vector<std::vector<double>>& ref,
                                    size_t n_vocab);

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

std::vector<uint8_t> read_file(const std::string& path);
// Standard base64 with '=' padding (for data: URIs in requests and batch lines).
std::string base64(const std::vector<uint8_t>& bytes);
// A file of raw little-endian float32 values (the oracles' .f32 dumps).
std::vector<float> read_floats(const std::string& path);
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);
// A whole file as text ("" when it does not exist), and back.
std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);
size_t count_lines(const std::string& path);
// Every line of a JSONL file, parsed; fails the test on a partial or broken line.
std::vector<nlohmann::json> read_jsonl(const std::string& path);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs `scout ARGS` (args are shell-quoted) and captures both streams; stdin
// is /dev/null, or `stdin_text` when given.
CommandResult run_scout(const std::vector<std::string>& args);
CommandResult run_scout(const std::vector<std::string>& args, const std::string& stdin_text);
// Starts `scout ARGS` in the background (stdout and stderr to log, stdin
// /dev/null); returns its pid.
pid_t spawn_scout(const std::vector<std::string>& args, const std::string& log);

}  // namespace scout::test
