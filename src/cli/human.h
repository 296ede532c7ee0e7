// Numbers for people: "2.62 B", "1.25 GiB".
#pragma once

#include <cstdint>
#include <string>

namespace scout::cli {

std::string human_count(uint64_t n);   // 2620000000 -> "2.62 B"
std::string human_bytes(uint64_t n);   // 1342177280 -> "1.25 GiB"

}  // namespace scout::cli
