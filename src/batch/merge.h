// `scout batch merge`: the output files of the N shards of one input
// (batch/shard.h) into one file in input order, after checking that every
// input id is there exactly once. Works on both formats (scout's results and
// OpenAI Batch output lines), by the same keys resuming uses (Job::key,
// result_key).
#pragma once

#include <string>
#include <vector>

#include "batch/job_source.h"

namespace scout::batch {

struct MergeReport {
  std::vector<std::string> problems;  // one message each; empty: the output was written
  size_t written = 0;                 // lines written
};

// Checks the shard files against the input's jobs: ids missing from every
// file, ids found more than once (in one file or across files), ids not in
// the input, lines that are no results, and files holding ids that hash to
// more than one shard of N = shard_files.size() (from a run with another N).
// Writes `output` only when there is no problem. Throws std::runtime_error
// when a file cannot be read or written.
MergeReport merge_shards(const std::string& input, InputFormat format, const std::vector<std::string>& shard_files,
                         const std::string& output);

}  // namespace scout::batch
