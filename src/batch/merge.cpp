#include "batch/merge.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "batch/shard.h"

namespace scout::batch {

namespace {

struct Found {
  std::string file;
  size_t line = 0;
  std::string text;
};

}  // namespace

MergeReport merge_shards(const std::string& input, InputFormat format, const std::vector<std::string>& shard_files,
                         const std::string& output) {
  MergeReport report;
  std::vector<Job> jobs = read_jobs(input, format);
  if (format == InputFormat::OpenAI) require_unique_ids(jobs, input);
  std::map<std::string, size_t> expected;  // key -> times in the input
  for (const Job& job : jobs) ++expected[job.key()];

  const uint32_t n = static_cast<uint32_t>(shard_files.size());
  std::map<std::string, std::vector<Found>> found;
  std::vector<std::string> unknown;
  for (const std::string& file : shard_files) {
    const std::vector<std::string> lines = read_lines(file);
    std::set<uint32_t> shards;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].find_first_not_of(" \t") == std::string::npos) continue;
      std::optional<std::string> key;
      try {
        key = result_key(nlohmann::ordered_json::parse(lines[i]));
      } catch (const nlohmann::json::exception&) {
      }
      if (!key) {
        report.problems.push_back(fmt::format("{}: line {} is not a scout batch result", file, i + 1));
        continue;
      }
      if (!expected.count(*key)) unknown.push_back(fmt::format("{} ({} line {})", *key, file, i + 1));
      shards.insert(shard_of(*key, n));
      found[*key].push_back({file, i + 1, lines[i]});
    }
    if (shards.size() > 1)
      report.problems.push_back(fmt::format(
          "{}: holds ids of shards {} of {}: it is not one shard of these {} files (a run with another shard count?)",
          file, fmt::join(shards, ", "), n, n));
  }

  std::vector<std::string> missing, duplicated;
  for (const auto& [key, times] : expected) {
    const auto it = found.find(key);
    const size_t have = it == found.end() ? 0 : it->second.size();
    if (have < times) missing.push_back(key);
    else if (have > times) {
      std::vector<std::string> where;
      for (const Found& f : it->second) where.push_back(fmt::format("{} line {}", f.file, f.line));
      duplicated.push_back(fmt::format("{} ({})", key, fmt::join(where, ", ")));
    }
  }
  if (!missing.empty())
    report.problems.push_back(
        fmt::format("{} ids of the input are in no shard file: {}", missing.size(), list_some(missing)));
  if (!duplicated.empty())
    report.problems.push_back(
        fmt::format("{} ids are in more than one place: {}", duplicated.size(), list_some(duplicated)));
  if (!unknown.empty())
    report.problems.push_back(
        fmt::format("{} ids are not in the input {}: {}", unknown.size(), input, list_some(unknown)));
  if (!report.problems.empty()) return report;

  std::ofstream out(output, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(output + ": cannot write");
  std::map<std::string, size_t> next;  // a key given twice in the input: its results in file order
  for (const Job& job : jobs) {
    const std::string key = job.key();
    out << found[key][next[key]++].text << '\n';
    ++report.written;
  }
  out.flush();
  if (!out) throw std::runtime_error(output + ": cannot write");
  return report;
}

}  // namespace scout::batch
