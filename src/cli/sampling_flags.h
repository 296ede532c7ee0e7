// The sampling flags of the generating subcommands (`scout run`, `scout
// batch`): one definition of their names, defaults and help, so the same
// flag means the same thing everywhere.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>

#include "sampling/sampler.h"

namespace scout::cli {

struct SamplingFlags {
  float temp = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int32_t repeat_last_n = 64;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int64_t seed = -1;  // -1: a random seed per run (or per prompt in batch)
};

// Adds --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n,
// --presence-penalty, --frequency-penalty and -s/--seed, bound to `flags`
// (which must outlive the parse).
void add_sampling_flags(CLI::App* cmd, SamplingFlags& flags);

// The sampler settings the flags ask for; seed -1 draws a random seed.
sampling::SamplerParams sampler_params(const SamplingFlags& flags);

}  // namespace scout::cli
