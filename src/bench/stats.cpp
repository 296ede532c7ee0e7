#include "bench/stats.h"

#include <cmath>

namespace scout::bench {

Summary summarize(std::span<const double> samples) {
  Summary s;
  if (samples.empty()) return s;
  const double n = static_cast<double>(samples.size());
  for (double x : samples) s.mean += x;
  s.mean /= n;
  if (samples.size() < 2) return s;
  // Two passes (not sum of squares) so large, close samples keep their precision.
  double ss = 0.0;
  for (double x : samples) ss += (x - s.mean) * (x - s.mean);
  s.sd = std::sqrt(ss / (n - 1.0));
  return s;
}

}  // namespace scout::bench
