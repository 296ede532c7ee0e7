// Chat input over a pipe: lines, '\' continuations, pastes, CRLF, the last
// line without a line break, end of input and interruption.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include "chat/line_reader.h"

namespace scout::chat {
namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() { EXPECT_EQ(::pipe(fd), 0); }
  ~Pipe() {
    close_write();
    ::close(fd[0]);
  }
  void write(const std::string& s) { ASSERT_EQ(::write(fd[1], s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  void close_write() {
    if (fd[1] >= 0) ::close(fd[1]);
    fd[1] = -1;
  }
};

TEST(LineReader, LinesContinuationsAndEndOfInput) {
  Pipe p;
  p.write("first\nsecond \\\nthird\r\n\nlast");
  p.close_write();
  LineReader r(p.fd[0], /*interactive=*/false, nullptr);
  std::string m;
  int continuations = 0;
  auto on_continue = [&] { ++continuations; };
  ASSERT_EQ(r.read_message(m, on_continue), LineReader::Status::Message);
  EXPECT_EQ(m, "first");
  ASSERT_EQ(r.read_message(m, on_continue), LineReader::Status::Message);
  EXPECT_EQ(m, "second \nthird");
  ASSERT_EQ(r.read_message(m, on_continue), LineReader::Status::Message);
  EXPECT_EQ(m, "");
  ASSERT_EQ(r.read_message(m, on_continue), LineReader::Status::Message);
  EXPECT_EQ(m, "last");
  EXPECT_EQ(r.read_message(m, on_continue), LineReader::Status::EndOfInput);
  EXPECT_EQ(r.read_message(m, on_continue), LineReader::Status::EndOfInput);
  EXPECT_EQ(continuations, 0);  // the continued line was already there
}

TEST(LineReader, InteractivePasteIsOneMessage) {
  Pipe p;
  p.write("one\ntwo\nthree\n");
  LineReader r(p.fd[0], /*interactive=*/true, nullptr);
  std::string m;
  ASSERT_EQ(r.read_message(m), LineReader::Status::Message);
  EXPECT_EQ(m, "one\ntwo\nthree");
  p.write("next\n");
  ASSERT_EQ(r.read_message(m), LineReader::Status::Message);
  EXPECT_EQ(m, "next");
}

TEST(LineReader, InterruptEndsTheWait) {
  Pipe p;
  std::atomic<bool> interrupted{true};
  LineReader r(p.fd[0], /*interactive=*/true, &interrupted);
  std::string m;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(r.read_message(m), LineReader::Status::Interrupted);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  interrupted = false;
  p.write("after\n");
  ASSERT_EQ(r.read_message(m), LineReader::Status::Message);
  EXPECT_EQ(m, "after");
}

}  // namespace
}  // namespace scout::chat
