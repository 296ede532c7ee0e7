// One unit of `scout batch` work: an id, a prompt (plain text or chat
// messages) and optional per-job sampling overrides, or, for an input line
// that cannot be run, the error to report for it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "server/request.h"

namespace scout::batch {

// Per-job settings that override the run-wide flags when present.
struct JobOverrides {
  std::optional<int64_t> max_tokens;  // -1: until end of generation or a full context
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<uint64_t> seed;
  std::optional<std::vector<std::string>> stop;
  // The rest come from OpenAI Batch lines (server::CompletionRequest's fields).
  std::optional<int32_t> top_k;
  std::optional<float> min_p;
  std::optional<float> presence_penalty;
  std::optional<float> frequency_penalty;
  std::optional<float> repeat_penalty;
  bool ignore_eos = false;
  bool json_object = false;  // response_format {"type": "json_object"}
  int top_logprobs = -1;     // -1: no logprobs
};

struct Job {
  size_t line = 0;        // 1-based position in the input (line, or file in a directory)
  nlohmann::ordered_json id;      // string or integer; null when the input line had none
  std::string prompt;     // plain text, when messages is empty
  std::vector<chat::Message> messages;  // images in Message::images (a data: URI or a resolved path)
  JobOverrides overrides;
  std::string error;      // not empty: the line is reported as this error, not run
  std::string error_param, error_code;  // OpenAI's param and code for that error (Batch lines)

  // An OpenAI Batch line (batch/openai_batch.h): id is its custom_id, and the
  // result is a Batch output line whose body is what this endpoint answers.
  std::optional<server::Endpoint> endpoint;
  std::string model;                   // the body's "model" (empty: the model file's name)
  std::vector<int32_t> prompt_tokens;  // /v1/completions with token ids
  bool prompt_is_tokens = false;

  // Resume identity: the id's JSON text, or "line N" for lines without an id.
  std::string key() const;
};

// The same identity for a result already in the output file: a Batch output
// line's custom_id, a scout result's id, or "line N".
std::optional<std::string> result_key(const nlohmann::ordered_json& result);

// Parses one JSONL line: {"id": ..., "prompt": "..."} or {"id": ...,
// "messages": [{"role": ..., "content": ...}]}, with optional max_tokens,
// temperature, top_p, seed, stop (a string or an array of strings). A
// message's content is a string or OpenAI content parts ({"type": "text",
// "text": ...}, {"type": "image_url", "image_url": {"url": ...}}): an image's
// url is a data: URI or a local path, relative ones from base_dir (the input
// file's folder); the image itself is read when the job runs. Never throws:
// a broken line gives a Job with error set. Keys scout does not know are
// added to `unknown_keys` (the caller warns once each).
Job parse_jsonl_line(const std::string& line, size_t line_no, std::set<std::string>& unknown_keys,
                     const std::string& base_dir = {});

}  // namespace scout::batch
