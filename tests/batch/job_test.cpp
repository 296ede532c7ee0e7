// Reading batch jobs: JSONL lines (good, broken, with overrides), text lines,
// a directory of .txt files, duplicate ids, and the keys resuming goes by.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "batch/job.h"
#include "batch/job_source.h"
#include "test_util.h"

namespace scout::batch {
namespace {

using test::write_text;

using json = nlohmann::ordered_json;

Job parse(const std::string& line) {
  std::set<std::string> unknown;
  return parse_jsonl_line(line, 7, unknown);
}

TEST(BatchJob, PromptWithOverrides) {
  std::set<std::string> unknown;
  const Job j = parse_jsonl_line(
      R"({"id": "q1", "prompt": "Hi", "max_tokens": 5, "temperature": 0, "top_p": 0.5, "seed": 9, "stop": "x", "meta": 1})",
      3, unknown);
  EXPECT_TRUE(j.error.empty()) << j.error;
  EXPECT_EQ(j.line, 3u);
  EXPECT_EQ(j.id, "q1");
  EXPECT_EQ(j.prompt, "Hi");
  EXPECT_EQ(j.overrides.max_tokens, 5);
  EXPECT_EQ(j.overrides.temperature, 0.0f);
  EXPECT_EQ(j.overrides.top_p, 0.5f);
  EXPECT_EQ(j.overrides.seed, 9u);
  EXPECT_EQ(j.overrides.stop, (std::vector<std::string>{"x"}));
  EXPECT_EQ(unknown, (std::set<std::string>{"meta"}));
  EXPECT_EQ(j.key(), "\"q1\"");
}

TEST(BatchJob, MessagesAndIntegerIds) {
  const Job j = parse(R"({"id": 12, "messages": [{"role": "user", "content": "Hi"}], "stop": ["a", "b"]})");
  EXPECT_TRUE(j.error.empty()) << j.error;
  ASSERT_EQ(j.messages.size(), 1u);
  EXPECT_EQ(j.messages[0].role, "user");
  EXPECT_EQ(j.messages[0].content, "Hi");
  EXPECT_EQ(j.overrides.stop->size(), 2u);
  EXPECT_EQ(j.key(), "12");
  EXPECT_FALSE(j.overrides.max_tokens);
}

TEST(BatchJob, ContentPartsPlaceImagesWhereTheyAre) {
  std::set<std::string> unknown;
  const Job j = parse_jsonl_line(
      R"({"id": "v", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [)"
      R"({"type": "text", "text": "Compare "}, {"type": "image_url", "image_url": {"url": "img/a.png"}},)"
      R"({"type": "text", "text": " with "}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,Zm9v"}},)"
      R"({"type": "image_url", "image_url": {"url": "file:///abs/c.png"}}]}]})",
      1, unknown, "/jobs");
  ASSERT_TRUE(j.error.empty()) << j.error;
  ASSERT_EQ(j.messages.size(), 2u);
  EXPECT_TRUE(j.messages[0].images.empty());
  EXPECT_EQ(j.messages[1].content, "Compare <__media__> with <__media__><__media__>");
  // Relative paths from the input file's folder; data: URIs as they are.
  EXPECT_EQ(j.messages[1].images,
            (std::vector<std::string>{"/jobs/img/a.png", "data:image/png;base64,Zm9v", "/abs/c.png"}));
  // Text parts alone read as one string.
  const Job t = parse(R"({"id": 1, "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]})");
  ASSERT_TRUE(t.error.empty()) << t.error;
  EXPECT_EQ(t.messages[0].content, "ab");
  EXPECT_TRUE(t.messages[0].images.empty());
}

TEST(BatchJob, BrokenLinesBecomeErrors) {
  const struct {
    const char* line;
    const char* error;
  } cases[] = {
      {R"({"id": "a", "prompt": "unterminated)", "not valid JSON"},
      {R"([1, 2])", "not a JSON object"},
      {R"({"id": 1, "prompt": "x", "max_tokens": 4E888})", "number overflow"},  // found by batch_line_fuzz
      {R"({"prompt": "no id"})", "missing \"id\""},
      {R"({"id": 1.5, "prompt": "x"})", "missing \"id\""},
      {R"({"id": "a"})", "either \"prompt\" or \"messages\""},
      {R"({"id": "a", "prompt": "x", "messages": []})", "either \"prompt\" or \"messages\""},
      {R"({"id": "a", "prompt": 3})", "\"prompt\" must be a string"},
      {R"({"id": "a", "messages": [{"role": "user"}]})", "message 1"},
      {R"({"id": "a", "prompt": "x", "max_tokens": "many"})", "max_tokens"},
      {R"({"id": "a", "prompt": "x", "max_tokens": -2})", "max_tokens"},
      {R"({"id": "a", "prompt": "x", "top_p": 2})", "top_p"},
      {R"({"id": "a", "prompt": "x", "seed": -1})", "seed"},
      {R"({"id": "a", "prompt": "x", "stop": [1]})", "stop"},
      {R"({"id": "a", "messages": [{"role": "user", "content": 5}]})", "string or an array of parts"},
      {R"({"id": "a", "messages": [{"role": "user", "content": [{"text": "x"}]}]})", "part 1"},
      {R"({"id": "a", "messages": [{"role": "user", "content": [{"type": "text"}]}]})", "string \"text\""},
      {R"({"id": "a", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]})", "url"},
      {R"({"id": "a", "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]})", "input_audio"},
      {R"({"id": "a", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, )"
       R"({"type": "image_url", "image_url": {"url": "https://x.org/a.png"}}]}]})",
       "part 2: https://x.org/a.png: only data: URIs and local paths"},
  };
  for (const auto& c : cases) {
    const Job j = parse(c.line);
    EXPECT_NE(j.error.find(c.error), std::string::npos) << c.line << " -> " << j.error;
  }
  // A line without an id is known by its line number.
  EXPECT_EQ(parse("{").key(), "line 7");
}

TEST(BatchJob, ResultKeysMatchJobKeys) {
  EXPECT_EQ(result_key(json::parse(R"({"id": "q1", "text": ""})")), "\"q1\"");
  EXPECT_EQ(result_key(json::parse(R"({"id": 4, "error": "x"})")), "4");
  EXPECT_EQ(result_key(json::parse(R"({"id": null, "line": 7, "error": "x"})")), parse("{").key());
  EXPECT_FALSE(result_key(json::parse(R"({"text": "x"})")));
  EXPECT_FALSE(result_key(json::parse("[1]")));
}

TEST(BatchJobSource, JsonlSkipsBlankLinesAndMarksDuplicates) {
  test::TempDir tmp;
  write_text(tmp.path("in.jsonl"), "{\"id\": \"a\", \"prompt\": \"1\"}\n\n{\"id\": \"b\", \"prompt\": \"2\"}\r\n"
                                   "{\"id\": \"a\", \"prompt\": \"3\"}");
  std::vector<Job> jobs = read_jobs(tmp.path("in.jsonl"), InputFormat::Jsonl);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[1].line, 3u);
  EXPECT_EQ(jobs[1].prompt, "2");
  mark_duplicate_ids(jobs);
  EXPECT_TRUE(jobs[0].error.empty());
  EXPECT_NE(jobs[2].error.find("duplicate id \"a\" (first on line 1)"), std::string::npos) << jobs[2].error;
}

TEST(BatchJobSource, TextLinesAreNumbered) {
  test::TempDir tmp;
  write_text(tmp.path("in.txt"), "first prompt\n\nthird {not json}\n");
  const std::vector<Job> jobs = read_jobs(tmp.path("in.txt"), InputFormat::Text);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, 1);
  EXPECT_EQ(jobs[1].id, 3);
  EXPECT_EQ(jobs[1].prompt, "third {not json}");
}

TEST(BatchJobSource, DirectoryOfTxtFilesInNameOrder) {
  test::TempDir tmp;
  std::filesystem::create_directory(tmp.path("d"));
  write_text(tmp.path("d/b.txt"), "second\n");
  write_text(tmp.path("d/a.txt"), "first\nline two");
  write_text(tmp.path("d/notes.md"), "ignored");
  const std::vector<Job> jobs = read_jobs(tmp.path("d"), InputFormat::Jsonl);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, "a.txt");
  EXPECT_EQ(jobs[0].prompt, "first\nline two");
  EXPECT_EQ(jobs[1].id, "b.txt");
  EXPECT_EQ(jobs[1].prompt, "second");  // the file's final newline is not part of it
  std::filesystem::create_directory(tmp.path("empty"));
  EXPECT_THROW(read_jobs(tmp.path("empty"), InputFormat::Jsonl), std::runtime_error);
  EXPECT_THROW(read_jobs(tmp.path("missing.jsonl"), InputFormat::Jsonl), std::runtime_error);
}

}  // namespace
}  // namespace scout::batch
