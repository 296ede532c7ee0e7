#include "bench/mem_bw.h"

#include <fmt/format.h>
#include <omp.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>

namespace scout::bench {

namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kPage = 4096;

struct FreeDeleter {
  void operator()(uint64_t* p) const { std::free(p); }
};

// A plain sum the compiler vectorises (AVX-512 / AVX2 loads with -march=native);
// one add per 64-bit word is far below what a core can do, so the loads are
// the limit.
uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t s = 0;
#pragma omp simd reduction(+ : s)
  for (size_t i = 0; i < n; ++i) s += p[i];
  return s;
}

// The slice [begin, end) of n words that thread `tid` of `nt` owns.
void slice(size_t n, int tid, int nt, size_t& begin, size_t& end) {
  begin = n * static_cast<size_t>(tid) / static_cast<size_t>(nt);
  end = n * static_cast<size_t>(tid + 1) / static_cast<size_t>(nt);
}

}  // namespace

uint64_t default_mem_bw_bytes() {
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  uint64_t bytes = std::max<uint64_t>(kGiB, l3 > 0 ? 4 * static_cast<uint64_t>(l3) : 0);
  if (pages > 0 && page > 0) bytes = std::min<uint64_t>(bytes, static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 4);
  return bytes;
}

std::vector<MemBwResult> measure_read_bandwidth(const std::vector<int64_t>& threads, uint64_t bytes, int runs) {
  if (threads.empty() || runs < 1) throw std::invalid_argument("memory bandwidth test: no thread counts or runs");
  bytes = std::max(kPage, bytes / kPage * kPage);
  const size_t n = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t, FreeDeleter> buf(static_cast<uint64_t*>(std::aligned_alloc(kPage, bytes)));
  if (!buf) throw std::runtime_error(fmt::format("cannot allocate {} bytes for the memory bandwidth test", bytes));
  uint64_t* p = buf.get();
  madvise(p, bytes, MADV_HUGEPAGE);  // fewer TLB misses; a hint, failure is fine

  // Written (not only allocated): untouched pages all map the one zero page,
  // which would be read from cache. Each thread writes the slice it will read
  // (first touch puts the pages on its NUMA node).
  const int max_threads = static_cast<int>(*std::max_element(threads.begin(), threads.end()));
#pragma omp parallel num_threads(max_threads)
  {
    size_t b, e;
    slice(n, omp_get_thread_num(), omp_get_num_threads(), b, e);
    for (size_t i = b; i < e; ++i) p[i] = i;
  }
  // sum of 0..n-1 (mod 2^64): checks that every word was really read.
  const uint64_t expected = n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2);

  std::vector<MemBwResult> out;
  for (int64_t t : threads) {
    MemBwResult r;
    r.threads = static_cast<int>(t);
    r.buffer_bytes = bytes;
    for (int run = 0; run < runs + 1; ++run) {  // run 0 warms the threads up
      uint64_t total = 0;
      const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(r.threads) reduction(+ : total)
      {
        size_t b, e;
        slice(n, omp_get_thread_num(), omp_get_num_threads(), b, e);
        total += sum_words(p + b, e - b);
      }
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (total != expected) throw std::runtime_error("memory bandwidth test: the buffer read back wrong");
      if (run > 0) r.samples_gbps.push_back(static_cast<double>(bytes) / s / 1e9);
    }
    r.best_gbps = *std::max_element(r.samples_gbps.begin(), r.samples_gbps.end());
    spdlog::info("mem-bw: {} thread{}: {:.2f} GB/s (best of {}, {} MiB buffer)", r.threads, r.threads == 1 ? "" : "s",
                 r.best_gbps, runs, bytes >> 20);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace scout::bench
