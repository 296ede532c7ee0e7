#include "cli/size_arg.h"

#include <cctype>
#include <limits>

#include "cli/command.h"

namespace scout::cli {

uint64_t parse_size_arg(const std::string& flag, const std::string& text) {
  auto bad = [&]() { return UsageError(flag + ": '" + text + "' is not a count (examples: 8192, 128K, 1M)"); };
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) throw bad();
  uint64_t value = 0;
  size_t i = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) throw bad();
    value = value * 10 + digit;
  }
  uint64_t scale = 1;
  if (i < text.size()) {
    switch (std::toupper(static_cast<unsigned char>(text[i]))) {
      case 'K': scale = uint64_t{1} << 10; break;
      case 'M': scale = uint64_t{1} << 20; break;
      case 'G': scale = uint64_t{1} << 30; break;
      default: throw bad();
    }
    ++i;
  }
  if (i != text.size() || value == 0 || value > std::numeric_limits<uint64_t>::max() / scale) throw bad();
  return value * scale;
}

}  // namespace scout::cli
