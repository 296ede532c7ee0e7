// The mean of a stream of values and the standard error of that mean, summed
// in double. The error is llama.cpp's estimate, sqrt((E[x^2] - E[x]^2) / (n - 1)),
// so scout's "PPL +/- err" and "KLD +/- err" read like the numbers published
// with llama.cpp's perplexity tool.
#pragma once

#include <cmath>
#include <cstdint>

namespace scout::eval {

class RunningStats {
 public:
  void add(double x) {
    ++n_;
    sum_ += x;
    sum2_ += x * x;
  }
  uint64_t count() const { return n_; }
  double mean() const { return n_ ? sum_ / static_cast<double>(n_) : 0.0; }
  double standard_error() const {
    if (n_ < 2) return 0.0;
    const double m = mean();
    const double var = sum2_ / static_cast<double>(n_) - m * m;
    return var > 0 ? std::sqrt(var / static_cast<double>(n_ - 1)) : 0.0;
  }

 private:
  uint64_t n_ = 0;
  double sum_ = 0;
  double sum2_ = 0;
};

// Perplexity from negative log-likelihoods (natural log): exp(mean nll), and
// its error by the delta method, PPL * se(nll).
class PerplexityStats : public RunningStats {
 public:
  double ppl() const { return std::exp(mean()); }
  double ppl_error() const { return ppl() * standard_error(); }
};

}  // namespace scout::eval
