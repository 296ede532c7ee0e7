// The machine's memory read bandwidth, the ceiling for token generation: a
// token reads every active weight once, so tg t/s <= bandwidth / bytes per
// token. Measured by summing a buffer much larger than the last-level cache
// with all threads, each reading its own contiguous slice.
#pragma once

#include <cstdint>
#include <vector>

namespace scout::bench {

struct MemBwResult {
  int threads = 1;
  uint64_t buffer_bytes = 0;
  std::vector<double> samples_gbps;  // every run, GB/s (1e9 bytes per second)
  double best_gbps = 0.0;            // the fastest run: noise only slows a run down
};

// max(1 GiB, 4 x the L3 size), at most a quarter of physical memory.
uint64_t default_mem_bw_bytes();

// One buffer of `bytes` (rounded down to 4 KiB, at least 4 KiB), written
// once, then read `runs` times per thread count.
std::vector<MemBwResult> measure_read_bandwidth(const std::vector<int64_t>& threads, uint64_t bytes, int runs = 5);

}  // namespace scout::bench
