// What a KL-divergence run reports about a quantized model against its base,
// the statistics users compare quantizations by: both perplexities, the mean
// KL divergence with its error and its distribution, and how often the two
// models agree on the most likely next token.
#pragma once

#include <cstdint>
#include <vector>

#include "eval/kl_divergence.h"
#include "eval/running_stats.h"

namespace scout::eval {

class KlStats {
 public:
  void add(const RowComparison& c);

  uint64_t count() const { return kl_.count(); }
  const PerplexityStats& ppl() const { return ppl_; }
  const PerplexityStats& ppl_base() const { return ppl_base_; }
  const RunningStats& ln_ppl_ratio() const { return ln_ratio_; }  // mean of nll - nll_base
  const RunningStats& kl() const { return kl_; }
  // The q-quantile (0..1) of the per-position KL divergences.
  double kl_quantile(double q) const;
  double same_top() const;        // fraction, 0..1
  double same_top_error() const;  // binomial standard error of that fraction

 private:
  PerplexityStats ppl_, ppl_base_;
  RunningStats ln_ratio_, kl_;
  std::vector<double> kls_;
  uint64_t same_top_ = 0;
};

}  // namespace scout::eval
