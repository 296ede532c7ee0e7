#include "batch/progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>

namespace scout::batch {

namespace {

std::string duration(double s) {
  const auto t = static_cast<uint64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
  return fmt::format("{}:{:02}", t / 60, t % 60);
}

}  // namespace

Progress::Progress(uint64_t total, bool terminal, double log_every_seconds)
    : total_(total), terminal_(terminal), log_every_(log_every_seconds) {
  if (terminal_) draw_bar();
}

double Progress::elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

// From this run's pace so far: jobs vary, so the estimate firms up as they finish.
double Progress::eta_seconds() const {
  return done_ ? elapsed() / static_cast<double>(done_) * static_cast<double>(total_ - done_) : 0.0;
}

void Progress::job_done(uint64_t generated_tokens) {
  ++done_;
  tokens_ += generated_tokens;
  if (terminal_) {
    draw_bar();
  } else if (std::chrono::duration<double>(Clock::now() - last_log_).count() >= log_every_ && done_ < total_) {
    last_log_ = Clock::now();
    log_line();
  }
}

void Progress::draw_bar() {
  constexpr int kWidth = 30;
  const double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const int filled = static_cast<int>(frac * kWidth);
  const double t = elapsed();
  // \r and erase-to-end-of-line: the bar overwrites itself.
  std::fprintf(stderr, "\r\033[K[%s%s] %llu/%llu %5.1f%%  %.1f tok/s  ETA %s", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str(), static_cast<unsigned long long>(done_),
               static_cast<unsigned long long>(total_), 100 * frac, t > 0 ? static_cast<double>(tokens_) / t : 0.0,
               done_ ? duration(eta_seconds()).c_str() : "?");
  std::fflush(stderr);
}

void Progress::log_line() {
  const double t = elapsed();
  spdlog::info("batch: {}/{} done, {:.1f} tok/s, ETA {}", done_, total_, t > 0 ? static_cast<double>(tokens_) / t : 0.0,
               duration(eta_seconds()));
}

void Progress::finish() {
  if (terminal_) std::fprintf(stderr, "\n");
}

}  // namespace scout::batch
