// The results file of `scout batch`: JSON lines appended as each job
// finishes, so a killed run loses at most the job it was on and a rerun picks
// up where it stopped.
//
// Loss-free by construction: each line goes out in one write() on an O_APPEND
// descriptor, so other processes and a later run never see half a line from a
// live writer; with sync, each line is also fdatasync'ed before the next job
// starts (survives a power cut, not only a kill). A last line without its
// newline (a crash mid-write of some other tool, or a kernel that cut a
// killed write short) is cut off on open, with a warning. An exclusive flock
// keeps two batch runs from writing the same file.
#pragma once

#include <nlohmann/json.hpp>

#include <set>
#include <string>

namespace scout::batch {

class OutputFile {
 public:
  // resume: keep the results there and remember their keys (Job::key);
  // otherwise truncate. Throws std::runtime_error naming the file.
  OutputFile(const std::string& path, bool resume, bool sync);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::set<std::string>& done() const { return done_; }
  void append(const nlohmann::ordered_json& result);

 private:
  void repair_and_scan();

  std::string path_;
  int fd_ = -1;
  bool sync_;
  std::set<std::string> done_;
};

}  // namespace scout::batch
