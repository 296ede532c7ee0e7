#include "gguf/writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "gguf/reader.h"

namespace scout::gguf {

namespace {

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Appends little-endian GGUF primitives to a byte buffer (the header is small;
// tensor data goes straight to the file).
struct ByteSink {
  std::vector<uint8_t> buf;
  void bytes(const void* p, size_t n) { buf.insert(buf.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n); }
  void u32(uint32_t v) { bytes(&v, 4); }
  void u64(uint64_t v) { bytes(&v, 8); }
  void str(const std::string& s) { u64(s.size()); bytes(s.data(), s.size()); }
  void value(const Value& v) {
    switch (v.type()) {
      case ValueType::STRING: str(v.as_string()); break;
      case ValueType::ARRAY:
        u32(static_cast<uint32_t>(v.array_type()));
        u64(v.array_size());
        if (v.array_type() == ValueType::STRING) {
          for (const std::string& s : v.strings()) str(s);
        } else {
          bytes(v.raw().data(), v.raw().size());
        }
        break;
      default: bytes(v.raw().data(), v.raw().size()); break;
    }
  }
};

class File {
 public:
  explicit File(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
  }
  ~File() { if (fd_ >= 0) ::close(fd_); }
  void write_at(const void* p, size_t n, uint64_t offset) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    while (n > 0) {
      ssize_t w = ::pwrite(fd_, b, n, static_cast<off_t>(offset));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw std::runtime_error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
      b += w; n -= static_cast<size_t>(w); offset += static_cast<uint64_t>(w);
    }
  }
  // Sets the final size; bytes never written stay a hole in the file system.
  void truncate(uint64_t size) {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
      throw std::runtime_error(fmt::format("{}: cannot set size: {}", path_, std::strerror(errno)));
  }
  void close() {
    if (::close(fd_) != 0) { fd_ = -1; throw std::runtime_error(fmt::format("{}: close failed: {}", path_, std::strerror(errno))); }
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment, uint32_t version) : alignment_(alignment), version_(version) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    throw std::invalid_argument(fmt::format("gguf alignment {} is not a power of two", alignment));
  if (version != 2 && version != 3) throw std::invalid_argument(fmt::format("cannot write gguf version {}", version));
}

void GgufWriter::set(const std::string& key, Value value) {
  if (key == "general.alignment") throw std::invalid_argument("general.alignment is set through the GgufWriter constructor");
  for (auto& [k, v] : metadata_) {
    if (k == key) { v = std::move(value); return; }
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> ne, Fill fill) {
  const TypeTraits& tt = type_traits(type);
  if (ne.empty() || ne.size() > kMaxDims) throw std::invalid_argument(fmt::format("tensor {}: {} dimensions", name, ne.size()));
  uint64_t n = 1;
  for (uint64_t d : ne) {
    if (d == 0) throw std::invalid_argument(fmt::format("tensor {}: zero dimension", name));
    n *= d;
  }
  if (ne[0] % tt.block_size != 0)
    throw std::invalid_argument(fmt::format("tensor {}: row length {} is not a multiple of {}'s block size {}", name, ne[0], tt.name, tt.block_size));
  for (const Pending& p : tensors_)
    if (p.name == name) throw std::invalid_argument(fmt::format("duplicate tensor {}", name));
  tensors_.push_back({name, type, std::move(ne), n / tt.block_size * tt.block_bytes, std::move(fill)});
}

void GgufWriter::add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> ne, std::span<const uint8_t> data) {
  add_tensor(name, type, std::move(ne), Fill{});
  Pending& p = tensors_.back();
  if (data.size() != p.nbytes)
    throw std::invalid_argument(fmt::format("tensor {}: {} bytes given, {} expected", name, data.size(), p.nbytes));
  p.fill = [data](uint8_t* dst, uint64_t nbytes) { std::memcpy(dst, data.data(), nbytes); };
}

void GgufWriter::write(const std::string& path) const {
  ByteSink h;
  h.u32(kMagic);
  h.u32(version_);
  h.u64(tensors_.size());
  const bool write_alignment = alignment_ != kDefaultAlignment;
  h.u64(metadata_.size() + (write_alignment ? 1 : 0));
  if (write_alignment) {
    h.str("general.alignment");
    h.u32(static_cast<uint32_t>(ValueType::UINT32));
    h.u32(alignment_);
  }
  for (const auto& [k, v] : metadata_) {
    h.str(k);
    h.u32(static_cast<uint32_t>(v.type()));
    h.value(v);
  }
  std::vector<uint64_t> offsets;
  uint64_t offset = 0;
  for (const Pending& t : tensors_) {
    h.str(t.name);
    h.u32(static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) h.u64(d);
    h.u32(static_cast<uint32_t>(t.type));
    h.u64(offset);
    offsets.push_back(offset);
    offset = align_up(offset + t.nbytes, alignment_);
  }
  const uint64_t data_start = align_up(h.buf.size(), alignment_);
  h.buf.resize(data_start, 0);

  const std::string tmp = path + ".tmp";
  File f(tmp);
  try {
    f.write_at(h.buf.data(), h.buf.size(), 0);
    std::vector<uint8_t> buf;
    uint64_t end = data_start;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const Pending& t = tensors_[i];
      end = data_start + offsets[i] + t.nbytes;
      if (!t.fill) continue;  // a hole
      buf.assign(t.nbytes, 0);
      t.fill(buf.data(), t.nbytes);
      f.write_at(buf.data(), buf.size(), data_start + offsets[i]);
    }
    // Padding after the last tensor is optional in GGUF; ending the file at the
    // last tensor's end keeps sizes exact.
    f.truncate(end);
    f.close();
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(fmt::format("{}: cannot rename from {}: {}", path, tmp, std::strerror(errno)));
  }
}

}  // namespace scout::gguf
