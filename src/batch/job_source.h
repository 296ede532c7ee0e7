// Where `scout batch` jobs come from: a JSONL file (one job object a line), a
// text file (one prompt a line, id = the line number), or a directory of .txt
// files (one prompt a file without its final newline, id = the file name, in
// name order).
#pragma once

#include <string>
#include <vector>

#include "batch/job.h"

namespace scout::batch {

enum class InputFormat { Jsonl, Text };

// Reads every job; throws std::runtime_error naming the path when it cannot
// be read. A directory is read as .txt files whatever the format. Blank lines
// are skipped (they keep their line numbers for the ones after them).
std::vector<Job> read_jobs(const std::string& path, InputFormat format);

// Marks later jobs whose id an earlier job already has as errors: the id is
// what resuming goes by, so it has to be unique.
void mark_duplicate_ids(std::vector<Job>& jobs);

}  // namespace scout::batch
