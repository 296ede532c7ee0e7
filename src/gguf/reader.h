// GGUF reader: brings the file into memory (file_bytes.h: read onto huge pages,
// or mapped) and validates every byte of its header before anything is used.
// Tensor data is used where it lies; nothing is converted at load.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gguf/file_bytes.h"
#include "gguf/value.h"
#include "tensor/types.h"

namespace scout::gguf {

// Every problem with a file's bytes. what() is "FILE: what is wrong", ready for
// the CLI's one-line "scout: error: ..." report.
class GgufError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;

struct TensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  uint32_t n_dims = 0;
  std::array<uint64_t, kMaxDims> ne = {1, 1, 1, 1};  // ne[0] is the row length
  uint64_t offset = 0;        // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the file's bytes

  uint64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  uint64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  std::string shape_string() const;  // "[5120, 202048]"
};

class GgufFile {
 public:
  // Loads and validates a file; throws GgufError naming the file and the problem.
  // Mapped by default: readers of the header alone (info, tokenize) copy nothing;
  // Model::load picks the mode for the weights.
  static GgufFile open(const std::string& path, LoadMode mode = LoadMode::Map);
  // Validates bytes already in memory (tests, fuzzing). `name` prefixes errors.
  // The bytes must outlive the returned object.
  static GgufFile parse(std::span<const uint8_t> bytes, std::string name);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t file_size() const { return bytes_.size(); }
  uint64_t data_offset() const { return data_offset_; }
  // Whether the bytes were read into memory (LoadMode::Copy) rather than mapped.
  bool copied() const { return file_bytes_.copied(); }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;
  // Typed lookups: nullopt when absent, GgufError when present with the wrong type.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<uint64_t> get_uint(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  // "general.architecture", or an error if absent.
  std::string architecture() const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  // The tensor `name`, which must have exactly this shape (ne order; missing
  // trailing dimensions are 1): GgufError naming the file and the tensor otherwise.
  const TensorInfo& require_tensor(std::string_view name, const std::vector<uint64_t>& shape) const;

 private:
  GgufFile() = default;
  void parse_all();
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  std::span<const uint8_t> bytes_;
  FileBytes file_bytes_;  // what bytes_ points into (empty for parse())
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<TensorInfo> tensors_;
  // Lookup indexes; the views point into metadata_/tensors_ strings, whose heap
  // buffers stay put when the vectors are moved.
  std::unordered_map<std::string_view, size_t> key_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace scout::gguf
