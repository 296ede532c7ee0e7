#include "bench/list_arg.h"

#include <fmt/format.h>

#include <cctype>
#include <limits>
#include <stdexcept>
#include <utility>

namespace scout::bench {

namespace {

int64_t parse_item(const std::string& flag, const std::string& item, int64_t min, int64_t max) {
  auto fail = [&](const std::string& why) {
    return std::invalid_argument(fmt::format("{}: '{}' {}", flag, item, why));
  };
  size_t i = 0;
  uint64_t v = 0;
  constexpr uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  while (i < item.size() && std::isdigit(static_cast<unsigned char>(item[i]))) {
    const uint64_t digit = static_cast<uint64_t>(item[i] - '0');
    if (v > (kLimit - digit) / 10) throw fail("is too large");
    v = v * 10 + digit;
    ++i;
  }
  if (i == 0) throw fail("is not a count");
  if (i < item.size()) {
    const char s = static_cast<char>(std::toupper(static_cast<unsigned char>(item[i])));
    const uint64_t mult = s == 'K' ? 1024 : s == 'M' ? 1024 * 1024 : 0;
    if (mult == 0 || i + 1 != item.size()) throw fail("is not a count");
    if (v > kLimit / mult) throw fail("is too large");
    v *= mult;
  }
  const int64_t value = static_cast<int64_t>(v);
  if (value < min || value > max) throw fail(fmt::format("is out of range [{}, {}]", min, max));
  return value;
}

}  // namespace

std::vector<std::string> split_list(const std::string& flag, const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    // "1, 2" quoted as one argument is fine too.
    const size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    item = b == std::string::npos ? std::string() : item.substr(b, e - b + 1);
    if (item.empty()) throw std::invalid_argument(fmt::format("{}: empty item in the list '{}'", flag, text));
    out.push_back(std::move(item));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

std::vector<int64_t> parse_int_list(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
  std::vector<int64_t> out;
  for (const std::string& item : split_list(flag, text)) out.push_back(parse_item(flag, item, min, max));
  return out;
}

}  // namespace scout::bench
