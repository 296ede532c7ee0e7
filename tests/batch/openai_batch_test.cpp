// OpenAI Batch lines: parsing with the server's request parser (fields map to
// the same sampling options), per-line errors (bad url, malformed body, what
// scout batch does not do), and the output lines' shapes.
#include "batch/openai_batch.h"

#include <gtest/gtest.h>

#include "batch/job_source.h"
#include "batch/runner.h"
#include "test_util.h"

namespace scout::batch {
namespace {

using json = nlohmann::ordered_json;

TEST(OpenAIBatch, ParsesAChatLine) {
  const Job job = parse_batch_line(
      R"({"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m",
          "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
          "max_tokens": 7, "temperature": 0.5, "top_p": 0.9, "top_k": 3, "min_p": 0.1, "seed": 11,
          "presence_penalty": 0.5, "frequency_penalty": 0.25, "repeat_penalty": 1.1, "stop": ["x", "y"],
          "logprobs": true, "top_logprobs": 2, "response_format": {"type": "json_object"}}})",
      4);
  ASSERT_EQ(job.error, "");
  EXPECT_EQ(job.line, 4u);
  EXPECT_EQ(job.id, "r1");
  EXPECT_EQ(job.key(), "\"r1\"");
  ASSERT_TRUE(job.endpoint);
  EXPECT_EQ(*job.endpoint, server::Endpoint::ChatCompletions);
  EXPECT_EQ(job.model, "m");
  ASSERT_EQ(job.messages.size(), 2u);
  EXPECT_EQ(job.messages[1].content, "Hi");
  const JobOverrides& o = job.overrides;
  EXPECT_EQ(o.max_tokens, 7);
  EXPECT_FLOAT_EQ(*o.temperature, 0.5f);
  EXPECT_FLOAT_EQ(*o.top_p, 0.9f);
  EXPECT_EQ(o.top_k, 3);
  EXPECT_FLOAT_EQ(*o.min_p, 0.1f);
  EXPECT_EQ(o.seed, 11u);
  EXPECT_FLOAT_EQ(*o.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(*o.frequency_penalty, 0.25f);
  EXPECT_FLOAT_EQ(*o.repeat_penalty, 1.1f);
  EXPECT_EQ(o.stop, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(o.top_logprobs, 2);
  EXPECT_TRUE(o.json_object);
}

TEST(OpenAIBatch, ParsesACompletionLine) {
  Job job = parse_batch_line(R"({"custom_id": "c", "method": "POST", "url": "/v1/completions",
                                  "body": {"prompt": "Once", "max_tokens": 3}})", 1);
  ASSERT_EQ(job.error, "");
  EXPECT_EQ(*job.endpoint, server::Endpoint::Completions);
  EXPECT_EQ(job.prompt, "Once");
  EXPECT_FALSE(job.overrides.temperature);  // left to the run's flags
  EXPECT_EQ(job.overrides.top_logprobs, -1);
  job = parse_batch_line(R"({"custom_id": "t", "url": "/v1/completions", "body": {"prompt": [1, 2, 3]}})", 2);
  ASSERT_EQ(job.error, "");
  EXPECT_TRUE(job.prompt_is_tokens);
  EXPECT_EQ(job.prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
}

TEST(OpenAIBatch, WhatCannotRunIsThatLinesError) {
  struct Case {
    const char* line;
    const char* message;  // a piece of the error
    const char* code;
  };
  const Case cases[] = {
      {R"({"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}})",
       "url \"/v1/embeddings\" is not served", "invalid_url"},
      {R"({"custom_id": "a", "method": "POST", "body": {}})", "url (missing)", "invalid_url"},
      {R"({"custom_id": "a", "method": "GET", "url": "/v1/completions", "body": {}})", "\"method\" must be",
       "invalid_request"},
      {R"({"custom_id": "a", "url": "/v1/chat/completions", "body": {"messages": "hi"}})", "messages", ""},
      {R"({"custom_id": "a", "url": "/v1/chat/completions", "body": {"messages": [{"role": "user", "content": "x"}],
           "temperature": "hot"}})", "temperature", ""},
      {R"({"custom_id": "a", "url": "/v1/chat/completions", "body": {"messages": [{"role": "user", "content": "x"}],
           "logit_bias": {"1": 5}}})", "\"logit_bias\" is not supported", ""},
      {R"({"custom_id": "a", "url": "/v1/completions", "body": {"prompt": "x", "n": 2}})", "one choice per line", ""},
      {R"({"custom_id": "a", "url": "/v1/completions", "body": {"prompt": "x", "stream": true}})", "stream", ""},
      {R"({"custom_id": "a", "url": "/v1/completions", "body": "x"})", "\"body\" must be a JSON object",
       "invalid_request"},
      {R"({"custom_id": 5, "url": "/v1/completions", "body": {}})", "missing \"custom_id\"", "invalid_request"},
      {R"({"custom_id": "a", "url": )", "not valid JSON", "invalid_json"},
  };
  for (const Case& c : cases) {
    const Job job = parse_batch_line(c.line, 3);
    EXPECT_NE(job.error.find(c.message), std::string::npos) << c.line << "\n-> " << job.error;
    if (*c.code) EXPECT_EQ(job.error_code, c.code) << c.line;
    EXPECT_TRUE(job.endpoint) << "a Batch line's error is a Batch output line: " << c.line;
  }
  // The error line: the parser's message, in the body a 400 would carry, and in "error".
  Job bad = parse_batch_line(cases[3].line, 3);
  json out = error_result(bad, bad.error);
  EXPECT_TRUE(out["id"].get<std::string>().starts_with("batch_req_"));
  EXPECT_EQ(out["custom_id"], "a");
  EXPECT_EQ(out["response"]["status_code"], 400);
  EXPECT_TRUE(out["response"]["request_id"].is_string());
  EXPECT_EQ(out["response"]["body"]["error"]["message"], bad.error);
  EXPECT_EQ(out["response"]["body"]["error"]["type"], "invalid_request_error");
  EXPECT_EQ(out["response"]["body"]["error"]["param"], "messages");
  EXPECT_EQ(out["error"]["message"], bad.error);
  EXPECT_TRUE(out["error"]["code"].is_string());
  EXPECT_EQ(result_key(out), "\"a\"");
  // Without a custom_id: no response, and the line number is its identity.
  bad = parse_batch_line(std::end(cases)[-1].line, 9);
  out = error_result(bad, bad.error);
  EXPECT_TRUE(out["custom_id"].is_null());
  EXPECT_TRUE(out["response"].is_null());
  EXPECT_EQ(out["line"], 9);
  EXPECT_EQ(out["error"]["code"], "invalid_json");
  EXPECT_EQ(result_key(out), "line 9");
}

TEST(OpenAIBatch, DetectsTheFormatAndRefusesDuplicateIds) {
  test::TempDir tmp;
  const std::string batch_line = R"({"custom_id": "x", "url": "/v1/completions", "body": {"prompt": "a"}})";
  test::write_file(tmp.path("b.jsonl"), std::vector<uint8_t>(batch_line.begin(), batch_line.end()));
  EXPECT_EQ(detect_format(tmp.path("b.jsonl")), InputFormat::OpenAI);
  const std::string scout_line = "\n{\"id\": \"x\", \"prompt\": \"a\"}\n";
  test::write_file(tmp.path("s.jsonl"), std::vector<uint8_t>(scout_line.begin(), scout_line.end()));
  EXPECT_EQ(detect_format(tmp.path("s.jsonl")), InputFormat::Jsonl);

  const std::string dup = batch_line + "\n" + batch_line + "\n" +
                          R"({"custom_id": "y", "url": "/v1/completions", "body": {"prompt": "b"}})" + "\n";
  test::write_file(tmp.path("d.jsonl"), std::vector<uint8_t>(dup.begin(), dup.end()));
  const std::vector<Job> jobs = read_jobs(tmp.path("d.jsonl"), InputFormat::OpenAI);
  ASSERT_EQ(jobs.size(), 3u);
  try {
    require_unique_ids(jobs, "d.jsonl");
    FAIL() << "duplicates accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("\"x\" (lines 1, 2)"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("\"y\""), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace scout::batch
