// vLLM's serving metrics on a level's request records, and the serving
// benchmark's reports (markdown tables, JSON, CSV): see serving_metrics.h.
// Pure computation and formatting, kept out of the HTTP client
// (serving_bench.cpp) so that it builds into scout_lib and its tests need no server.
#include "bench/serving_metrics.h"

#include "bench/table_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace scout::bench {

namespace {

using ojson = nlohmann::ordered_json;

double scaling(const ServingReport& rep, const LevelMetrics& m) {
  const LevelMetrics* b = rep.base();
  return b && b->output_throughput > 0 ? m.output_throughput / b->output_throughput : 0.0;
}


}  // namespace

// ---- metrics ------------------------------------------------------------------

double percentile(std::vector<double> x, double p) {
  if (x.empty()) return 0.0;
  std::sort(x.begin(), x.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(x.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, x.size() - 1);
  return x[lo] + (x[hi] - x[lo]) * (rank - static_cast<double>(lo));
}

Distribution distribution_ms(const std::vector<double>& seconds) {
  Distribution d;
  d.count = seconds.size();
  if (seconds.empty()) return d;
  const double n = static_cast<double>(seconds.size());
  double sum = 0;
  for (double s : seconds) sum += s;
  const double mean = sum / n;
  double ss = 0;
  for (double s : seconds) ss += (s - mean) * (s - mean);
  d.mean = mean * 1e3;
  d.std = std::sqrt(ss / n) * 1e3;  // np.std: ddof = 0
  d.median = percentile(seconds, 50) * 1e3;
  d.p99 = percentile(seconds, 99) * 1e3;
  return d;
}

LevelMetrics compute_metrics(std::span<const RequestRecord> records, double duration_s, int64_t concurrency) {
  LevelMetrics m;
  m.concurrency = concurrency;
  m.num_prompts = static_cast<int64_t>(records.size());
  m.duration_s = duration_s;
  std::vector<double> ttfts, tpots, itls, e2els;
  for (const RequestRecord& r : records) {
    if (!r.success || r.chunk_s.empty()) {
      ++m.failed;
      ++m.errors[r.error.empty() ? "no streamed chunk" : r.error];
      continue;
    }
    ++m.completed;
    const int64_t out = r.output_count();
    m.total_output_tokens += out;
    m.total_input_tokens += r.prompt_tokens;
    const double ttft = r.chunk_s.front() - r.start_s;
    const double latency = r.chunk_s.back() - r.start_s;
    ttfts.push_back(ttft);
    e2els.push_back(latency);
    if (out > 1) tpots.push_back((latency - ttft) / static_cast<double>(out - 1));
    for (size_t k = 1; k < r.chunk_s.size(); ++k) itls.push_back(r.chunk_s[k] - r.chunk_s[k - 1]);
  }
  if (duration_s > 0) {
    m.request_throughput = static_cast<double>(m.completed) / duration_s;
    m.output_throughput = static_cast<double>(m.total_output_tokens) / duration_s;
    m.total_token_throughput = static_cast<double>(m.total_input_tokens + m.total_output_tokens) / duration_s;
  }
  m.ttft = distribution_ms(ttfts);
  m.tpot = distribution_ms(tpots);
  m.itl = distribution_ms(itls);
  m.e2el = distribution_ms(e2els);
  return m;
}

const LevelMetrics* ServingReport::base() const {
  for (const LevelMetrics& m : levels)
    if (m.concurrency == 1) return &m;
  return levels.empty() ? nullptr : &levels.front();
}

// ---- output -------------------------------------------------------------------

std::string serving_markdown(const ServingReport& rep) {
  std::string out = fmt::format("model '{}' at {} ({}), prompts of {} tokens ({}), up to {} output tokens, seed {}\n\n",
                                rep.model, rep.url, rep.endpoint_path, rep.input_len, rep.prompt_kind, rep.output_len,
                                rep.seed);
  const LevelMetrics* base = rep.base();
  Column conc("concurrency"), prompts("requests"), failed("failed"), in_tok("in tok/req"), out_tok("out tok/req"),
      dur("duration s"), rps("req/s"), ots("out tok/s"), tts("total tok/s"),
      scale(fmt::format("vs c={}", base ? base->concurrency : 1));
  for (const LevelMetrics& m : rep.levels) {
    const double done = m.completed > 0 ? static_cast<double>(m.completed) : 1.0;
    conc.cells.push_back(std::to_string(m.concurrency));
    prompts.cells.push_back(std::to_string(m.num_prompts));
    failed.cells.push_back(std::to_string(m.failed));
    in_tok.cells.push_back(fmt::format("{:.1f}", static_cast<double>(m.total_input_tokens) / done));
    out_tok.cells.push_back(fmt::format("{:.1f}", static_cast<double>(m.total_output_tokens) / done));
    dur.cells.push_back(fmt::format("{:.2f}", m.duration_s));
    rps.cells.push_back(fmt::format("{:.2f}", m.request_throughput));
    ots.cells.push_back(fmt::format("{:.2f}", m.output_throughput));
    tts.cells.push_back(fmt::format("{:.2f}", m.total_token_throughput));
    scale.cells.push_back(fmt::format("x{:.2f}", scaling(rep, m)));
  }
  out += render_table({conc, prompts, failed, in_tok, out_tok, dur, rps, ots, tts, scale});
  out += '\n';

  std::vector<Column> lat = {Column("concurrency")};
  for (const LevelMetrics& m : rep.levels) lat[0].cells.push_back(std::to_string(m.concurrency));
  const std::pair<const char*, Distribution LevelMetrics::*> stats[] = {
      {"TTFT", &LevelMetrics::ttft}, {"TPOT", &LevelMetrics::tpot}, {"ITL", &LevelMetrics::itl}, {"E2EL", &LevelMetrics::e2el}};
  for (const auto& [name, field] : stats) {
    Column mean(fmt::format("{} ms mean ± sd", name)), median(fmt::format("{} median", name)), p99(fmt::format("{} p99", name));
    for (const LevelMetrics& m : rep.levels) {
      const Distribution& d = m.*field;
      mean.cells.push_back(fmt::format("{:.2f} ± {:.2f}", d.mean, d.std));
      median.cells.push_back(fmt::format("{:.2f}", d.median));
      p99.cells.push_back(fmt::format("{:.2f}", d.p99));
    }
    lat.insert(lat.end(), {mean, median, p99});
  }
  out += render_table(lat);

  if (base) {
    out += fmt::format("\noutput token throughput relative to concurrency {}:", base->concurrency);
    for (size_t i = 0; i < rep.levels.size(); ++i)
      out += fmt::format("{} c={} x{:.2f}", i ? "," : "", rep.levels[i].concurrency, scaling(rep, rep.levels[i]));
    out += '\n';
  }
  return out;
}

ojson serving_json(const ServingReport& rep) {
  ojson rows = ojson::array();
  for (const LevelMetrics& m : rep.levels) {
    ojson j = {{"url", rep.url},
               {"model_id", rep.model},
               {"endpoint", rep.endpoint_path},
               {"input_len", rep.input_len},
               {"output_len", rep.output_len},
               {"prompt_kind", rep.prompt_kind},
               {"seed", rep.seed},
               {"max_concurrency", m.concurrency},
               {"num_prompts", m.num_prompts},
               {"completed", m.completed},
               {"failed", m.failed},
               {"duration", m.duration_s},
               {"total_input_tokens", m.total_input_tokens},
               {"total_output_tokens", m.total_output_tokens},
               {"request_throughput", m.request_throughput},
               {"output_throughput", m.output_throughput},
               {"total_token_throughput", m.total_token_throughput},
               {"output_throughput_scaling", scaling(rep, m)}};
    const std::pair<const char*, Distribution LevelMetrics::*> stats[] = {
        {"ttft", &LevelMetrics::ttft}, {"tpot", &LevelMetrics::tpot}, {"itl", &LevelMetrics::itl}, {"e2el", &LevelMetrics::e2el}};
    for (const auto& [name, field] : stats) {
      const Distribution& d = m.*field;
      j[fmt::format("mean_{}_ms", name)] = d.mean;
      j[fmt::format("median_{}_ms", name)] = d.median;
      j[fmt::format("std_{}_ms", name)] = d.std;
      j[fmt::format("p99_{}_ms", name)] = d.p99;
    }
    ojson errors = ojson::object();
    for (const auto& [text, count] : m.errors) errors[text] = count;
    j["errors"] = errors;
    rows.push_back(std::move(j));
  }
  return rows;
}

std::string serving_csv(const ServingReport& rep) {
  const ojson rows = serving_json(rep);
  if (rows.empty()) return "";
  std::vector<std::string> keys;
  for (const auto& [k, v] : rows[0].items())
    if (k != "errors") keys.push_back(k);
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) out += (i ? "," : "") + keys[i];
  out += '\n';
  for (const ojson& row : rows) {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (i) out += ',';
      out += csv_cell(row[keys[i]]);
    }
    out += '\n';
  }
  return out;
}

}  // namespace scout::bench
