#include "gguf/file_bytes.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <utility>

namespace scout::gguf {

std::string_view load_mode_name(LoadMode m) {
  switch (m) {
    case LoadMode::Auto: return "auto";
    case LoadMode::Copy: return "copy";
    case LoadMode::Map: return "map";
  }
  return "?";
}

std::optional<LoadMode> parse_load_mode(std::string_view s) {
  for (LoadMode m : {LoadMode::Auto, LoadMode::Copy, LoadMode::Map})
    if (load_mode_name(m) == s) return m;
  return std::nullopt;
}

bool copy_fits(uint64_t file_size, uint64_t mem_available) {
  const uint64_t reserve = std::max<uint64_t>(uint64_t{1} << 30, file_size / 8);
  return file_size <= mem_available && mem_available - file_size >= reserve;
}

std::optional<uint64_t> mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kib = 0;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

namespace {

// Reads size bytes of fd into dst: large preads, retried on EINTR and short reads.
void read_all(int fd, uint8_t* dst, uint64_t size) {
  constexpr uint64_t kChunk = uint64_t{64} << 20;
  for (uint64_t off = 0; off < size;) {
    const ssize_t r = ::pread(fd, dst + off, std::min(kChunk, size - off), static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw std::runtime_error(fmt::format("cannot read at byte {}: {}", off, std::strerror(errno)));
    if (r == 0) throw std::runtime_error(fmt::format("file ended at byte {} while reading {} bytes", off, size));
    off += static_cast<uint64_t>(r);
  }
}

}  // namespace

FileBytes FileBytes::load(int fd, uint64_t size, LoadMode mode) {
  if (mode == LoadMode::Auto) {
    const std::optional<uint64_t> avail = mem_available();
    mode = avail && copy_fits(size, *avail) ? LoadMode::Copy : LoadMode::Map;
  }
  FileBytes f;
  f.size_ = size;
  if (mode == LoadMode::Map) {
    // Read-only private mapping: tensor data is used in place and never copied.
    f.base_ = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f.base_ == MAP_FAILED) {
      f.base_ = nullptr;
      throw std::runtime_error(fmt::format("cannot map {} bytes: {}", size, std::strerror(errno)));
    }
    return f;
  }
  f.base_ = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (f.base_ == MAP_FAILED) {
    f.base_ = nullptr;
    throw std::runtime_error(fmt::format("cannot allocate {} bytes to read the file into: {}", size, std::strerror(errno)));
  }
  f.copied_ = true;
  // Best effort: without transparent huge pages the copy still works, on 4 KiB pages.
  (void)::madvise(f.base_, size, MADV_HUGEPAGE);
  read_all(fd, static_cast<uint8_t*>(f.base_), size);
  (void)::mprotect(f.base_, size, PROT_READ);  // the weights are never written
  return f;
}

FileBytes::FileBytes(FileBytes&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)), copied_(o.copied_) {}

FileBytes& FileBytes::operator=(FileBytes&& o) noexcept {
  if (this == &o) return *this;
  if (base_) ::munmap(base_, size_);
  base_ = std::exchange(o.base_, nullptr);
  size_ = std::exchange(o.size_, 0);
  copied_ = o.copied_;
  return *this;
}

FileBytes::~FileBytes() {
  if (base_) ::munmap(base_, size_);
}

}  // namespace scout::gguf
