// The request bodies of `scout serve` (server/request.h): every field of
// /v1/chat/completions and /v1/completions, each error with the field it
// names, the nesting limit, content parts with their image markers, and the
// /tokenize and /detokenize bodies.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/request.h"
#include "vision/media_prompt.h"

namespace scout::server {
namespace {

using json = nlohmann::json;

CompletionRequest chat(const std::string& body, const ParseLimits& limits = {}) {
  return parse_completion_request(body, Endpoint::ChatCompletions, limits);
}
CompletionRequest completion(const std::string& body, const ParseLimits& limits = {}) {
  return parse_completion_request(body, Endpoint::Completions, limits);
}

// A chat body: one user message plus `extra` fields (",\"n\": 2").
std::string chat_body(const std::string& extra) {
  return R"({"messages": [{"role": "user", "content": "Hi"}])" + extra + "}";
}
std::string completion_body(const std::string& extra) { return R"({"prompt": "Hi")" + extra + "}"; }

// The RequestError a call throws; fails the test when it throws none.
template <typename F>
RequestError error_of(F&& f) {
  try {
    f();
  } catch (const RequestError& e) {
    return e;
  }
  ADD_FAILURE() << "no RequestError";
  return RequestError("none", "<none>", "<none>", 0);
}

struct ErrorCase {
  std::string body;
  std::string param;
  std::string message;  // a part of it
};

void expect_errors(Endpoint endpoint, const std::vector<ErrorCase>& cases) {
  for (const ErrorCase& c : cases) {
    const RequestError e = error_of([&] { parse_completion_request(c.body, endpoint); });
    EXPECT_EQ(e.param, c.param) << c.body << " -> " << e.what();
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.body << " -> " << e.what();
    EXPECT_EQ(e.status, 400) << c.body;
    // Every message must be encodable in the JSON error body.
    EXPECT_NO_THROW(json({{"message", e.what()}, {"param", e.param}}).dump()) << c.body;
  }
}

TEST(RequestChat, MinimalBodyTakesTheDefaults) {
  const CompletionRequest r = chat(R"({"messages": [{"role": "user", "content": "Hello"}]})");
  EXPECT_EQ(r.endpoint, Endpoint::ChatCompletions);
  EXPECT_EQ(r.model, "");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0], (chat::Message{"user", "Hello"}));
  EXPECT_FALSE(r.max_tokens);
  EXPECT_FALSE(r.temperature);
  EXPECT_FALSE(r.top_p);
  EXPECT_FALSE(r.top_k);
  EXPECT_FALSE(r.min_p);
  EXPECT_FALSE(r.presence_penalty);
  EXPECT_FALSE(r.frequency_penalty);
  EXPECT_FALSE(r.repeat_penalty);
  EXPECT_FALSE(r.seed);
  EXPECT_TRUE(r.stop.empty());
  EXPECT_FALSE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 0);
  EXPECT_EQ(r.n, 1);
  EXPECT_FALSE(r.json_object);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
  EXPECT_TRUE(r.prompt.empty());
  EXPECT_FALSE(r.prompt_is_tokens);
}

TEST(RequestChat, EveryField) {
  const CompletionRequest r = chat(R"({
    "model": "llama4-scout", "user": "u1", "metadata": {"a": "b"}, "store": false,
    "messages": [
      {"role": "developer", "content": "Be brief."},
      {"role": "system", "content": "Really brief.", "name": "sys"},
      {"role": "user", "content": "Hi", "name": "bob"},
      {"role": "assistant", "content": null},
      {"role": "assistant"},
      {"role": "assistant", "content": "Hello", "tool_calls": []},
      {"role": "user", "content": [{"type": "text", "text": "again"}]}],
    "max_completion_tokens": 64, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
    "presence_penalty": -1.5, "frequency_penalty": 2, "repeat_penalty": 1.1, "seed": 42,
    "stop": ["END", "", "###"], "ignore_eos": true, "logprobs": true, "top_logprobs": 5, "n": 3,
    "response_format": {"type": "json_object"}, "stream": true, "stream_options": {"include_usage": true},
    "tools": [], "tool_choice": "none", "parallel_tool_calls": false, "logit_bias": {}, "modalities": ["text"],
    "functions": null, "audio": null, "prediction": null})");
  EXPECT_EQ(r.model, "llama4-scout");
  const std::vector<chat::Message> want = {
      {"system", "Be brief."}, {"system", "Really brief."}, {"user", "Hi"}, {"assistant", ""},
      {"assistant", ""},       {"assistant", "Hello"},      {"user", "again"}};
  EXPECT_EQ(r.messages, want);
  EXPECT_EQ(r.max_tokens, 64);
  EXPECT_EQ(r.temperature, 0.7f);
  EXPECT_EQ(r.top_p, 0.9f);
  EXPECT_EQ(r.top_k, 40);
  EXPECT_EQ(r.min_p, 0.05f);
  EXPECT_EQ(r.presence_penalty, -1.5f);
  EXPECT_EQ(r.frequency_penalty, 2.0f);
  EXPECT_EQ(r.repeat_penalty, 1.1f);
  EXPECT_EQ(r.seed, 42u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"END", "###"}));
  EXPECT_TRUE(r.ignore_eos);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 5);
  EXPECT_EQ(r.n, 3);
  EXPECT_TRUE(r.json_object);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(RequestChat, NullMeansAbsent) {
  const CompletionRequest r = chat(chat_body(
      R"(, "model": null, "max_tokens": null, "max_completion_tokens": null, "temperature": null, "top_p": null,
      "top_k": null, "min_p": null, "presence_penalty": null, "frequency_penalty": null, "repeat_penalty": null,
      "seed": null, "stop": null, "logprobs": null, "top_logprobs": null, "n": null, "response_format": null,
      "stream": null, "stream_options": null, "tool_choice": null, "function_call": null, "logit_bias": null,
      "modalities": null)"));
  EXPECT_EQ(r.model, "");
  EXPECT_FALSE(r.max_tokens);
  EXPECT_FALSE(r.temperature);
  EXPECT_FALSE(r.seed);
  EXPECT_TRUE(r.stop.empty());
  EXPECT_EQ(r.n, 1);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.logprobs);
}

TEST(RequestChat, RangeEdgesAreAccepted) {
  CompletionRequest r = chat(chat_body(R"(, "temperature": 0, "top_p": 1, "top_k": 0, "min_p": 1,
      "presence_penalty": 2, "frequency_penalty": -2, "n": 16, "max_tokens": 1, "top_logprobs": 20, "logprobs": true)"));
  EXPECT_EQ(r.temperature, 0.0f);
  EXPECT_EQ(r.top_p, 1.0f);
  EXPECT_EQ(r.top_k, 0);
  EXPECT_EQ(r.min_p, 1.0f);
  EXPECT_EQ(r.presence_penalty, 2.0f);
  EXPECT_EQ(r.frequency_penalty, -2.0f);
  EXPECT_EQ(r.n, 16);
  EXPECT_EQ(r.max_tokens, 1);
  EXPECT_EQ(r.top_logprobs, 20);
  r = chat(chat_body(R"(, "temperature": 2, "top_k": 2147483647, "top_logprobs": 0, "logprobs": true)"));
  EXPECT_EQ(r.temperature, 2.0f);
  EXPECT_EQ(r.top_k, 2147483647);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 0);
  // logprobs without top_logprobs; logprobs false with nothing else.
  r = chat(chat_body(R"(, "logprobs": true)"));
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 0);
  r = chat(chat_body(R"(, "logprobs": false)"));
  EXPECT_FALSE(r.logprobs);
}

TEST(RequestChat, SeedsAreSixtyFourBitsSignedOrNot) {
  EXPECT_EQ(chat(chat_body(R"(, "seed": -1)")).seed, 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(chat(chat_body(R"(, "seed": -9223372036854775808)")).seed, 0x8000000000000000ull);
  EXPECT_EQ(chat(chat_body(R"(, "seed": 18446744073709551615)")).seed, 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(chat(chat_body(R"(, "seed": 0)")).seed, 0u);
}

TEST(RequestChat, MaxTokensAndMaxCompletionTokens) {
  EXPECT_EQ(chat(chat_body(R"(, "max_tokens": 7)")).max_tokens, 7);
  EXPECT_EQ(chat(chat_body(R"(, "max_completion_tokens": 8)")).max_tokens, 8);
  EXPECT_EQ(chat(chat_body(R"(, "max_tokens": 9, "max_completion_tokens": 9)")).max_tokens, 9);
  EXPECT_EQ(chat(chat_body(R"(, "max_tokens": null, "max_completion_tokens": 9)")).max_tokens, 9);
  EXPECT_EQ(chat(chat_body(R"(, "max_tokens": 9223372036854775807)")).max_tokens, 9223372036854775807LL);
  expect_errors(Endpoint::ChatCompletions,
                {{chat_body(R"(, "max_tokens": 9, "max_completion_tokens": 10)"), "max_completion_tokens", "differ"},
                 {chat_body(R"(, "max_tokens": 0)"), "max_tokens", "\"max_tokens\" must be an integer >= 1"},
                 {chat_body(R"(, "max_tokens": -1)"), "max_tokens", "integer >= 1"},
                 {chat_body(R"(, "max_tokens": 3.0)"), "max_tokens", "integer >= 1"},
                 {chat_body(R"(, "max_tokens": "5")"), "max_tokens", "integer >= 1"},
                 {chat_body(R"(, "max_tokens": 18446744073709551615)"), "max_tokens", "integer >= 1"},
                 {chat_body(R"(, "max_completion_tokens": 0)"), "max_completion_tokens", "integer >= 1"}});
}

TEST(RequestChat, SamplingErrorsNameTheirField) {
  expect_errors(
      Endpoint::ChatCompletions,
      {
          {chat_body(R"(, "temperature": 2.5)"), "temperature", "\"temperature\" must be a number from 0 to 2"},
          {chat_body(R"(, "temperature": -0.1)"), "temperature", "from 0 to 2"},
          {chat_body(R"(, "temperature": "hot")"), "temperature", "from 0 to 2"},
          {chat_body(R"(, "temperature": true)"), "temperature", "from 0 to 2"},
          {chat_body(R"(, "top_p": 0)"), "top_p", "\"top_p\" must be a number > 0 and <= 1"},
          {chat_body(R"(, "top_p": 1e-300)"), "top_p", "> 0"},  // 0 as a float
          {chat_body(R"(, "top_p": 1.5)"), "top_p", "> 0 and <= 1"},
          {chat_body(R"(, "top_k": -1)"), "top_k", "\"top_k\" must be an integer from 0 to 2147483647"},
          {chat_body(R"(, "top_k": 2147483648)"), "top_k", "integer from 0"},
          {chat_body(R"(, "top_k": 4.5)"), "top_k", "integer from 0"},
          {chat_body(R"(, "min_p": 1.01)"), "min_p", "\"min_p\" must be a number from 0 to 1"},
          {chat_body(R"(, "presence_penalty": -2.01)"), "presence_penalty", "from -2 to 2"},
          {chat_body(R"(, "frequency_penalty": 3)"), "frequency_penalty", "from -2 to 2"},
          {chat_body(R"(, "repeat_penalty": 0)"), "repeat_penalty", "\"repeat_penalty\" must be a number > 0"},
          {chat_body(R"(, "repeat_penalty": -1)"), "repeat_penalty", "> 0"},
          {chat_body(R"(, "repeat_penalty": 1e300)"), "repeat_penalty", "> 0"},  // infinite as a float
          {chat_body(R"(, "seed": 1.5)"), "seed", "\"seed\" must be an integer"},
          {chat_body(R"(, "seed": "7")"), "seed", "must be an integer"},
          {chat_body(R"(, "n": 0)"), "n", "\"n\" must be an integer from 1 to 16"},
          {chat_body(R"(, "n": 17)"), "n", "from 1 to 16"},
          {chat_body(R"(, "n": 2.0)"), "n", "from 1 to 16"},
          {chat_body(R"(, "stream": 1)"), "stream", "\"stream\" must be true or false"},
          {chat_body(R"(, "model": 5)"), "model", "\"model\" must be a string"},
      });
}

TEST(RequestChat, LogprobsErrors) {
  expect_errors(Endpoint::ChatCompletions,
                {{chat_body(R"(, "top_logprobs": 3)"), "top_logprobs", "needs \"logprobs\": true"},
                 {chat_body(R"(, "logprobs": false, "top_logprobs": 3)"), "top_logprobs", "needs \"logprobs\": true"},
                 {chat_body(R"(, "logprobs": true, "top_logprobs": 21)"), "top_logprobs", "integer from 0 to 20"},
                 {chat_body(R"(, "logprobs": true, "top_logprobs": -1)"), "top_logprobs", "integer from 0 to 20"},
                 {chat_body(R"(, "logprobs": 1)"), "logprobs", "\"logprobs\" must be true or false"}});
}

TEST(RequestChat, StopStrings) {
  EXPECT_EQ(chat(chat_body(R"(, "stop": "\n")")).stop, (std::vector<std::string>{"\n"}));
  EXPECT_TRUE(chat(chat_body(R"(, "stop": "")")).stop.empty());
  EXPECT_TRUE(chat(chat_body(R"(, "stop": [])")).stop.empty());
  EXPECT_TRUE(chat(chat_body(R"(, "stop": ["", ""])")).stop.empty());
  ParseLimits two;
  two.max_stop = 2;
  EXPECT_EQ(chat(chat_body(R"(, "stop": ["a", "b"])"), two).stop, (std::vector<std::string>{"a", "b"}));
  const RequestError e = error_of([&] { chat(chat_body(R"(, "stop": ["a", "b", "c"])"), two); });
  EXPECT_EQ(e.param, "stop");
  EXPECT_NE(std::string(e.what()).find("at most 2"), std::string::npos) << e.what();
  std::string seventeen = R"(, "stop": [)";
  for (int i = 0; i < 17; ++i) seventeen += (i ? ", " : "") + std::string("\"s\"");
  expect_errors(Endpoint::ChatCompletions,
                {{chat_body(seventeen + "]"), "stop", "at most 16"},
                 {chat_body(R"(, "stop": 3)"), "stop", "\"stop\" must be a string or an array of strings"},
                 {chat_body(R"(, "stop": {"a": 1})"), "stop", "a string or an array of strings"},
                 {chat_body(R"(, "stop": ["a", 3])"), "stop[1]", "\"stop[1]\" must be a string"},
                 {chat_body(R"(, "stop": [null])"), "stop[0]", "must be a string"}});
}

TEST(RequestChat, ResponseFormatAndStreamOptions) {
  EXPECT_FALSE(chat(chat_body(R"(, "response_format": {"type": "text"})")).json_object);
  EXPECT_TRUE(chat(chat_body(R"(, "response_format": {"type": "json_object"})")).json_object);
  CompletionRequest r = chat(chat_body(R"(, "stream": true)"));
  EXPECT_TRUE(r.stream);
  EXPECT_FALSE(r.include_usage);
  r = chat(chat_body(R"(, "stream": true, "stream_options": {"include_usage": false, "continuous_usage_stats": true})"));
  EXPECT_TRUE(r.stream);
  EXPECT_FALSE(r.include_usage);
  r = chat(chat_body(R"(, "stream": true, "stream_options": {})"));
  EXPECT_FALSE(r.include_usage);
  EXPECT_FALSE(chat(chat_body(R"(, "stream": false, "stream_options": null)")).stream);
  expect_errors(
      Endpoint::ChatCompletions,
      {
          {chat_body(R"(, "response_format": {"type": "json_schema", "json_schema": {"name": "x"}})"), "response_format",
           "\"json_schema\" is not supported by scout"},
          {chat_body(R"(, "response_format": {"type": "yaml"})"), "response_format",
           "must be \"text\" or \"json_object\", not \"yaml\""},
          {chat_body(R"(, "response_format": {"type": 3})"), "response_format", "not 3"},
          {chat_body(R"(, "response_format": {})"), "response_format", "\"response_format.type\" is required"},
          {chat_body(R"(, "response_format": "json_object")"), "response_format", "must be an object"},
          {chat_body(R"(, "stream_options": {"include_usage": true})"), "stream_options",
           "stream_options is only allowed with stream: true"},
          {chat_body(R"(, "stream": false, "stream_options": {"include_usage": true})"), "stream_options",
           "only allowed with stream: true"},
          {chat_body(R"(, "stream": true, "stream_options": true)"), "stream_options", "must be an object"},
          {chat_body(R"(, "stream": true, "stream_options": {"include_usage": "yes"})"),
           "stream_options.include_usage", "must be true or false"},
      });
}

TEST(RequestChat, FieldsScoutCannotHonourAreRefused) {
  expect_errors(
      Endpoint::ChatCompletions,
      {
          {chat_body(R"(, "tools": [{"type": "function", "function": {"name": "f"}}])"), "tools",
           "\"tools\" is not supported by scout"},
          {chat_body(R"(, "tool_choice": "required")"), "tool_choice", "\"tool_choice\" is not supported by scout"},
          {chat_body(R"(, "tool_choice": {"type": "function", "function": {"name": "f"}})"), "tool_choice",
           "not supported"},
          {chat_body(R"(, "functions": [{"name": "f"}])"), "functions", "\"functions\" is not supported by scout"},
          {chat_body(R"(, "function_call": {"name": "f"})"), "function_call", "not supported"},
          {chat_body(R"(, "logit_bias": {"50256": -100})"), "logit_bias", "\"logit_bias\" is not supported by scout"},
          {chat_body(R"(, "logit_bias": 5)"), "logit_bias", "must be an object"},
          {chat_body(R"(, "audio": {"voice": "alloy", "format": "wav"})"), "audio", "\"audio\" is not supported"},
          {chat_body(R"(, "modalities": ["text", "audio"])"), "modalities", "\"modalities\" is not supported"},
          {chat_body(R"(, "modalities": "text")"), "modalities", "must be an array"},
          {chat_body(R"(, "prediction": {"type": "content", "content": "x"})"), "prediction",
           "\"prediction\" is not supported"},
      });
  // Asking for nothing is fine; so are keys scout does not know, and "auto" with no tools.
  EXPECT_NO_THROW(chat(chat_body(R"(, "tools": null, "tool_choice": "auto", "function_call": "none",
      "parallel_tool_calls": true, "modalities": [], "service_tier": "auto", "reasoning_effort": "low",
      "echo": true, "suffix": "x", "best_of": 5)")));
}

TEST(RequestChat, RolesAndMessageErrors) {
  ParseLimits three;
  three.max_messages = 3;
  EXPECT_EQ(chat(R"({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
      {"role": "user", "content": "c"}]})", three).messages.size(), 3u);
  const RequestError many = error_of([&] {
    chat(R"({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
      {"role": "user", "content": "c"}, {"role": "user", "content": "d"}]})", three);
  });
  EXPECT_EQ(many.param, "messages");
  EXPECT_NE(std::string(many.what()).find("at most 3"), std::string::npos) << many.what();
  expect_errors(
      Endpoint::ChatCompletions,
      {
          {R"({})", "messages", "\"messages\" is required"},
          {R"({"messages": null})", "messages", "\"messages\" is required"},
          {R"({"messages": []})", "messages", "non-empty array"},
          {R"({"messages": {"role": "user"}})", "messages", "non-empty array"},
          {R"({"messages": ["hi"]})", "messages[0]", "\"messages[0]\" must be an object"},
          {R"({"messages": [{"content": "x"}]})", "messages[0].role", "\"messages[0].role\" is required"},
          {R"({"messages": [{"role": 1, "content": "x"}]})", "messages[0].role", "must be a string"},
          {R"({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "42", "tool_call_id": "c"}]})",
           "messages[1].role", "role \"tool\" is not supported by scout"},
          {R"({"messages": [{"role": "function", "name": "f", "content": "42"}]})", "messages[0].role",
           "role \"function\" is not supported"},
          {R"({"messages": [{"role": "robot", "content": "x"}]})", "messages[0].role",
           "must be system, developer, user or assistant, not \"robot\""},
          {R"({"messages": [{"role": "user"}]})", "messages[0].content", "\"messages[0].content\" is required"},
          {R"({"messages": [{"role": "system", "content": null}]})", "messages[0].content", "is required"},
          {R"({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 5}]})", "messages[1].content",
           "\"messages[1].content\" must be a string or an array of content parts"},
          {R"({"messages": [{"role": "user", "content": {"type": "text"}}]})", "messages[0].content",
           "array of content parts"},
          {R"({"messages": [{"role": "assistant", "content": "x", "tool_calls": [{"id": "c"}]}]})",
           "messages[0].tool_calls", "\"messages[0].tool_calls\" is not supported by scout"},
          {R"({"messages": [{"role": "assistant", "content": "x", "function_call": {"name": "f"}}]})",
           "messages[0].function_call", "not supported"},
          {R"({"messages": [{"role": "assistant", "audio": {"id": "a"}}]})", "messages[0].audio", "not supported"},
      });
}

TEST(RequestChat, LongOrBrokenValuesAreQuotedShortAndValid) {
  const std::string role(5000, 'r');
  const RequestError e = error_of([&] { chat(R"({"messages": [{"role": ")" + role + R"(", "content": "x"}]})"); });
  EXPECT_EQ(e.param, "messages[0].role");
  EXPECT_LT(std::string(e.what()).size(), 200u) << e.what();
  // A role cut inside a multi-byte character stays valid UTF-8.
  std::string accented;
  for (int i = 0; i < 100; ++i) accented += "\xC3\xA9";  // é
  const RequestError u = error_of([&] { chat(R"({"messages": [{"role": "x)" + accented + R"(", "content": "x"}]})"); });
  EXPECT_NO_THROW(json(u.what()).dump()) << u.what();
  EXPECT_NE(std::string(u.what()).find("..."), std::string::npos);
}

TEST(RequestChat, ContentPartsPlaceImagesWhereTheyAre) {
  EXPECT_EQ(vision::kMediaMarker, "<__media__>");  // request.cpp spells it out
  const CompletionRequest r = chat(R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [
      {"type": "text", "text": "Compare "}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ==", "detail": "high"}},
      {"type": "text", "text": " with "}, {"type": "image_url", "image_url": "data:image/jpeg;base64,Qg=="},
      {"type": "image_url", "image_url": {"url": "https://example.com/c.png"}}]}]})");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_TRUE(r.messages[0].images.empty());
  EXPECT_EQ(r.messages[1].role, "user");
  EXPECT_EQ(r.messages[1].content, "Compare <__media__> with <__media__><__media__>");
  // The urls as given: whether they can be read is decided when the request runs.
  EXPECT_EQ(r.messages[1].images, (std::vector<std::string>{"data:image/png;base64,QQ==", "data:image/jpeg;base64,Qg==",
                                                             "https://example.com/c.png"}));
  // Text parts alone join with no separator; an image first reads as `scout run --image` does.
  const CompletionRequest t = chat(R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
      {"type": "text", "text": "b"}]}, {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,x"}},
      {"type": "text", "text": "What is it?"}]}, {"role": "user", "content": []}]})");
  EXPECT_EQ(t.messages[0].content, "ab");
  EXPECT_TRUE(t.messages[0].images.empty());
  EXPECT_EQ(t.messages[1].content, "<__media__>What is it?");
  EXPECT_EQ(t.messages[1].images, (std::vector<std::string>{"data:,x"}));
  EXPECT_EQ(t.messages[2].content, "");
}

TEST(RequestChat, ContentPartErrors) {
  const auto body = [](const std::string& part) {
    return R"({"messages": [{"role": "user", "content": "x"}, {"role": "user", "content": [{"type": "text", "text": "a"}, )" +
           part + "]}]}";
  };
  expect_errors(
      Endpoint::ChatCompletions,
      {
          {body(R"("text")"), "messages[1].content[1]", "\"messages[1].content[1]\" must be a content part"},
          {body(R"({"text": "x"})"), "messages[1].content[1].type", "\"messages[1].content[1].type\" is required"},
          {body(R"({"type": 3})"), "messages[1].content[1].type", "must be a string"},
          {body(R"({"type": "text"})"), "messages[1].content[1].text", "\"messages[1].content[1].text\" is required"},
          {body(R"({"type": "text", "text": 3})"), "messages[1].content[1].text", "must be a string"},
          {body(R"({"type": "image_url"})"), "messages[1].content[1].image_url", "is required in an image_url part"},
          {body(R"({"type": "image_url", "image_url": {}})"), "messages[1].content[1].image_url.url",
           "\"messages[1].content[1].image_url.url\" is required"},
          {body(R"({"type": "image_url", "image_url": {"url": 5}})"), "messages[1].content[1].image_url.url",
           "must be a non-empty string"},
          {body(R"({"type": "image_url", "image_url": {"url": ""}})"), "messages[1].content[1].image_url.url",
           "non-empty string"},
          {body(R"({"type": "image_url", "image_url": ""})"), "messages[1].content[1].image_url", "non-empty string"},
          {body(R"({"type": "image_url", "image_url": 7})"), "messages[1].content[1].image_url", "non-empty string"},
          {body(R"({"type": "input_audio", "input_audio": {"data": "", "format": "wav"}})"),
           "messages[1].content[1].type", "content part type \"input_audio\" is not supported by scout"},
      });
}

TEST(RequestCompletion, StringPrompt) {
  const CompletionRequest r = completion(R"({"model": "m", "prompt": "Once upon a time", "max_tokens": 16,
      "temperature": 0, "logprobs": null, "echo": false, "suffix": "", "best_of": 1, "stream": true,
      "stream_options": {"include_usage": true}, "stop": "\n\n", "seed": 3, "user": "x"})");
  EXPECT_EQ(r.endpoint, Endpoint::Completions);
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.prompt, "Once upon a time");
  EXPECT_FALSE(r.prompt_is_tokens);
  EXPECT_TRUE(r.prompt_tokens.empty());
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.max_tokens, 16);
  EXPECT_EQ(r.temperature, 0.0f);
  EXPECT_FALSE(r.logprobs);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n\n"}));
  EXPECT_EQ(r.seed, 3u);
  EXPECT_EQ(completion(R"({"prompt": ""})").prompt, "");
  EXPECT_EQ(completion(R"({"prompt": ["only one"]})").prompt, "only one");
  EXPECT_FALSE(completion(R"({"prompt": ["only one"]})").prompt_is_tokens);
}

TEST(RequestCompletion, TokenPrompts) {
  CompletionRequest r = completion(R"({"prompt": [1, 15043, 0, 2147483647]})");
  EXPECT_TRUE(r.prompt_is_tokens);
  EXPECT_EQ(r.prompt_tokens, (std::vector<int32_t>{1, 15043, 0, 2147483647}));
  EXPECT_TRUE(r.prompt.empty());
  r = completion(R"({"prompt": [[5, 6, 7]]})");
  EXPECT_TRUE(r.prompt_is_tokens);
  EXPECT_EQ(r.prompt_tokens, (std::vector<int32_t>{5, 6, 7}));
}

TEST(RequestCompletion, PromptErrors) {
  expect_errors(
      Endpoint::Completions,
      {
          {R"({})", "prompt", "\"prompt\" is required"},
          {R"({"prompt": null})", "prompt", "\"prompt\" is required"},
          {R"({"prompt": 5})", "prompt", "\"prompt\" must be a string, an array of token ids"},
          {R"({"prompt": {"text": "x"}})", "prompt", "must be a string"},
          {R"({"prompt": []})", "prompt", "must not be an empty array"},
          {R"({"prompt": [[]]})", "prompt[0]", "\"prompt[0]\" must not be an empty array"},
          {R"({"prompt": ["a", "b"]})", "prompt", "one prompt per request"},
          {R"({"prompt": [[1], [2]]})", "prompt", "one prompt per request"},
          {R"({"prompt": [1, -2]})", "prompt[1]", "\"prompt[1]\" must be a token id (an integer from 0 to 2147483647)"},
          {R"({"prompt": [2147483648]})", "prompt[0]", "token id"},
          {R"({"prompt": [18446744073709551615]})", "prompt[0]", "token id"},
          {R"({"prompt": [1.5]})", "prompt[0]", "token id"},
          {R"({"prompt": [1, "a"]})", "prompt[1]", "token id"},
          {R"({"prompt": [[1, 2, 3.0]]})", "prompt[0][2]", "\"prompt[0][2]\" must be a token id"},
          {R"({"prompt": [[1, [2]]]})", "prompt[0][1]", "token id"},
          {R"({"prompt": [null]})", "prompt", "must be a string, an array of token ids"},
          {R"({"prompt": [true]})", "prompt", "must be a string, an array of token ids"},
      });
}

TEST(RequestCompletion, LogprobsAndUnsupportedFields) {
  CompletionRequest r = completion(completion_body(R"(, "logprobs": 3)"));
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 3);
  r = completion(completion_body(R"(, "logprobs": 0)"));
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 0);
  r = completion(completion_body(R"(, "logprobs": 5, "top_logprobs": 99)"));  // chat's key: not read here
  EXPECT_EQ(r.top_logprobs, 5);
  EXPECT_EQ(completion(completion_body(R"(, "max_completion_tokens": 4)")).max_tokens, 4);
  EXPECT_EQ(completion(completion_body(R"(, "n": 2, "best_of": null)")).n, 2);
  expect_errors(Endpoint::Completions,
                {
                    {completion_body(R"(, "logprobs": 6)"), "logprobs", "\"logprobs\" must be an integer from 0 to 5"},
                    {completion_body(R"(, "logprobs": -1)"), "logprobs", "from 0 to 5"},
                    {completion_body(R"(, "logprobs": true)"), "logprobs", "from 0 to 5"},
                    {completion_body(R"(, "echo": true)"), "echo", "\"echo\" is not supported by scout"},
                    {completion_body(R"(, "echo": "yes")"), "echo", "must be true or false"},
                    {completion_body(R"(, "suffix": "end")"), "suffix", "\"suffix\" is not supported by scout"},
                    {completion_body(R"(, "suffix": 1)"), "suffix", "must be a string"},
                    {completion_body(R"(, "best_of": 2)"), "best_of", "\"best_of\" is not supported by scout"},
                    {completion_body(R"(, "best_of": 0)"), "best_of", "integer >= 1"},
                    {completion_body(R"(, "tools": [{}])"), "tools", "not supported"},
                    {completion_body(R"(, "logit_bias": {"1": 5})"), "logit_bias", "not supported"},
                    {completion_body(R"(, "temperature": 3)"), "temperature", "from 0 to 2"},
                    {completion_body(R"(, "stream_options": {})"), "stream_options", "only allowed with stream: true"},
                    {completion_body(R"(, "n": 99)"), "n", "from 1 to 16"},
                });
}

TEST(RequestBody, NotJsonOrNotAnObject) {
  for (const Endpoint ep : {Endpoint::ChatCompletions, Endpoint::Completions}) {
    for (const char* text : {"", "{", "{\"prompt\": \"x\",}", "nul", "{\"a\" 1}", "{\"prompt\": \"x\"} trailing"}) {
      const RequestError e = error_of([&] { parse_completion_request(text, ep); });
      EXPECT_EQ(e.code, "invalid_json") << text;
      EXPECT_EQ(e.status, 400);
      EXPECT_EQ(e.param, "");
      EXPECT_EQ(std::string(e.what()).rfind("the request body is not valid JSON: ", 0), 0u) << e.what();
      EXPECT_EQ(std::string(e.what()).find("[json.exception"), std::string::npos) << e.what();
    }
    for (const char* text : {"[]", "\"x\"", "3", "null", "true"}) {
      const RequestError e = error_of([&] { parse_completion_request(text, ep); });
      EXPECT_NE(std::string(e.what()).find("must be a JSON object"), std::string::npos) << text << ": " << e.what();
      EXPECT_EQ(e.status, 400);
    }
  }
}

TEST(RequestBody, HugeNumbersAreErrorsNotCrashes) {
  // 4E888 overflows a double: nlohmann throws out_of_range, not parse_error (it crashed the batch parser once).
  for (const char* body : {R"({"prompt": "x", "max_tokens": 4E888})", R"({"prompt": "x", "temperature": -1e999})",
                           R"({"prompt": [4E888]})"}) {
    const RequestError e = error_of([&] { completion(body); });
    EXPECT_EQ(e.code, "invalid_json") << body;
    EXPECT_NE(std::string(e.what()).find("number overflow"), std::string::npos) << e.what();
  }
  // Big but finite: a range error naming the field.
  const RequestError e = error_of([&] { completion(R"({"prompt": "x", "temperature": 1e308})"); });
  EXPECT_EQ(e.param, "temperature");
}

TEST(RequestBody, NestingLimit) {
  const auto nested = [](int levels) {  // the body itself is level 1
    std::string open, close;
    for (int i = 1; i < levels; ++i) open += "[", close += "]";
    return R"({"prompt": "x", "extra": )" + (levels > 1 ? open + close : std::string("0")) + "}";
  };
  EXPECT_NO_THROW(completion(nested(64)));
  const RequestError e = error_of([&] { completion(nested(65)); });
  EXPECT_EQ(e.code, "invalid_json");
  EXPECT_NE(std::string(e.what()).find("nests deeper than 64 levels"), std::string::npos) << e.what();
  ParseLimits shallow;
  shallow.max_depth = 3;
  EXPECT_NO_THROW(chat(R"({"messages": [{"role": "user", "content": "x"}]})", shallow));
  EXPECT_THROW(chat(R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]})", shallow),
               RequestError);
  EXPECT_THROW(parse_json_body(R"({"a": {"b": {"c": {}}}})", shallow), RequestError);
  EXPECT_EQ(parse_json_body(R"({"a": {"b": {"c": 1}}})", shallow)["a"]["b"]["c"], 1);
  // Far deeper than any stack could take recursively: refused at the limit, no crash.
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  const RequestError d = error_of([&] { parse_json_body(deep); });
  EXPECT_EQ(d.code, "invalid_json");
  EXPECT_THROW(parse_tokenize_request(deep), RequestError);
  EXPECT_THROW(parse_detokenize_request(std::string(100000, '{')), RequestError);
}

TEST(RequestBody, ParseErrorsQuoteLittleAndStayValidUtf8) {
  // Ill-formed UTF-8 in a string: nlohmann quotes the bytes it read; the message must still encode as JSON.
  const std::string bad = "{\"prompt\": \"" + std::string(3000, 'a') + "\xFF\xFE\"}";
  const RequestError e = error_of([&] { completion(bad); });
  EXPECT_EQ(e.code, "invalid_json");
  EXPECT_LT(std::string(e.what()).size(), 300u) << e.what();
  EXPECT_NO_THROW(json(e.what()).dump()) << e.what();
  const RequestError c = error_of([&] { completion("{\"prompt\": \"\xC3\"}"); });  // a cut character
  EXPECT_NO_THROW(json(c.what()).dump()) << c.what();
  const RequestError n = error_of([&] { completion(R"({"prompt": "x", "n": )" + std::string(5000, '9') + "e99999}"); });
  EXPECT_LT(std::string(n.what()).size(), 300u) << n.what();
}

TEST(RequestBody, ParsedJsonOverloadReadsTheSame) {
  const json body = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"temperature", 0.5}};
  const CompletionRequest r = parse_completion_request(body, Endpoint::ChatCompletions);
  EXPECT_EQ(r.messages, (std::vector<chat::Message>{{"user", "hi"}}));
  EXPECT_EQ(r.temperature, 0.5f);
  // A json built in code may hold ill-formed UTF-8: quoted in a message, it is made valid.
  const json bad = {{"messages", {{{"role", "\xFFrobot"}, {"content", "hi"}}}}};
  const RequestError e = error_of([&] { parse_completion_request(bad, Endpoint::ChatCompletions); });
  EXPECT_EQ(e.param, "messages[0].role");
  EXPECT_NO_THROW(json(e.what()).dump()) << e.what();
  EXPECT_THROW(parse_completion_request(json::array(), Endpoint::Completions), RequestError);
}

TEST(RequestTokenize, FieldsAndDefaults) {
  TokenizeRequest t = parse_tokenize_request(R"({"content": "Hello <|eot|>"})");
  EXPECT_EQ(t.content, "Hello <|eot|>");
  EXPECT_FALSE(t.add_special);
  EXPECT_TRUE(t.parse_special);
  EXPECT_FALSE(t.with_pieces);
  t = parse_tokenize_request(R"({"content": "", "add_special": true, "parse_special": false, "with_pieces": true, "x": 1})");
  EXPECT_EQ(t.content, "");
  EXPECT_TRUE(t.add_special);
  EXPECT_FALSE(t.parse_special);
  EXPECT_TRUE(t.with_pieces);
  t = parse_tokenize_request(R"({"content": "a", "add_special": null, "parse_special": null, "with_pieces": null})");
  EXPECT_FALSE(t.add_special);
  EXPECT_TRUE(t.parse_special);
  const struct {
    const char* body;
    const char* param;
    const char* message;
  } cases[] = {
      {R"({})", "content", "\"content\" is required"},
      {R"({"content": 5})", "content", "\"content\" must be a string"},
      {R"({"content": "a", "add_special": 1})", "add_special", "\"add_special\" must be true or false"},
      {R"({"content": "a", "parse_special": "no"})", "parse_special", "must be true or false"},
      {R"({"content": "a", "with_pieces": []})", "with_pieces", "must be true or false"},
      {R"(["content"])", "", "must be a JSON object"},
  };
  for (const auto& c : cases) {
    const RequestError e = error_of([&] { parse_tokenize_request(c.body); });
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.body << " -> " << e.what();
  }
  EXPECT_EQ(error_of([] { parse_tokenize_request("{\"content\": "); }).code, "invalid_json");
}

TEST(RequestDetokenize, TokensAndErrors) {
  EXPECT_EQ(parse_detokenize_request(R"({"tokens": [1, 2, 2147483647, 0]})"),
            (std::vector<int32_t>{1, 2, 2147483647, 0}));
  EXPECT_TRUE(parse_detokenize_request(R"({"tokens": []})").empty());
  const struct {
    const char* body;
    const char* param;
    const char* message;
  } cases[] = {
      {R"({})", "tokens", "\"tokens\" is required"},
      {R"({"tokens": null})", "tokens", "\"tokens\" is required"},
      {R"({"tokens": "1 2"})", "tokens", "\"tokens\" must be an array of token ids"},
      {R"({"tokens": [1, -1]})", "tokens[1]", "\"tokens[1]\" must be a token id (an integer from 0 to 2147483647)"},
      {R"({"tokens": [2147483648]})", "tokens[0]", "token id"},
      {R"({"tokens": [1.0]})", "tokens[0]", "token id"},
      {R"({"tokens": [[1]]})", "tokens[0]", "token id"},
      {R"(7)", "", "must be a JSON object"},
  };
  for (const auto& c : cases) {
    const RequestError e = error_of([&] { parse_detokenize_request(c.body); });
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.body << " -> " << e.what();
  }
  const RequestError e = error_of([] { parse_detokenize_request(R"({"tokens": [1e400]})"); });
  EXPECT_EQ(e.code, "invalid_json");
}

}  // namespace
}  // namespace scout::server
