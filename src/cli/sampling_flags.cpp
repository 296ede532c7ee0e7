#include "cli/sampling_flags.h"

#include <random>

namespace scout::cli {

void add_sampling_flags(CLI::App* cmd, SamplingFlags& f) {
  cmd->add_option("--temp", f.temp, "temperature; 0: greedy")->check(CLI::Range(0.0f, 100.0f));
  cmd->add_option("--top-k", f.top_k, "keep the k most likely tokens; 0: off");
  cmd->add_option("--top-p", f.top_p, "nucleus sampling threshold; 1: off")->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--min-p", f.min_p, "drop tokens below min-p times the top probability; 0: off")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--repeat-penalty", f.repeat_penalty, "penalise recent tokens; 1: off")->check(CLI::Range(0.0f, 100.0f));
  cmd->add_option("--repeat-last-n", f.repeat_last_n, "window of recent tokens for the penalties")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--presence-penalty", f.presence_penalty, "subtract from tokens present in the window; 0: off");
  cmd->add_option("--frequency-penalty", f.frequency_penalty, "subtract per occurrence in the window; 0: off");
  cmd->add_option("-s,--seed", f.seed, "RNG seed; -1: a random seed, reported with the results");
}

sampling::SamplerParams sampler_params(const SamplingFlags& f) {
  sampling::SamplerParams p;
  p.temperature = f.temp;
  p.top_k = f.top_k;
  p.top_p = f.top_p;
  p.min_p = f.min_p;
  p.repeat_penalty = f.repeat_penalty;
  p.repeat_last_n = f.repeat_last_n;
  p.presence_penalty = f.presence_penalty;
  p.frequency_penalty = f.frequency_penalty;
  p.seed = f.seed >= 0 ? static_cast<uint64_t>(f.seed) : std::random_device{}();
  return p;
}

}  // namespace scout::cli
