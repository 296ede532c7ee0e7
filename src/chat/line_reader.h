// Reads chat input, one message at a time, from a terminal or a pipe.
//
// A message is a line. A line ending in '\' continues on the next one (the
// backslash becomes a line break), and on a terminal, lines that arrive
// together, as a paste of several lines does, make one message. Reading
// polls, so an interrupt flag set by a signal handler (on whichever thread
// it ran) ends the wait promptly.
#pragma once

#include <atomic>
#include <functional>
#include <string>

namespace scout::chat {

class LineReader {
 public:
  enum class Status { Message, EndOfInput, Interrupted };

  // interactive: the input is a terminal (paste detection on). `interrupted`
  // may be null.
  LineReader(int fd, bool interactive, const std::atomic<bool>* interrupted)
      : fd_(fd), interactive_(interactive), interrupted_(interrupted) {}

  // Reads the next message into `out` (without its final line break).
  // on_continue runs before reading a line continued with '\'. Interrupted
  // drops the input read so far.
  Status read_message(std::string& out, const std::function<void()>& on_continue = {});

 private:
  enum class Got { Line, EndOfInput, Interrupted };
  Got read_line(std::string& line);
  // Whether input is buffered, or arrives within timeout_ms.
  bool input_pending(int timeout_ms);
  // Waits for input for up to timeout_ms; reads what is there into buf_.
  // False when interrupted.
  bool fill(int timeout_ms);

  int fd_;
  bool interactive_;
  const std::atomic<bool>* interrupted_;
  std::string buf_;
  bool eof_ = false;
};

}  // namespace scout::chat
