#include "bench/expert_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace scout::bench {

namespace {

constexpr int kBarWidth = 40;

}  // namespace

void accumulate(ExpertCounts& a, const ExpertCounts& b) {
  if (a.empty()) {
    a = b;
    return;
  }
  for (size_t il = 0; il < a.size() && il < b.size(); ++il)
    for (size_t e = 0; e < a[il].size() && e < b[il].size(); ++e) a[il][e] += b[il][e];
}

std::string expert_histogram(const ExpertCounts& counts, const std::string& title) {
  std::string out = title + "\n";
  for (size_t il = 0; il < counts.size(); ++il) {
    const std::vector<uint64_t>& row = counts[il];
    if (row.empty()) continue;  // a dense layer
    const uint64_t total = std::accumulate(row.begin(), row.end(), uint64_t{0});
    const uint64_t top = *std::max_element(row.begin(), row.end());
    const double mean = static_cast<double>(total) / static_cast<double>(row.size());
    out += fmt::format("layer {}: {} routes, max/mean {:.2f}\n", il, total,
                       mean > 0 ? static_cast<double>(top) / mean : 0.0);
    const int id_width = static_cast<int>(std::to_string(row.size() - 1).size());
    const int count_width = static_cast<int>(std::to_string(top).size());
    for (size_t e = 0; e < row.size(); ++e) {
      // Bars are scaled per layer so each layer's shape is visible whatever its total.
      const int bar = top ? static_cast<int>((row[e] * kBarWidth + top / 2) / top) : 0;
      std::string bars;
      for (int i = 0; i < bar; ++i) bars += "█";
      out += fmt::format("  e{:<{}} {:>{}} {:5.1f}% {}\n", e, id_width, row[e], count_width,
                         total ? 100.0 * static_cast<double>(row[e]) / static_cast<double>(total) : 0.0, bars);
    }
  }
  return out;
}

}  // namespace scout::bench
