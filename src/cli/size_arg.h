// Counts given on the command line with an optional binary suffix:
// "8192", "128K" (131072), "1M", "10M" (10485760).
#pragma once

#include <cstdint>
#include <string>

namespace scout::cli {

// Throws UsageError naming the flag on anything else (negative, junk, overflow).
uint64_t parse_size_arg(const std::string& flag, const std::string& text);

}  // namespace scout::cli
