// Summary statistics of repeated measurements: mean and sample standard
// deviation, as llama-bench reports them ("t/s: mean ± sd").
#pragma once

#include <span>

namespace scout::bench {

struct Summary {
  double mean = 0.0;
  double sd = 0.0;  // sample standard deviation (n - 1); 0 for fewer than 2 samples
};

Summary summarize(std::span<const double> samples);

}  // namespace scout::bench
