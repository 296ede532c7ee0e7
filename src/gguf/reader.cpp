#include "gguf/reader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <numeric>
#include <type_traits>

#include "gguf/known_keys.h"

namespace scout::gguf {

// GGUF is little-endian; values are read with memcpy straight into host types.
static_assert(std::endian::native == std::endian::little, "scout's GGUF reader assumes a little-endian host");

namespace {

[[noreturn]] void throw_error(const std::string& path, const std::string& what) { throw GgufError(path + ": " + what); }

// Smallest possible encodings, used to reject absurd counts before looping on
// them: a kv is a key length (8), a value type (4) and at least a 1-byte value;
// a tensor info is a name length (8), n_dims (4), one dim (8), type (4), offset (8).
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
constexpr uint64_t kMinStringBytes = 8;

// Sanity limits far above any real file (the largest metadata strings are chat
// templates and embedded tokenizer JSON, a few MB; the largest arrays are
// vocabularies and merge lists, about a million entries). They turn a corrupt
// header inside a huge file into a clear error instead of a giant allocation.
constexpr uint64_t kMaxStringBytes = uint64_t{1} << 30;
constexpr uint64_t kMaxArrayElements = uint64_t{1} << 27;

// A name from the file as it appears in error messages: control bytes escaped
// (the CLI reports errors on one line, and a name must not drive the terminal)
// and very long names cut, since a key may be up to kMaxStringBytes long.
std::string shown(std::string_view name) {
  constexpr size_t kMaxShown = 120;
  if (name.empty()) return "\"\"";
  std::string out;
  for (unsigned char ch : name.substr(0, kMaxShown)) {
    if (ch < 0x20 || ch == 0x7f)
      out += fmt::format("\\x{:02x}", ch);
    else
      out += static_cast<char>(ch);
  }
  if (name.size() > kMaxShown) out += fmt::format("... ({} bytes)", name.size());
  return out;
}

// A read's description for error messages: a string, or a callable that
// builds one. Callables keep the hot path (hundreds of thousands of vocabulary
// strings) free of formatting: the text is only built when a read fails.
template <typename What>
std::string describe(const What& what) {
  if constexpr (std::is_invocable_v<const What&>)
    return what();
  else
    return std::string(what);
}

// Bounds-checked sequential reads over the file's bytes. Every read names what
// it is reading so a truncated file reports exactly where it ends.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  [[noreturn]] void fail(const std::string& what) const { throw_error(path_, what); }

  template <typename What>
  const uint8_t* take(uint64_t n, const What& what) {
    if (n > remaining())
      fail(fmt::format("truncated file: reading {} at offset {} needs {} bytes, only {} left", describe(what), pos_, n,
                       remaining()));
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

  template <typename T, typename What>
  T read(const What& what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));
    return v;
  }

  // GGUF string: u64 length then that many bytes (any bytes; UTF-8 is not enforced).
  template <typename What>
  std::string read_string(const What& what) {
    const uint64_t start = pos_;
    const uint64_t len = read<uint64_t>([&] { return "the length of " + describe(what); });
    if (len > remaining())
      fail(fmt::format("string length {} of {} at offset {} runs past the end of the file ({} bytes left)", len,
                       describe(what), start, remaining()));
    if (len > kMaxStringBytes)
      fail(fmt::format("string length {} of {} at offset {} exceeds the limit of {} bytes", len, describe(what), start,
                       kMaxStringBytes));
    const uint8_t* p = take(len, what);
    return std::string(reinterpret_cast<const char*>(p), len);
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& path_;
  uint64_t pos_ = 0;
};

template <typename What>
Value read_scalar(Cursor& c, ValueType t, const What& what) {
  switch (t) {
    case ValueType::UINT8: return Value::u8(c.read<uint8_t>(what));
    case ValueType::INT8: return Value::i8(c.read<int8_t>(what));
    case ValueType::UINT16: return Value::u16(c.read<uint16_t>(what));
    case ValueType::INT16: return Value::i16(c.read<int16_t>(what));
    case ValueType::UINT32: return Value::u32(c.read<uint32_t>(what));
    case ValueType::INT32: return Value::i32(c.read<int32_t>(what));
    case ValueType::UINT64: return Value::u64(c.read<uint64_t>(what));
    case ValueType::INT64: return Value::i64(c.read<int64_t>(what));
    case ValueType::FLOAT32: return Value::f32(c.read<float>(what));
    case ValueType::FLOAT64: return Value::f64(c.read<double>(what));
    case ValueType::BOOL: return Value::boolean(c.read<uint8_t>(what) != 0);
    case ValueType::STRING: return Value::string(c.read_string(what));
    case ValueType::ARRAY: break;
  }
  c.fail("internal error: read_scalar called for an array");
}

Value read_array(Cursor& c, const std::string& key) {
  const uint32_t elem_id = c.read<uint32_t>([&] { return "the element type of array key " + shown(key); });
  if (elem_id >= kValueTypeCount) c.fail(fmt::format("array key {} has unknown element type {}", shown(key), elem_id));
  const auto elem = static_cast<ValueType>(elem_id);
  if (elem == ValueType::ARRAY)
    c.fail(fmt::format("array key {} is an array of arrays; nested arrays are not supported", shown(key)));
  const uint64_t count = c.read<uint64_t>([&] { return "the length of array key " + shown(key); });
  // The remaining-bytes checks below come first: they name the usual problem.
  auto check_limit = [&] {
    if (count > kMaxArrayElements)
      c.fail(
          fmt::format("array key {} has {} elements, more than the limit of {}", shown(key), count, kMaxArrayElements));
  };

  if (elem == ValueType::STRING) {
    // Each string is at least its 8-byte length, which bounds the count.
    if (count > c.remaining() / kMinStringBytes)
      c.fail(fmt::format("array key {} claims {} strings, but only {} bytes are left (each string needs at least 8)",
                         shown(key), count, c.remaining()));
    check_limit();
    std::vector<std::string> items;
    for (uint64_t i = 0; i < count; ++i)
      items.push_back(c.read_string([&] { return fmt::format("string {} of array key {}", i, shown(key)); }));
    return Value::string_array(std::move(items));
  }

  const uint64_t size = value_type_size(elem);
  if (count > c.remaining() / size)
    c.fail(fmt::format("array key {} claims {} elements of type {} ({} bytes each), but only {} bytes are left",
                       shown(key), count, value_type_name(elem), size, c.remaining()));
  check_limit();
  const uint8_t* p = c.take(count * size, [&] { return "the elements of array key " + shown(key); });
  return Value::raw_array(elem, std::vector<uint8_t>(p, p + count * size));
}

Value read_value(Cursor& c, const std::string& key) {
  const uint32_t type_id = c.read<uint32_t>([&] { return "the value type of key " + shown(key); });
  if (type_id >= kValueTypeCount) c.fail(fmt::format("key {} has unknown value type {}", shown(key), type_id));
  const auto type = static_cast<ValueType>(type_id);
  if (type == ValueType::ARRAY) return read_array(c, key);
  return read_scalar(c, type, [&] { return "the value of key " + shown(key); });
}

uint64_t align_up(uint64_t x, uint64_t alignment) { return (x + alignment - 1) / alignment * alignment; }

// Closes a file descriptor on every path out of open().
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

}  // namespace

std::string TensorInfo::shape_string() const {
  std::string out = "[";
  for (uint32_t d = 0; d < n_dims && d < kMaxDims; ++d) out += (d ? ", " : "") + std::to_string(ne[d]);
  return out + "]";
}

// ---------------------------------------------------------------------------
// Opening and lifetime

GgufFile GgufFile::open(const std::string& path, LoadMode mode) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_error(path, fmt::format("cannot open: {}", std::strerror(errno)));
  FdCloser closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_error(path, fmt::format("cannot stat: {}", std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) throw_error(path, "is a directory, not a GGUF file");
  if (!S_ISREG(st.st_mode)) throw_error(path, "is not a regular file");
  // mmap of length 0 fails with EINVAL, so an empty file gets its own message.
  if (st.st_size == 0) throw_error(path, "file is empty (0 bytes), not a GGUF file");
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > std::numeric_limits<size_t>::max()) throw_error(path, "file is too large to map");

  GgufFile f;
  f.path_ = path;
  try {
    f.file_bytes_ = FileBytes::load(fd, size, mode);
  } catch (const std::runtime_error& e) {
    throw_error(path, e.what());
  }
  f.bytes_ = f.file_bytes_.bytes();
  f.parse_all();
  return f;
}

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, std::string name) {
  GgufFile f;
  f.path_ = std::move(name);
  f.bytes_ = bytes;
  f.parse_all();
  return f;
}

GgufFile::GgufFile(GgufFile&& o) noexcept
    : path_(std::move(o.path_)),
      bytes_(std::exchange(o.bytes_, {})),
      file_bytes_(std::move(o.file_bytes_)),
      version_(o.version_),
      alignment_(o.alignment_),
      data_offset_(o.data_offset_),
      metadata_(std::move(o.metadata_)),
      tensors_(std::move(o.tensors_)),
      key_index_(std::move(o.key_index_)),
      tensor_index_(std::move(o.tensor_index_)) {}

GgufFile& GgufFile::operator=(GgufFile&& o) noexcept {
  if (this == &o) return *this;
  path_ = std::move(o.path_);
  bytes_ = std::exchange(o.bytes_, {});
  file_bytes_ = std::move(o.file_bytes_);
  version_ = o.version_;
  alignment_ = o.alignment_;
  data_offset_ = o.data_offset_;
  metadata_ = std::move(o.metadata_);
  tensors_ = std::move(o.tensors_);
  key_index_ = std::move(o.key_index_);
  tensor_index_ = std::move(o.tensor_index_);
  return *this;
}

GgufFile::~GgufFile() = default;

void GgufFile::fail(const std::string& what) const { throw_error(path_, what); }

// ---------------------------------------------------------------------------
// Parsing and validation

void GgufFile::parse_all() {
  Cursor c(bytes_, path_);

  const uint32_t magic = c.read<uint32_t>("the magic");
  if (magic != kMagic) {
    const uint8_t* m = bytes_.data();
    fail(fmt::format("bad magic {:02x} {:02x} {:02x} {:02x}: not a GGUF file (expected \"GGUF\")", m[0], m[1], m[2],
                     m[3]));
  }
  version_ = c.read<uint32_t>("the version");
  if (version_ != 2 && version_ != 3)
    fail(fmt::format("unsupported GGUF version {} (scout reads versions 2 and 3)", version_));
  const uint64_t tensor_count = c.read<uint64_t>("the tensor count");
  const uint64_t kv_count = c.read<uint64_t>("the metadata key-value count");
  if (kv_count > c.remaining() / kMinKvBytes)
    fail(
        fmt::format("metadata count {} is impossible: each entry needs at least {} bytes and only {} bytes follow "
                    "the header",
                    kv_count, kMinKvBytes, c.remaining()));
  if (tensor_count > c.remaining() / kMinTensorInfoBytes)
    fail(
        fmt::format("tensor count {} is impossible: each tensor info needs at least {} bytes and only {} bytes "
                    "follow the header",
                    tensor_count, kMinTensorInfoBytes, c.remaining()));

  // Metadata. Vectors grow as entries are read: never reserve from a count.
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = c.read_string([&] { return fmt::format("the key of metadata entry {}", i); });
    Value value = read_value(c, key);
    metadata_.emplace_back(std::move(key), std::move(value));
  }
  for (size_t i = 0; i < metadata_.size(); ++i) {
    auto [it, inserted] = key_index_.emplace(metadata_[i].first, i);
    if (!inserted)
      fail(fmt::format("duplicate metadata key {} (entries {} and {})", shown(metadata_[i].first), it->second, i));
  }

  // Known keys must hold the kind of value scout will read from them. The
  // architecture is checked first since it names the per-architecture keys.
  std::string_view arch;
  if (const Value* a = find("general.architecture"); a && a->is_string()) arch = a->as_string();
  for (const auto& [key, value] : metadata_) {
    const std::optional<KeyKind> kind = known_key_kind(key, arch);
    if (kind && !value_matches(value, *kind))
      fail(fmt::format("key {} has type {}, expected {}", shown(key), value_type_description(value),
                       key_kind_description(*kind)));
  }
  if (const Value* a = find("general.alignment")) {
    const uint64_t al = a->as_uint();
    if (!std::has_single_bit(al)) fail(fmt::format("general.alignment is {}, must be a non-zero power of two", al));
    alignment_ = static_cast<uint32_t>(al);
  }

  // Tensor infos.
  if (tensor_count > c.remaining() / kMinTensorInfoBytes)
    fail(
        fmt::format("tensor count {} is impossible: each tensor info needs at least {} bytes and only {} bytes "
                    "follow the metadata",
                    tensor_count, kMinTensorInfoBytes, c.remaining()));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    TensorInfo t;
    t.name = c.read_string([&] { return fmt::format("the name of tensor info {}", i); });
    t.n_dims = c.read<uint32_t>([&] { return "the dimension count of tensor " + shown(t.name); });
    if (t.n_dims == 0 || t.n_dims > kMaxDims)
      fail(fmt::format("tensor {} has {} dimensions, must be 1 to {}", shown(t.name), t.n_dims, kMaxDims));
    for (uint32_t d = 0; d < t.n_dims; ++d)
      t.ne[d] = c.read<uint64_t>([&] { return fmt::format("ne[{}] of tensor {}", d, shown(t.name)); });
    const uint32_t type_id = c.read<uint32_t>([&] { return "the type of tensor " + shown(t.name); });
    t.offset = c.read<uint64_t>([&] { return "the data offset of tensor " + shown(t.name); });

    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < t.n_dims; ++d) {
      if (t.ne[d] == 0) fail(fmt::format("tensor {} has a zero dimension: ne[{}] = 0", shown(t.name), d));
      if (__builtin_mul_overflow(n_elements, t.ne[d], &n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(fmt::format("tensor {} element count overflows int64 (shape {})", shown(t.name), t.shape_string()));
    }
    const TypeTraits* tt = find_type_traits(type_id);
    if (!tt) fail(fmt::format("tensor {} has unknown type id {}", shown(t.name), type_id));
    t.type = tt->type;
    if (t.ne[0] % tt->block_size != 0)
      fail(fmt::format("tensor {} row length ne[0] = {} is not a multiple of the {} block size {}", shown(t.name),
                       t.ne[0], tt->name, tt->block_size));
    if (__builtin_mul_overflow(n_elements / tt->block_size, uint64_t{tt->block_bytes}, &t.nbytes) ||
        t.nbytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(fmt::format("tensor {} byte size overflows ({} elements of type {})", shown(t.name), n_elements, tt->name));
    if (t.offset % alignment_ != 0)
      fail(fmt::format("tensor {} data offset {} is not a multiple of the alignment {}", shown(t.name), t.offset,
                       alignment_));
    tensors_.push_back(std::move(t));
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    auto [it, inserted] = tensor_index_.emplace(tensors_[i].name, i);
    if (!inserted)
      fail(fmt::format("duplicate tensor name {} (tensor infos {} and {})", shown(tensors_[i].name), it->second, i));
  }

  // The data section starts at the next alignment boundary after the header.
  // A file without tensors may end before that boundary.
  data_offset_ = align_up(c.pos(), alignment_);
  const uint64_t size = bytes_.size();
  const uint64_t avail = size > data_offset_ ? size - data_offset_ : 0;
  for (TensorInfo& t : tensors_) {
    if (t.offset > avail || t.nbytes > avail - t.offset)
      fail(
          fmt::format("tensor {} data ({} bytes at offset {} of the data section, which starts at file offset {}) "
                      "runs past the end of the file ({} bytes)",
                      shown(t.name), t.nbytes, t.offset, data_offset_, size));
    t.data = bytes_.data() + data_offset_ + t.offset;
  }

  // No two tensors may share bytes: sort by offset and compare neighbours.
  std::vector<size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorInfo& a = tensors_[order[i - 1]];
    const TensorInfo& b = tensors_[order[i]];
    if (a.offset + a.nbytes > b.offset)
      fail(fmt::format("tensors {} (data bytes {} to {}) and {} (data bytes {} to {}) overlap", shown(a.name), a.offset,
                       a.offset + a.nbytes, shown(b.name), b.offset, b.offset + b.nbytes));
  }
}

// ---------------------------------------------------------------------------
// Lookups

const Value* GgufFile::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string())
    fail(fmt::format("key {} has type {}, expected a string", shown(key), value_type_description(*v)));
  return v->as_string();
}

std::optional<uint64_t> GgufFile::get_uint(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer())
    fail(fmt::format("key {} has type {}, expected an unsigned integer", shown(key), value_type_description(*v)));
  if (v->type() != ValueType::UINT64 && v->as_int() < 0)
    fail(fmt::format("key {} has value {}, expected an unsigned integer", shown(key), v->as_int()));
  return v->as_uint();
}

// Integers are accepted too (a float key written as a whole number), converted
// to the nearest double.
std::optional<double> GgufFile::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_float() && !v->is_integer())
    fail(fmt::format("key {} has type {}, expected a number", shown(key), value_type_description(*v)));
  return v->as_float();
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type() != ValueType::BOOL)
    fail(fmt::format("key {} has type {}, expected a bool", shown(key), value_type_description(*v)));
  return v->as_bool();
}

std::string GgufFile::architecture() const {
  std::optional<std::string> arch = get_string("general.architecture");
  if (!arch) fail("missing key general.architecture");
  return *arch;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& GgufFile::require_tensor(std::string_view name, const std::vector<uint64_t>& shape) const {
  const TensorInfo* t = find_tensor(name);
  if (!t) fail(fmt::format("missing tensor {}", name));
  bool same = shape.size() <= kMaxDims;
  for (size_t i = 0; i < kMaxDims && same; ++i) same = t->ne[i] == (i < shape.size() ? shape[i] : 1);
  if (!same) fail(fmt::format("tensor {} has shape {}, expected [{}]", name, t->shape_string(), fmt::join(shape, ", ")));
  return *t;
}

}  // namespace scout::gguf
