#include "bench/report.h"

#include "bench/table_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

namespace scout::bench {

namespace {

using json = nlohmann::ordered_json;

std::string binary_size_text(uint64_t b) {
  if (b >= (uint64_t{1} << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(b) / (1 << 30));
  if (b >= (uint64_t{1} << 20)) return fmt::format("{:.2f} MiB", static_cast<double>(b) / (1 << 20));
  return fmt::format("{:.2f} KiB", static_cast<double>(b) / 1024);
}

std::string mem_bw_markdown(const Report& rep) {
  Column threads("threads"), buffer("buffer"), best("read GB/s (best)"), mean("mean ± sd");
  for (const MemBwResult& m : rep.mem_bw) {
    const Summary s = summarize(m.samples_gbps);
    threads.cells.push_back(std::to_string(m.threads));
    buffer.cells.push_back(binary_size_text(m.buffer_bytes));
    best.cells.push_back(fmt::format("{:.2f}", m.best_gbps));
    mean.cells.push_back(fmt::format("{:.2f} ± {:.2f}", s.mean, s.sd));
  }
  return render_table({threads, buffer, best, mean});
}

std::string tests_markdown(const Report& rep) {
  const ModelSummary& m = *rep.model;
  const bool any_tg = std::any_of(rep.tests.begin(), rep.tests.end(),
                                  [](const TestResult& r) { return r.test.kind == TestKind::Generate; });
  Column model{"model", false}, type{"type", false}, size{"size"}, params{"params (total / active)"},
      backend{"backend", false}, threads{"threads"}, batch{"n_batch"}, type_k{"type_k", false},
      type_v{"type_v", false}, test{"test"}, ts{"t/s"},
      bpt{"weights/token"}, gbps{"GB/s"}, pct{"% mem-bw"};
  for (const TestResult& r : rep.tests) {
    model.cells.push_back(m.name);
    type.cells.push_back(m.file_type);
    size.cells.push_back(m.size_text);
    params.cells.push_back(m.params_text);
    backend.cells.push_back(rep.backend);
    threads.cells.push_back(std::to_string(r.test.threads));
    batch.cells.push_back(std::to_string(r.test.batch));
    type_k.cells.push_back(r.test.type_k);
    type_v.cells.push_back(r.test.type_v);
    test.cells.push_back(r.test.name());
    ts.cells.push_back(fmt::format("{:.2f} ± {:.2f}", r.ts.mean, r.ts.sd));
    // Weight bytes per token only for one sequence: with several, a pass
    // reads the shared weights once and each sequence's experts.
    const bool tg = r.test.kind == TestKind::Generate && r.test.n_parallel == 1;
    bpt.cells.push_back(tg ? binary_size_text(m.active_bytes) : "");
    gbps.cells.push_back(tg ? fmt::format("{:.2f}", weight_gbps(m, r)) : "");
    const std::optional<double> peak = rep.mem_bw_gbps(r.test.threads);
    pct.cells.push_back(tg && peak ? fmt::format("{:.1f}%", 100.0 * weight_gbps(m, r) / *peak) : "");
  }
  std::vector<Column> cols = {model, type, size, params, backend, threads};
  if (rep.show_batch) cols.push_back(batch);
  // As llama-bench: the KV type columns only when some row is not f16.
  const bool kv_types = std::any_of(rep.tests.begin(), rep.tests.end(),
                                    [](const TestResult& r) { return r.test.type_k != "f16" || r.test.type_v != "f16"; });
  if (kv_types) cols.insert(cols.end(), {type_k, type_v});
  cols.insert(cols.end(), {test, ts});
  if (any_tg) cols.insert(cols.end(), {bpt, gbps});
  if (any_tg && !rep.mem_bw.empty()) cols.push_back(pct);
  return render_table(cols);
}

std::string images_markdown(const Report& rep) {
  Column image{"image", false}, size{"size"}, layout{"layout", false}, tiles{"tiles"}, backend{"backend", false},
      threads{"threads"}, per_image{"ms/image"}, per_tile{"ms/tile"}, tps{"tiles/s"};
  for (const ImageBenchResult& r : rep.images) {
    image.cells.push_back(std::filesystem::path(r.image).filename().string());
    size.cells.push_back(fmt::format("{}x{}", r.width, r.height));
    layout.cells.push_back(r.layout);
    tiles.cells.push_back(std::to_string(r.tiles));
    backend.cells.push_back(rep.backend);
    threads.cells.push_back(std::to_string(r.threads));
    per_image.cells.push_back(fmt::format("{:.1f} ± {:.1f}", r.ms.mean, r.ms.sd));
    per_tile.cells.push_back(fmt::format("{:.1f}", r.ms_per_tile()));
    tps.cells.push_back(fmt::format("{:.2f}", r.ms.mean > 0 ? 1e3 * static_cast<double>(r.tiles) / r.ms.mean : 0.0));
  }
  return render_table({image, size, layout, tiles, backend, threads, per_image, per_tile, tps});
}

json image_json(const ImageBenchResult& r, const std::string& backend) {
  return {{"test", "image"},       {"image", r.image},         {"image_width", r.width},
          {"image_height", r.height}, {"layout", r.layout},    {"tiles", r.tiles},
          {"backend", backend},     {"n_threads", r.threads},  {"repetitions", r.samples_ms.size()},
          {"avg_ms", r.ms.mean},    {"stddev_ms", r.ms.sd},    {"avg_ms_per_tile", r.ms_per_tile()},
          {"samples_ms", r.samples_ms}};
}

json mem_bw_json(const MemBwResult& m, const std::string& backend) {
  return {{"test", "mem-bw"}, {"backend", backend}, {"n_threads", m.threads}, {"buffer_bytes", m.buffer_bytes},
          {"runs", m.samples_gbps.size()}, {"best_gb_per_s", m.best_gbps}, {"samples_gb_per_s", m.samples_gbps}};
}

json test_json(const Report& rep, const TestResult& r) {
  const ModelSummary& m = *rep.model;
  const bool tg = r.test.kind == TestKind::Generate;
  const bool one_seq_tg = tg && r.test.n_parallel == 1;
  json j = {{"model_filename", m.path},
            {"model_name", m.name},
            {"model_type", m.file_type},
            {"model_size", m.size_bytes},
            {"model_n_params", m.n_params},
            {"model_n_params_active", m.n_params_active},
            {"backend", rep.backend},
            {"n_threads", r.test.threads},
            {"n_batch", r.test.batch},
            {"type_k", r.test.type_k},
            {"type_v", r.test.type_v},
            {"n_prompt", tg ? 0 : r.test.n_tokens},
            {"n_gen", tg ? r.test.n_tokens : 0},
            {"n_depth", r.test.depth},
            {"n_parallel", r.test.n_parallel},
            {"test", r.test.name()},
            {"repetitions", r.samples_ts.size()},
            {"avg_ns", r.ns.mean},
            {"stddev_ns", r.ns.sd},
            {"avg_ts", r.ts.mean},
            {"stddev_ts", r.ts.sd},
            {"samples_ns", r.samples_ns},
            {"samples_ts", r.samples_ts}};
  // Fields every row has, null where they do not apply, so CSV columns line up.
  j["weight_bytes_per_token"] = one_seq_tg ? json(m.active_bytes) : json(nullptr);
  j["weight_gb_per_s"] = one_seq_tg ? json(weight_gbps(m, r)) : json(nullptr);
  const std::optional<double> peak = rep.mem_bw_gbps(r.test.threads);
  j["mem_bw_gb_per_s"] = peak ? json(*peak) : json(nullptr);
  j["mem_bw_pct"] = one_seq_tg && peak ? json(100.0 * weight_gbps(m, r) / *peak) : json(nullptr);
  if (rep.expert_stats) j["expert_counts"] = r.expert_counts;
  return j;
}


}  // namespace

std::optional<double> Report::mem_bw_gbps(int threads) const {
  for (const MemBwResult& m : mem_bw)
    if (m.threads == threads) return m.best_gbps;
  return std::nullopt;
}

double weight_gbps(const ModelSummary& m, const TestResult& r) {
  return static_cast<double>(m.active_bytes) * r.ts.mean / 1e9;
}

std::string to_markdown(const Report& rep) {
  std::string out;
  if (!rep.mem_bw.empty()) out += mem_bw_markdown(rep);
  if (rep.model && !rep.tests.empty()) {
    if (!out.empty()) out += '\n';
    out += tests_markdown(rep);
  }
  if (!rep.images.empty()) {
    if (!out.empty()) out += '\n';
    out += images_markdown(rep);
  }
  return out;
}

json to_json(const Report& rep) {
  json rows = json::array();
  if (rep.model) {
    for (const TestResult& r : rep.tests) rows.push_back(test_json(rep, r));
    for (const ImageBenchResult& r : rep.images) rows.push_back(image_json(r, rep.backend));
  } else {
    for (const MemBwResult& m : rep.mem_bw) rows.push_back(mem_bw_json(m, rep.backend));
  }
  return rows;
}

std::string to_csv(const Report& rep) {
  const json rows = to_json(rep);
  if (rows.empty()) return "";
  std::vector<std::string> keys;  // in first-seen order
  for (const json& row : rows)
    for (const auto& [k, v] : row.items())
      if (k != "expert_counts" && std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  std::string out = fmt::format("{}\n", fmt::join(keys, ","));
  for (const json& row : rows) {
    std::vector<std::string> cells;
    for (const std::string& k : keys) cells.push_back(csv_cell(row.contains(k) ? row[k] : json(nullptr)));
    out += fmt::format("{}\n", fmt::join(cells, ","));
  }
  return out;
}

}  // namespace scout::bench
