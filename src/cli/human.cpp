#include "cli/human.h"

#include <fmt/format.h>

namespace scout::cli {

std::string human_count(uint64_t n) {
  const double x = static_cast<double>(n);
  if (n >= 1000000000ull) return fmt::format("{:.2f} B", x / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.2f} M", x / 1e6);
  if (n >= 1000ull) return fmt::format("{:.2f} K", x / 1e3);
  return std::to_string(n);
}

std::string human_bytes(uint64_t n) {
  const double x = static_cast<double>(n);
  if (n >= (1ull << 40)) return fmt::format("{:.2f} TiB", x / double(1ull << 40));
  if (n >= (1ull << 30)) return fmt::format("{:.2f} GiB", x / double(1ull << 30));
  if (n >= (1ull << 20)) return fmt::format("{:.2f} MiB", x / double(1ull << 20));
  if (n >= (1ull << 10)) return fmt::format("{:.2f} KiB", x / double(1ull << 10));
  return fmt::format("{} B", n);
}

}  // namespace scout::cli
