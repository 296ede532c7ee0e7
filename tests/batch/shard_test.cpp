// Shards of a batch input: --shard K/N parsing, the environment's shard
// (Slurm job arrays, Kubernetes Indexed Jobs), the output file names, and a
// split that is stable and covers every key once.
#include "batch/shard.h"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>

namespace scout::batch {
namespace {

Getenv env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

// The error shard_from_env gives with these variables.
std::string env_error(std::map<std::string, std::string> vars) {
  return error_of([&] { shard_from_env(env(std::move(vars))); });
}

TEST(BatchShard, ParsesKOfN) {
  const Shard s = parse_shard("2/5");
  EXPECT_EQ(s.index, 2u);
  EXPECT_EQ(s.count, 5u);
  EXPECT_FALSE(s.from_env);
  EXPECT_EQ(s.name(), "2-of-5");
  EXPECT_EQ(parse_shard("0/1").count, 1u);
  EXPECT_NE(error_of([] { parse_shard("3/2"); }).find("shard 3 of 2 does not exist"), std::string::npos);
  EXPECT_NE(error_of([] { parse_shard("0/0"); }).find("at least 1"), std::string::npos);
  for (const char* bad : {"x", "1", "1/", "/2", "-1/2", "1/2/3", "a/b", " 1/2", "1/99999999999"})
    EXPECT_NE(error_of([bad] { parse_shard(bad); }).find("expected K/N"), std::string::npos) << bad;
}

TEST(BatchShard, EveryKeyInExactlyOneShardAndStable) {
  std::map<uint32_t, int> per_shard;
  for (int i = 0; i < 400; ++i) {
    const std::string key = "\"id" + std::to_string(i) + "\"";
    int owners = 0;
    for (uint32_t k = 0; k < 4; ++k) owners += Shard{k, 4, "", false}.takes(key);
    EXPECT_EQ(owners, 1) << key;
    ++per_shard[shard_of(key, 4)];
  }
  for (uint32_t k = 0; k < 4; ++k) EXPECT_GT(per_shard[k], 60) << "shard " << k;  // roughly even
  // XXH64 of the key with seed 0: the same on every machine and every run.
  EXPECT_EQ(shard_of("\"a\"", 1000), shard_of("\"a\"", 1000));
  EXPECT_EQ(shard_of("anything", 1), 0u);
}

TEST(BatchShard, FromSlurmArrays) {
  std::optional<Shard> s = shard_from_env(env({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "8"}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 3u);
  EXPECT_EQ(s->count, 8u);
  EXPECT_TRUE(s->from_env);
  EXPECT_NE(s->source.find("SLURM_ARRAY_TASK_ID=3"), std::string::npos);
  // --array=1-8: the index counts from SLURM_ARRAY_TASK_MIN.
  s = shard_from_env(
      env({{"SLURM_ARRAY_TASK_ID", "8"}, {"SLURM_ARRAY_TASK_COUNT", "8"}, {"SLURM_ARRAY_TASK_MIN", "1"}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 7u);
  // Slurm wins over Kubernetes when both are there.
  s = shard_from_env(env({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "2"},
                          {"JOB_COMPLETION_INDEX", "0"}, {"SCOUT_SHARD_COUNT", "5"}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->count, 2u);
  EXPECT_NE(env_error({{"SLURM_ARRAY_TASK_ID", "8"}, {"SLURM_ARRAY_TASK_COUNT", "8"}})
                .find("does not exist"),
            std::string::npos);
  EXPECT_NE(env_error({{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "8"}})
                .find("not a non-negative integer"),
            std::string::npos);
  // A task id without a count (not an array of this shape): no shard.
  EXPECT_FALSE(shard_from_env(env({{"SLURM_ARRAY_TASK_ID", "3"}})));
  EXPECT_FALSE(shard_from_env(env({})));
}

TEST(BatchShard, FromKubernetesIndexedJobs) {
  std::optional<Shard> s = shard_from_env(env({{"JOB_COMPLETION_INDEX", "4"}, {"SCOUT_SHARD_COUNT", "32"}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->name(), "4-of-32");
  EXPECT_TRUE(s->from_env);
  EXPECT_NE(s->source.find("JOB_COMPLETION_INDEX=4"), std::string::npos);
  // The count has no standard variable: without SCOUT_SHARD_COUNT every pod would run everything.
  EXPECT_NE(env_error({{"JOB_COMPLETION_INDEX", "4"}}).find("SCOUT_SHARD_COUNT is not"),
            std::string::npos);
  EXPECT_NE(env_error({{"JOB_COMPLETION_INDEX", "4"}, {"SCOUT_SHARD_COUNT", "4"}})
                .find("does not exist"),
            std::string::npos);
  EXPECT_NE(env_error({{"JOB_COMPLETION_INDEX", "0"}, {"SCOUT_SHARD_COUNT", "0"}})
                .find("at least 1"),
            std::string::npos);
}

TEST(BatchShard, OutputPaths) {
  const Shard flag{2, 32, "--shard 2/32", false}, from_env{2, 32, "SLURM", true};
  EXPECT_EQ(shard_output_path("out.{shard}.jsonl", flag), "out.2-of-32.jsonl");
  EXPECT_EQ(shard_output_path("res/{shard}/out.jsonl", from_env), "res/2-of-32/out.jsonl");
  EXPECT_EQ(shard_output_path("out.jsonl", flag), "out.jsonl");  // --shard: the path as given
  EXPECT_EQ(shard_output_path("out.jsonl", from_env), "out.shard-2-of-32.jsonl");
  EXPECT_EQ(shard_output_path("/data/run.1/out.jsonl", from_env), "/data/run.1/out.shard-2-of-32.jsonl");
  EXPECT_EQ(shard_output_path("out", from_env), "out.shard-2-of-32");
}

}  // namespace
}  // namespace scout::batch
