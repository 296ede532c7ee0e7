// The bytes of a model file in memory, either mapped from the page cache or
// read into the process's own memory on transparent huge pages.
//
// Why copy by default: generation streams every active weight byte once per
// token, and a mapped file sits on 4 KiB pages. Each page then costs a TLB
// miss (several memory accesses under virtualization, with nested page
// tables) and the hardware prefetchers stop at every page boundary. On the
// 2-core VM of the README's table, one thread read routed-expert weights at
// 6 GB/s from the mapping and at 23 GB/s from 2 MiB pages; tg128 went from
// 62 to 82 t/s. The copy costs one read of the file at load time, and memory
// the page cache would otherwise share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace scout::gguf {

enum class LoadMode {
  Auto,  // Copy when the file fits in available memory with room to spare, else Map
  Copy,  // read into anonymous memory on transparent huge pages
  Map,   // mapped read-only: nothing copied, pages come from the page cache as touched
};
std::string_view load_mode_name(LoadMode m);
std::optional<LoadMode> parse_load_mode(std::string_view s);  // "auto", "copy", "map"

// Auto's rule: copy when the file plus a reserve (1/8 of it, at least 1 GiB)
// fits in the memory the system reports available.
bool copy_fits(uint64_t file_size, uint64_t mem_available);
// MemAvailable from /proc/meminfo in bytes; nullopt where unknown.
std::optional<uint64_t> mem_available();

class FileBytes {
 public:
  // The whole of the open file fd (size bytes, > 0). Throws std::runtime_error
  // saying what failed (without the path; the caller adds it).
  static FileBytes load(int fd, uint64_t size, LoadMode mode);

  FileBytes() = default;
  FileBytes(FileBytes&& o) noexcept;
  FileBytes& operator=(FileBytes&& o) noexcept;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes();

  std::span<const uint8_t> bytes() const { return {static_cast<const uint8_t*>(base_), size_}; }
  bool copied() const { return copied_; }

 private:
  void* base_ = nullptr;  // an mmap either way (file or anonymous), munmap'ed on destruction
  size_t size_ = 0;
  bool copied_ = false;
};

}  // namespace scout::gguf
