// Progress of a batch run on stderr: a bar redrawn in place when stderr is a
// terminal (done/total, generated tokens/s, ETA), otherwise a plain log line
// every few seconds, so logs of unattended runs stay readable.
#pragma once

#include <chrono>
#include <cstdint>

namespace scout::batch {

class Progress {
 public:
  // total: jobs this run will do (already-done ones not included).
  Progress(uint64_t total, bool terminal, double log_every_seconds = 10.0);
  void job_done(uint64_t generated_tokens);
  void finish();  // the final line (ends the bar)

 private:
  using Clock = std::chrono::steady_clock;
  void draw_bar();
  void log_line();
  double elapsed() const;
  double eta_seconds() const;

  uint64_t total_;
  bool terminal_;
  double log_every_;
  uint64_t done_ = 0;
  uint64_t tokens_ = 0;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_log_ = start_;
};

}  // namespace scout::batch
