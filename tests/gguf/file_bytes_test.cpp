// The two ways a model file comes into memory (gguf/file_bytes.h): read onto
// huge pages or mapped, the same bytes either way, and Auto's memory rule.
#include "gguf/file_bytes.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <vector>

#include "gguf/reader.h"
#include "test_util.h"

namespace scout::gguf {
namespace {

using test::TempDir;

constexpr uint64_t kGiB = uint64_t{1} << 30;

// A file of n random bytes; returns them.
std::vector<uint8_t> random_file(const std::string& path, size_t n) {
  std::mt19937 rng(5);
  std::vector<uint8_t> bytes(n);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
  test::write_file(path, bytes);
  return bytes;
}

FileBytes load(const std::string& path, LoadMode mode) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  off_t size = ::lseek(fd, 0, SEEK_END);
  FileBytes f = FileBytes::load(fd, static_cast<uint64_t>(size), mode);
  ::close(fd);  // neither form needs the descriptor afterwards
  return f;
}

TEST(FileBytes, CopyAndMapHoldTheSameBytes) {
  TempDir dir;
  // Not a multiple of the 2 MiB huge page nor of the 64 MiB read chunk.
  const std::vector<uint8_t> want = random_file(dir.path("f.bin"), (size_t{3} << 20) + 123);
  FileBytes copied = load(dir.path("f.bin"), LoadMode::Copy);
  FileBytes mapped = load(dir.path("f.bin"), LoadMode::Map);
  EXPECT_TRUE(copied.copied());
  EXPECT_FALSE(mapped.copied());
  ASSERT_EQ(copied.bytes().size(), want.size());
  ASSERT_EQ(mapped.bytes().size(), want.size());
  EXPECT_TRUE(std::equal(want.begin(), want.end(), copied.bytes().begin()));
  EXPECT_TRUE(std::equal(want.begin(), want.end(), mapped.bytes().begin()));

  FileBytes moved = std::move(copied);  // ownership moves; the bytes stay put
  EXPECT_TRUE(moved.copied());
  EXPECT_TRUE(copied.bytes().empty());
  EXPECT_EQ(moved.bytes()[want.size() - 1], want.back());
}

TEST(FileBytes, AutoCopiesWhatFitsInAvailableMemory) {
  TempDir dir;
  random_file(dir.path("f.bin"), 4096);
  const std::optional<uint64_t> avail = mem_available();
  FileBytes f = load(dir.path("f.bin"), LoadMode::Auto);
  EXPECT_EQ(f.copied(), avail && copy_fits(4096, *avail));
}

TEST(FileBytes, CopyNeedsTheFilePlusAReserve) {
  EXPECT_TRUE(copy_fits(kGiB, 2 * kGiB));
  EXPECT_FALSE(copy_fits(kGiB, 2 * kGiB - 1));   // the reserve is at least 1 GiB
  EXPECT_FALSE(copy_fits(64 * kGiB, 70 * kGiB)); // and 1/8 of the file: 8 GiB here
  EXPECT_TRUE(copy_fits(64 * kGiB, 72 * kGiB));
  EXPECT_FALSE(copy_fits(10 * kGiB, 5 * kGiB));
  EXPECT_FALSE(copy_fits(1, 0));
}

TEST(FileBytes, ModeNamesRoundTrip) {
  for (LoadMode m : {LoadMode::Auto, LoadMode::Copy, LoadMode::Map}) EXPECT_EQ(parse_load_mode(load_mode_name(m)), m);
  EXPECT_EQ(parse_load_mode("mmap"), std::nullopt);
}

TEST(FileBytes, ReadingPastTheEndIsAnError) {
  TempDir dir;
  random_file(dir.path("f.bin"), 1000);
  const int fd = ::open(dir.path("f.bin").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  // As when the file shrinks between stat and read.
  EXPECT_THROW(
      {
        try {
          FileBytes::load(fd, 5000, LoadMode::Copy);
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "file ended at byte 1000 while reading 5000 bytes");
          throw;
        }
      },
      std::runtime_error);
  ::close(fd);
}

}  // namespace
}  // namespace scout::gguf
