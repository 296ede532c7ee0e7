#include "batch/job_source.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <stdexcept>

#include "batch/openai_batch.h"

namespace scout::batch {

namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// Lines without their "\n" (and a "\r" before it, for files from Windows).
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

std::vector<Job> read_directory(const std::string& dir) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw std::runtime_error(dir + ": the directory has no .txt files");
  std::vector<Job> jobs;
  for (const fs::path& f : files) {
    Job job;
    job.line = jobs.size() + 1;
    job.id = f.filename().string();
    job.prompt = slurp(f.string());
    // Editors end files with a newline; it is not part of the prompt.
    if (job.prompt.ends_with('\n')) job.prompt.pop_back();
    if (job.prompt.ends_with('\r')) job.prompt.pop_back();
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace

InputFormat detect_format(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return InputFormat::Jsonl;
  std::ifstream in(path, std::ios::binary);
  for (std::string line; std::getline(in, line);)
    if (!blank(line)) return is_batch_line(line) ? InputFormat::OpenAI : InputFormat::Jsonl;
  return InputFormat::Jsonl;
}

std::vector<Job> read_jobs(const std::string& path, InputFormat format) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return read_directory(path);
  const std::vector<std::string> lines = read_lines(path);
  std::vector<Job> jobs;
  std::set<std::string> unknown_keys;
  const std::string base_dir = fs::path(path).parent_path().string();  // images' relative paths start here
  for (size_t i = 0; i < lines.size(); ++i) {
    if (blank(lines[i])) continue;
    if (format == InputFormat::OpenAI) {
      jobs.push_back(parse_batch_line(lines[i], i + 1, base_dir));
    } else if (format == InputFormat::Jsonl) {
      jobs.push_back(parse_jsonl_line(lines[i], i + 1, unknown_keys, base_dir));
    } else {
      Job job;
      job.line = i + 1;
      job.id = i + 1;
      job.prompt = lines[i];
      jobs.push_back(std::move(job));
    }
  }
  for (const std::string& k : unknown_keys) spdlog::warn("{}: unknown key \"{}\" ignored", path, k);
  return jobs;
}

void mark_duplicate_ids(std::vector<Job>& jobs) {
  std::map<std::string, size_t> first_line;
  for (Job& job : jobs) {
    if (job.id.is_null()) continue;
    const auto [it, fresh] = first_line.emplace(job.key(), job.line);
    if (!fresh && job.error.empty())
      job.error = fmt::format("duplicate id {} (first on line {})", job.id.dump(), it->second);
  }
}

std::vector<std::string> read_lines(const std::string& path) { return split_lines(slurp(path)); }

std::string list_some(const std::vector<std::string>& names) {
  constexpr size_t kMaxNamed = 20;
  const auto n_shown = static_cast<std::ptrdiff_t>(std::min(names.size(), kMaxNamed));
  const std::vector<std::string> shown(names.begin(), names.begin() + n_shown);
  std::string s = fmt::format("{}", fmt::join(shown, ", "));
  if (names.size() > kMaxNamed) s += fmt::format(", and {} more", names.size() - kMaxNamed);
  return s;
}

void require_unique_ids(const std::vector<Job>& jobs, const std::string& path) {
  std::map<std::string, std::vector<size_t>> lines;
  for (const Job& job : jobs)
    if (!job.id.is_null()) lines[job.key()].push_back(job.line);
  std::vector<std::string> dups;
  for (const auto& [key, at] : lines)
    if (at.size() > 1) dups.push_back(fmt::format("{} (lines {})", key, fmt::join(at, ", ")));
  if (!dups.empty())
    throw std::runtime_error(
        fmt::format("{}: custom_id must be unique; used more than once: {}", path, list_some(dups)));
}

}  // namespace scout::batch
