// Comma-separated lists of counts on the command line, as llama-bench takes
// them: "-t 1,2,4", "-p 512,1024", "-d 0,8K". Each item may carry a binary
// suffix (K = 1024, M = 1024^2), like scout's other size flags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace scout::bench {

// The items of "a,b, c", trimmed. Throws std::invalid_argument for an empty item.
std::vector<std::string> split_list(const std::string& flag, const std::string& text);

// Throws std::invalid_argument ("-p: 'abc' is not a count") for an empty list
// or item, junk, or a value outside [min, max]. Duplicates are kept: each item
// is a row.
std::vector<int64_t> parse_int_list(const std::string& flag, const std::string& text, int64_t min, int64_t max);

}  // namespace scout::bench
