#include "eval/kl_stats.h"

#include <algorithm>
#include <cmath>

namespace scout::eval {

void KlStats::add(const RowComparison& c) {
  ppl_.add(c.nll);
  ppl_base_.add(c.nll_base);
  ln_ratio_.add(c.nll - c.nll_base);
  kl_.add(c.kl);
  kls_.push_back(c.kl);
  same_top_ += c.same_top ? 1 : 0;
}

double KlStats::kl_quantile(double q) const {
  if (kls_.empty()) return 0.0;
  std::vector<double> sorted = kls_;
  std::sort(sorted.begin(), sorted.end());
  // Linear interpolation between the closest ranks.
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

double KlStats::same_top() const {
  return count() ? static_cast<double>(same_top_) / static_cast<double>(count()) : 0.0;
}

double KlStats::same_top_error() const {
  if (count() < 2) return 0.0;
  const double p = same_top();
  return std::sqrt(p * (1 - p) / static_cast<double>(count() - 1));
}

}  // namespace scout::eval
