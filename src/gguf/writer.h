// GGUF writer (version 3 by default). Tensor data is produced on demand by a
// callback, one tensor at a time, so multi-gigabyte files are written with
// little memory; a tensor without a callback is left as a hole (sparse file).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "gguf/value.h"
#include "tensor/types.h"

namespace scout::gguf {

class GgufWriter {
 public:
  // Fills exactly `nbytes` bytes of one tensor's data.
  using Fill = std::function<void(uint8_t* dst, uint64_t nbytes)>;

  explicit GgufWriter(uint32_t alignment = 32, uint32_t version = 3);

  // Adds or replaces a key; insertion order is file order. "general.alignment"
  // is written by the writer itself from the constructor's alignment.
  void set(const std::string& key, Value value);
  // ne[0] is the row length. A null `fill` leaves the data as a hole.
  void add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> ne, Fill fill);
  void add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> ne,
                  std::span<const uint8_t> data);

  // Writes the file (to PATH.tmp, then renamed). Throws std::runtime_error on
  // I/O errors and std::invalid_argument on a tensor that is not valid GGUF.
  void write(const std::string& path) const;

  uint64_t tensor_count() const { return tensors_.size(); }

 private:
  struct Pending {
    std::string name;
    TensorType type;
    std::vector<uint64_t> ne;
    uint64_t nbytes;
    Fill fill;
  };
  uint32_t alignment_;
  uint32_t version_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<Pending> tensors_;
};

}  // namespace scout::gguf
