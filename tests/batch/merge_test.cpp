// `scout batch merge` as a function: shard files joined in input order, and
// every way they can disagree with the input reported by id.
#include "batch/merge.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "batch/shard.h"
#include "test_util.h"

namespace scout::batch {
namespace {

using test::read_text;
using test::write_text;

std::string all_problems(const MergeReport& r) {
  std::string s;
  for (const std::string& p : r.problems) s += p + "\n";
  return s;
}

// An input of `n` ids (scout format) and the shard files of N as the shards would write them.
struct Fixture {
  test::TempDir tmp;
  std::vector<std::string> ids;
  std::vector<std::string> files;
  std::vector<std::string> contents;

  Fixture(int n, uint32_t shards) {
    std::string in;
    for (int i = 0; i < n; ++i) {
      ids.push_back("q" + std::to_string(i));
      in += "{\"id\": \"" + ids.back() + "\", \"prompt\": \"p\"}\n";
    }
    write_text(tmp.path("in.jsonl"), in);
    contents.resize(shards);
    // Each shard writes its ids in reverse: merge must restore input order.
    for (int i = n; i-- > 0;)
      contents[shard_of("\"" + ids[i] + "\"", shards)] += "{\"id\": \"" + ids[i] + "\", \"text\": \"t" + ids[i] + "\"}\n";
    for (uint32_t k = 0; k < shards; ++k) files.push_back(tmp.path("out." + std::to_string(k) + ".jsonl"));
    write_all();
  }
  void write_all() {
    for (size_t k = 0; k < files.size(); ++k) write_text(files[k], contents[k]);
  }
  MergeReport merge() { return merge_shards(tmp.path("in.jsonl"), InputFormat::Jsonl, files, tmp.path("merged.jsonl")); }
};

TEST(BatchMerge, JoinsShardsInInputOrder) {
  Fixture f(40, 3);
  const MergeReport r = f.merge();
  ASSERT_TRUE(r.problems.empty()) << all_problems(r);
  EXPECT_EQ(r.written, 40u);
  std::string expected;
  for (const std::string& id : f.ids) expected += "{\"id\": \"" + id + "\", \"text\": \"t" + id + "\"}\n";
  EXPECT_EQ(read_text(f.tmp.path("merged.jsonl")), expected);  // the lines as the shards wrote them
}

TEST(BatchMerge, ReportsMissingAndDuplicatedIdsByName) {
  Fixture f(20, 2);
  // q0's line gone; q1's line twice (once more in the other file).
  const std::string q0 = "{\"id\": \"q0\", \"text\": \"tq0\"}\n", q1 = "{\"id\": \"q1\", \"text\": \"tq1\"}\n";
  for (std::string& c : f.contents) {
    if (const size_t at = c.find(q0); at != std::string::npos) c.erase(at, q0.size());
  }
  const uint32_t other = 1 - shard_of("\"q1\"", 2);
  f.contents[other] += q1;
  f.write_all();
  const MergeReport r = f.merge();
  const std::string all = all_problems(r);
  EXPECT_NE(all.find("1 ids of the input are in no shard file: \"q0\""), std::string::npos) << all;
  EXPECT_NE(all.find("more than one place: \"q1\""), std::string::npos) << all;
  EXPECT_NE(all.find("holds ids of shards 0, 1 of 2"), std::string::npos) << all;  // q1 is not that file's
  EXPECT_FALSE(std::filesystem::exists(f.tmp.path("merged.jsonl")));
}

TEST(BatchMerge, ReportsFilesFromAnotherShardCountAndUnknownIds) {
  Fixture three(30, 3);
  // The same outputs, but merged as if there were 2 shards: ids hash elsewhere.
  std::vector<std::string> two = {three.files[0], three.files[1]};
  MergeReport r = merge_shards(three.tmp.path("in.jsonl"), InputFormat::Jsonl, two, three.tmp.path("m.jsonl"));
  std::string all = all_problems(r);
  EXPECT_NE(all.find("another shard count"), std::string::npos) << all;
  EXPECT_NE(all.find("in no shard file"), std::string::npos) << all;  // shard 2's ids

  Fixture f(10, 2);
  const size_t before = static_cast<size_t>(std::count(f.contents[0].begin(), f.contents[0].end(), '\n'));
  f.contents[0] += "{\"id\": \"stranger\", \"text\": \"?\"}\nnot json\n";
  f.write_all();
  r = f.merge();
  all = all_problems(r);
  EXPECT_NE(all.find("1 ids are not in the input"), std::string::npos) << all;
  EXPECT_NE(all.find("\"stranger\" ("), std::string::npos) << all;
  EXPECT_NE(all.find("line " + std::to_string(before + 2) + " is not a scout batch result"), std::string::npos) << all;
}

TEST(BatchMerge, OpenAIBatchFormat) {
  test::TempDir tmp;
  std::string in, shard[2];
  for (int i = 0; i < 12; ++i) {
    const std::string id = "req-" + std::to_string(i);
    in += R"({"custom_id": ")" + id + R"(", "method": "POST", "url": "/v1/completions", "body": {"prompt": "x"}})" "\n";
    shard[shard_of("\"" + id + "\"", 2)] +=
        R"({"id": "batch_req_)" + std::to_string(i) + R"(", "custom_id": ")" + id + R"(", "response": null, "error": null})" "\n";
  }
  write_text(tmp.path("in.jsonl"), in);
  write_text(tmp.path("a.jsonl"), shard[0]);
  write_text(tmp.path("b.jsonl"), shard[1]);
  const MergeReport r = merge_shards(tmp.path("in.jsonl"), detect_format(tmp.path("in.jsonl")),
                                     {tmp.path("b.jsonl"), tmp.path("a.jsonl")}, tmp.path("m.jsonl"));
  ASSERT_TRUE(r.problems.empty()) << all_problems(r);
  const std::string merged = read_text(tmp.path("m.jsonl"));
  size_t at = 0;
  for (int i = 0; i < 12; ++i) {
    const size_t next = merged.find("\"custom_id\": \"req-" + std::to_string(i) + "\"", at);
    ASSERT_NE(next, std::string::npos) << i;
    at = next;
  }
}

}  // namespace
}  // namespace scout::batch
