// Splitting one `scout batch` input over N processes (machines, Slurm array
// tasks, Kubernetes Indexed Job pods): process K of N takes the jobs whose id
// hashes to K (XXH64 of Job::key(), the id's JSON text, mod N), so every
// process agrees on the split without talking to the others, and writes its
// own output file, which it resumes from when it is run again.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace scout::batch {

struct Shard {
  uint32_t index = 0;  // K, 0 <= K < count
  uint32_t count = 1;  // N
  std::string source;  // where it came from, for the log: "--shard", "SLURM_ARRAY_TASK_ID", ...
  bool from_env = false;

  std::string name() const;  // "K-of-N"
  bool takes(const std::string& key) const;  // whether the job with this Job::key() is this shard's
};

// The shard a key belongs to among count.
uint32_t shard_of(const std::string& key, uint32_t count);

// "K/N" as --shard takes it; throws std::runtime_error saying what is wrong.
Shard parse_shard(const std::string& text);

// The shard the environment gives, when there is one: Slurm job arrays
// (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN (0 when unset) of
// SLURM_ARRAY_TASK_COUNT), else Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX
// of SCOUT_SHARD_COUNT, which the Job spec sets from .spec.completions: there
// is no standard variable for it). Throws std::runtime_error for values that
// make no shard (an index out of range, JOB_COMPLETION_INDEX without
// SCOUT_SHARD_COUNT). getenv: std::getenv, or a stand-in in tests.
using Getenv = std::function<const char*(const char*)>;
std::optional<Shard> shard_from_env(const Getenv& getenv);

// The output file of a shard: a "{shard}" in the path becomes name(); a shard
// from the environment without the placeholder gets ".shard-K-of-N" before
// the extension (out.jsonl -> out.shard-2-of-32.jsonl); otherwise the path as given.
std::string shard_output_path(const std::string& output, const Shard& shard);

}  // namespace scout::batch
