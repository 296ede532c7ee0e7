#include "batch/output_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "batch/job.h"

namespace scout::batch {

using json = nlohmann::ordered_json;

namespace {

std::runtime_error sys_error(const std::string& path, const char* what) {
  return std::runtime_error(fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
}

std::string read_all(int fd, const std::string& path) {
  std::string data;
  char buf[1 << 16];
  for (off_t off = 0;;) {
    const ssize_t n = pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error(path, "cannot read");
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
    off += n;
  }
}

}  // namespace

OutputFile::OutputFile(const std::string& path, bool resume, bool sync) : path_(path), sync_(sync) {
  // Not O_TRUNC here: truncating is only safe once the lock is ours.
  fd_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw sys_error(path, "cannot open the output file");
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(fmt::format("{}: another process (a scout batch run?) is writing this file", path));
  }
  if (!resume) {
    if (ftruncate(fd_, 0) != 0) throw sys_error(path, "cannot truncate");
    return;
  }
  repair_and_scan();
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

void OutputFile::repair_and_scan() {
  std::string data = read_all(fd_, path_);
  if (!data.empty() && data.back() != '\n') {
    const size_t keep = data.rfind('\n') == std::string::npos ? 0 : data.rfind('\n') + 1;
    spdlog::warn("{}: removing a truncated last line ({} bytes without a newline, left by an interrupted write)",
                 path_, data.size() - keep);
    if (ftruncate(fd_, static_cast<off_t>(keep)) != 0) throw sys_error(path_, "cannot truncate");
    data.resize(keep);
  }
  size_t line_no = 0;
  for (size_t start = 0; start < data.size();) {
    const size_t end = data.find('\n', start);
    const std::string line = data.substr(start, end - start);
    start = end + 1;
    ++line_no;
    std::optional<std::string> key;
    try {
      key = result_key(json::parse(line));
    } catch (const json::parse_error&) {
    }
    if (key) done_.insert(*key);
    else spdlog::warn("{}: line {} is not a scout batch result; ignored", path_, line_no);
  }
}

void OutputFile::append(const json& result) {
  // Generated text may hold invalid UTF-8 (random models emit any bytes): replaced, not fatal.
  const std::string line = result.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  // One write() for the line. Regular files only take less on a full disk
  // or a fatal signal; then the rest follows (or the next open repairs it).
  for (size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error(path_, "cannot write");
    done += static_cast<size_t>(n);
  }
  if (sync_ && fdatasync(fd_) != 0) throw sys_error(path_, "cannot sync");
  if (const auto key = result_key(result)) done_.insert(*key);
}

}  // namespace scout::batch
