#include "chat/line_reader.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace scout::chat {

namespace {
// A paste reaches the terminal in one burst; a person typing the next line
// takes far longer than this.
constexpr int kPasteMs = 30;
constexpr int kPollMs = 100;
}  // namespace

bool LineReader::fill(int timeout_ms) {
  if (interrupted_ && interrupted_->load()) return false;
  pollfd p{fd_, POLLIN, 0};
  const int ready = ::poll(&p, 1, timeout_ms);
  if (ready < 0) {
    if (errno == EINTR) return !(interrupted_ && interrupted_->load());
    eof_ = true;
    return true;
  }
  if (ready == 0) return true;
  char chunk[4096];
  const ssize_t n = ::read(fd_, chunk, sizeof chunk);
  if (n > 0) {
    buf_.append(chunk, static_cast<size_t>(n));
  } else if (n == 0 || errno != EINTR) {
    eof_ = true;  // end of input: Ctrl-D on a terminal, the end of a pipe
  }
  return true;
}

bool LineReader::input_pending(int timeout_ms) {
  if (!buf_.empty()) return true;
  if (eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0 && (p.revents & POLLIN);
}

LineReader::Got LineReader::read_line(std::string& line) {
  for (;;) {
    const size_t nl = buf_.find('\n');
    if (nl != std::string::npos) {
      line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return Got::Line;
    }
    if (eof_) {
      if (buf_.empty()) return Got::EndOfInput;
      line.swap(buf_);  // a last line without a line break
      buf_.clear();
      return Got::Line;
    }
    if (!fill(kPollMs)) {
      buf_.clear();
      return Got::Interrupted;
    }
  }
}

LineReader::Status LineReader::read_message(std::string& out, const std::function<void()>& on_continue) {
  out.clear();
  bool first = true;
  for (;;) {
    std::string line;
    const Got got = read_line(line);
    if (got == Got::Interrupted) {
      out.clear();
      return Status::Interrupted;
    }
    if (got == Got::EndOfInput) return first ? Status::EndOfInput : Status::Message;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF input
    const bool continued = !line.empty() && line.back() == '\\';
    if (continued) line.pop_back();
    if (!first) out += '\n';
    out += line;
    first = false;
    if (continued) {
      if (on_continue && !input_pending(0)) on_continue();
      continue;
    }
    if (interactive_ && input_pending(kPasteMs)) continue;
    return Status::Message;
  }
}

}  // namespace scout::chat
