// `scout bench` results as a markdown table (like llama-bench's; image
// encoding, when measured, in a second table), JSON (an
// array of objects with every field and the raw samples) or CSV. For tg rows
// the memory-bandwidth view: weight bytes read per generated token, the GB/s
// that makes, and its share of the machine's measured read bandwidth.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/image_bench.h"
#include "bench/mem_bw.h"
#include "bench/runner.h"

namespace scout::bench {

struct ModelSummary {
  std::string path;
  std::string name;         // general.name, or the file name
  std::string file_type;    // general.file_type as a name ("Q8_0"); "" when absent
  uint64_t size_bytes = 0;  // all weights
  uint64_t n_params = 0, n_params_active = 0;
  uint64_t active_bytes = 0;  // weight bytes one token reads (see scout/model_info.h)
  // Human forms for the table ("2.61 GiB", "2.62 B / 1.10 B"), made by the CLI.
  std::string size_text, params_text;
};

struct Report {
  std::optional<ModelSummary> model;  // absent: only --mem-bw
  std::string backend = "CPU";
  std::vector<TestResult> tests;
  std::vector<MemBwResult> mem_bw;    // empty unless --mem-bw
  std::vector<ImageBenchResult> images;  // empty unless --mmproj and --image
  bool show_batch = false;            // a column for n_batch (when -b is not the default)
  bool expert_stats = false;

  // The bandwidth the machine reached with `threads`, if measured.
  std::optional<double> mem_bw_gbps(int threads) const;
};

// Weight GB/s a tg row implies: bytes per token x tokens per second.
double weight_gbps(const ModelSummary& m, const TestResult& r);

std::string to_markdown(const Report& report);
// One object per model test, then one per image measurement; with no model,
// one per --mem-bw thread count.
nlohmann::ordered_json to_json(const Report& report);  // keys in a fixed, readable order
// A header line (every key of every object), then one line per object
// to_json() would give, empty where an object lacks the key (the samples as
// "a;b;c"; no expert counts).
std::string to_csv(const Report& report);

}  // namespace scout::bench
