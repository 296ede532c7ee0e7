// Where `scout batch` jobs come from: a JSONL file (one job object a line), a
// text file (one prompt a line, id = the line number), or a directory of .txt
// files (one prompt a file without its final newline, id = the file name, in
// name order).
#pragma once

#include <string>
#include <vector>

#include "batch/job.h"

namespace scout::batch {

// Jsonl: scout's job objects; OpenAI: OpenAI Batch lines (batch/openai_batch.h).
enum class InputFormat { Jsonl, Text, OpenAI };

// A JSONL file's format from its first non-empty line: OpenAI when that is an
// object with "custom_id" and "body", else Jsonl (also for a directory, or a
// file that cannot be read: read_jobs says why).
InputFormat detect_format(const std::string& path);

// A text file's lines without their "\n" (and a "\r" before it, for files
// from Windows); throws std::runtime_error naming the path when it cannot be read.
std::vector<std::string> read_lines(const std::string& path);

// "a, b, ..., and N more": names for an error message, at most 20 listed.
std::string list_some(const std::vector<std::string>& names);

// Reads every job; throws std::runtime_error naming the path when it cannot
// be read. A directory is read as .txt files whatever the format. Blank lines
// are skipped (they keep their line numbers for the ones after them).
std::vector<Job> read_jobs(const std::string& path, InputFormat format);

// Marks later jobs whose id an earlier job already has as errors: the id is
// what resuming goes by, so it has to be unique.
void mark_duplicate_ids(std::vector<Job>& jobs);

// OpenAI Batch input: a custom_id used twice is an error of the whole input
// (std::runtime_error naming each such id and its lines).
void require_unique_ids(const std::vector<Job>& jobs, const std::string& path);

}  // namespace scout::batch
