#include "batch/shard.h"

#include <fmt/format.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <charconv>
#include <filesystem>
#include <stdexcept>

namespace scout::batch {

namespace {

// A whole non-negative decimal number that fits 32 bits, or nullopt.
std::optional<uint32_t> to_u32(std::string_view s) {
  uint32_t v = 0;
  if (s.empty()) return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

uint32_t env_u32(const Getenv& getenv, const char* name) {
  const char* v = getenv(name);
  const std::optional<uint32_t> n = v ? to_u32(v) : std::nullopt;
  if (!n) throw std::runtime_error(fmt::format("{}={}: not a non-negative integer", name, v ? v : ""));
  return *n;
}

Shard checked(uint32_t index, uint32_t count, std::string source, bool from_env) {
  if (count == 0) throw std::runtime_error(fmt::format("{}: the shard count must be at least 1", source));
  if (index >= count)
    throw std::runtime_error(fmt::format("{}: shard {} of {} does not exist (0 <= K < N)", source, index, count));
  return {index, count, std::move(source), from_env};
}

}  // namespace

std::string Shard::name() const { return fmt::format("{}-of-{}", index, count); }

uint32_t shard_of(const std::string& key, uint32_t count) {
  return static_cast<uint32_t>(XXH64(key.data(), key.size(), 0) % count);
}

bool Shard::takes(const std::string& key) const { return shard_of(key, count) == index; }

Shard parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  const std::optional<uint32_t> k = slash == std::string::npos ? std::nullopt : to_u32(std::string_view(text).substr(0, slash));
  const std::optional<uint32_t> n = slash == std::string::npos ? std::nullopt : to_u32(std::string_view(text).substr(slash + 1));
  if (!k || !n) throw std::runtime_error(fmt::format("--shard {}: expected K/N, e.g. 0/4 (shard K of N, 0 <= K < N)", text));
  return checked(*k, *n, "--shard " + text, false);
}

std::optional<Shard> shard_from_env(const Getenv& getenv) {
  if (getenv("SLURM_ARRAY_TASK_ID") && getenv("SLURM_ARRAY_TASK_COUNT")) {
    const uint32_t id = env_u32(getenv, "SLURM_ARRAY_TASK_ID");
    const uint32_t min = getenv("SLURM_ARRAY_TASK_MIN") ? env_u32(getenv, "SLURM_ARRAY_TASK_MIN") : 0;
    const uint32_t count = env_u32(getenv, "SLURM_ARRAY_TASK_COUNT");
    if (id < min) throw std::runtime_error(fmt::format("SLURM_ARRAY_TASK_ID={} is below SLURM_ARRAY_TASK_MIN={}", id, min));
    return checked(id - min, count,
                   fmt::format("SLURM_ARRAY_TASK_ID={} (min {}) of SLURM_ARRAY_TASK_COUNT={}", id, min, count), true);
  }
  if (getenv("JOB_COMPLETION_INDEX")) {
    const uint32_t index = env_u32(getenv, "JOB_COMPLETION_INDEX");
    if (!getenv("SCOUT_SHARD_COUNT"))
      throw std::runtime_error(
          "JOB_COMPLETION_INDEX is set but SCOUT_SHARD_COUNT is not: set it to the Job's .spec.completions "
          "(or pass --shard K/N)");
    const uint32_t count = env_u32(getenv, "SCOUT_SHARD_COUNT");
    return checked(index, count, fmt::format("JOB_COMPLETION_INDEX={} of SCOUT_SHARD_COUNT={}", index, count), true);
  }
  return std::nullopt;
}

std::string shard_output_path(const std::string& output, const Shard& shard) {
  static const std::string kPlaceholder = "{shard}";
  std::string out = output;
  bool replaced = false;
  for (size_t at; (at = out.find(kPlaceholder)) != std::string::npos; replaced = true)
    out.replace(at, kPlaceholder.size(), shard.name());
  if (replaced || !shard.from_env) return out;
  const std::filesystem::path p(output);
  return (p.parent_path() / (p.stem().string() + ".shard-" + shard.name() + p.extension().string())).string();
}

}  // namespace scout::batch
