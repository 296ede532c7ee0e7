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

namespace scout::batch {

// Per-job settings that override the run-wide flags when present.
struct JobOverrides {
  std::optional<int64_t> max_tokens;  // -1: until end of generation or a full context
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<uint64_t> seed;
  std::optional<std::vector<std::string>> stop;
};

struct Job {
  size_t line = 0;        // 1-based position in the input (line, or file in a directory)
  nlohmann::ordered_json id;      // string or integer; null when the input line had none
  std::string prompt;     // plain text, when messages is empty
  std::vector<chat::Message> messages;  // images in Message::images (a data: URI or a resolved path)
  JobOverrides overrides;
  std::string error;      // not empty: the line is reported as this error, not run

  // Resume identity: the id's JSON text, or "line N" for lines without an id.
  std::string key() const;
};

// The same identity for a result already in the output file.
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
