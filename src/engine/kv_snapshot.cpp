#include "engine/kv_snapshot.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace scout::engine {

namespace {

constexpr char kMagic[8] = {'S', 'C', 'O', 'U', 'T', 'K', 'V', '\0'};
constexpr uint32_t kVersion = 1;

// The fixed header, read and written whole (no padding).
struct SnapshotHeader {
  char magic[8];
  uint32_t version;
  uint32_t n_layer;
  uint64_t fingerprint;
  uint32_t n_head_kv, head_dim_k, head_dim_v, block_size;
  uint32_t type_k, type_v;
  uint32_t n_vocab, flags;  // flags: kHasLogits
  uint64_t n_tokens;
  uint64_t block_bytes;
  uint64_t tag;
};
static_assert(sizeof(SnapshotHeader) == 80, "no padding: read and written whole");
constexpr uint32_t kHasLogits = 1;

struct LayerEntry {
  int64_t base_pos;
  int64_t n_blocks;
};

constexpr size_t pad8(size_t n) { return (n + 7) / 8 * 8; }

}  // namespace

uint64_t model_fingerprint(const Model& model) {
  const gguf::GgufFile& f = model.file();
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  const auto& tensors = f.tensors();
  if (!tensors.empty()) {
    // The header (metadata and tensor infos: hyper-parameters, vocabulary,
    // names, types, shapes) is the file's first data_offset bytes.
    const uint8_t* start = tensors.front().data - tensors.front().offset - f.data_offset();
    XXH3_64bits_update(st, start, f.data_offset());
  }
  for (const gguf::TensorInfo& t : tensors) {
    const size_t n = std::min<size_t>(t.nbytes, 4096);
    XXH3_64bits_update(st, t.data, n);
    XXH3_64bits_update(st, t.data + t.nbytes - n, n);
  }
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

SnapshotExpect snapshot_expect(const Session& s) {
  SnapshotExpect e;
  e.fingerprint = model_fingerprint(s.model());
  e.n_vocab = s.model().hparams().n_vocab;
  e.layout = s.kv_cache().config().layout();
  e.layer_chunk = s.kv_cache().config().layer_chunk;
  return e;
}

SnapshotView parse_snapshot(std::span<const std::byte> bytes, const SnapshotExpect& expect) {
  auto fail = [](const std::string& what) -> SnapshotError { return SnapshotError(what); };
  SnapshotHeader h;
  if (bytes.size() < sizeof h + 8) throw fail(fmt::format("too short for a saved KV cache ({} bytes)", bytes.size()));
  std::memcpy(&h, bytes.data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) throw fail("not a scout KV cache file");
  if (h.version != kVersion) throw fail(fmt::format("format version {} (this scout reads {})", h.version, kVersion));
  if (h.fingerprint != expect.fingerprint) throw SnapshotError("saved with another model", true);
  const backend::KvLayout& L = expect.layout;
  if (h.n_layer != expect.layer_chunk.size() || h.n_head_kv != static_cast<uint32_t>(L.n_head_kv) ||
      h.head_dim_k != static_cast<uint32_t>(L.head_dim_k) || h.head_dim_v != static_cast<uint32_t>(L.head_dim_v) ||
      h.block_size != static_cast<uint64_t>(L.block_size) || h.n_vocab != expect.n_vocab)
    throw SnapshotError("saved with another cache shape", true);
  if (h.type_k != static_cast<uint32_t>(L.types.k) || h.type_v != static_cast<uint32_t>(L.types.v) ||
      h.block_bytes != L.block_bytes()) {
    const auto name = [](uint32_t t) {
      return t < std::size(backend::kKvTypes) ? std::string(backend::kKvTypes[t].name) : fmt::format("type {}", t);
    };
    throw SnapshotError(fmt::format("saved with KV types {}/{}, this run uses {}", name(h.type_k), name(h.type_v), L.types.name()),
                        true);
  }
  // Sizes, each checked before it is used in the next sum (no overflow: the
  // file is at most bytes.size(), and every count is bounded by it first).
  const size_t size = bytes.size();
  if (h.n_tokens == 0 || h.n_tokens > size / 4)
    throw fail(fmt::format("truncated or damaged: {} tokens in a file of {} bytes", h.n_tokens, size));
  size_t at = sizeof h;
  if (h.flags & ~kHasLogits) throw fail(fmt::format("unknown flags {:#x}", h.flags));
  const bool has_logits = (h.flags & kHasLogits) != 0;
  const size_t tok_bytes = pad8(h.n_tokens * 4), logit_bytes = has_logits ? pad8(size_t{h.n_vocab} * 4) : 0;
  const size_t table_bytes = size_t{h.n_layer} * sizeof(LayerEntry);
  if (tok_bytes + logit_bytes + table_bytes > size - at - 8) throw fail("truncated (header sections)");
  SnapshotView v;
  v.tokens = {reinterpret_cast<const int32_t*>(bytes.data() + at), h.n_tokens};
  at += tok_bytes;
  v.tag = h.tag;
  if (has_logits) v.logits = {reinterpret_cast<const float*>(bytes.data() + at), h.n_vocab};
  at += logit_bytes;
  std::vector<LayerEntry> layers(h.n_layer);
  std::memcpy(layers.data(), bytes.data() + at, table_bytes);
  at += table_bytes;
  const auto n = static_cast<int64_t>(h.n_tokens);
  for (uint32_t il = 0; il < h.n_layer; ++il) {
    const int64_t base = live_base_for(expect.layer_chunk[il], n);  // what the cache holds
    const int64_t blocks = base >= n ? 0 : (n - base + L.block_size - 1) / L.block_size;
    if (layers[il].base_pos != base || layers[il].n_blocks != blocks)
      throw fail(fmt::format("layer {} holds blocks {} from position {}, expected {} from {}", il, layers[il].n_blocks,
                             layers[il].base_pos, blocks, base));
    const size_t lb = static_cast<size_t>(blocks) * h.block_bytes;
    if (lb > size - at - 8) throw fail("truncated (KV blocks)");
    v.layer_blocks.emplace_back(bytes.data() + at, lb);
    at += lb;
  }
  if (at + 8 != size) throw fail(fmt::format("{} bytes after the KV blocks, expected 8", size - at));
  uint64_t sum;
  std::memcpy(&sum, bytes.data() + at, 8);
  if (XXH3_64bits(bytes.data(), at) != sum) throw fail("checksum mismatch (damaged)");
  for (const int32_t t : v.tokens)
    if (t < 0 || static_cast<uint32_t>(t) >= expect.n_vocab) throw fail(fmt::format("token id {} out of the vocabulary", t));
  return v;
}

void save_snapshot(const std::string& path, const Session& s, uint32_t seq, std::span<const int32_t> tokens,
                   std::span<const float> logits, uint64_t tag) {
  const KvCache& kv = s.kv_cache();
  const SnapshotExpect e = snapshot_expect(s);
  if (static_cast<int64_t>(tokens.size()) != kv.seq_len(seq) || tokens.empty())
    throw std::logic_error(fmt::format("save_snapshot: {} tokens for a sequence of {}", tokens.size(), kv.seq_len(seq)));
  if (!logits.empty() && logits.size() != e.n_vocab)
    throw std::logic_error("save_snapshot: logits are not one row of the vocabulary");

  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  auto put = [&](const void* p, size_t n) {
    out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    XXH3_64bits_update(st, p, n);
  };
  const char zeros[8] = {};
  SnapshotHeader h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.n_layer = static_cast<uint32_t>(e.layer_chunk.size());
  h.fingerprint = e.fingerprint;
  h.n_head_kv = static_cast<uint32_t>(e.layout.n_head_kv);
  h.head_dim_k = static_cast<uint32_t>(e.layout.head_dim_k);
  h.head_dim_v = static_cast<uint32_t>(e.layout.head_dim_v);
  h.block_size = static_cast<uint32_t>(e.layout.block_size);
  h.type_k = static_cast<uint32_t>(e.layout.types.k);
  h.type_v = static_cast<uint32_t>(e.layout.types.v);
  h.n_vocab = e.n_vocab;
  h.flags = logits.empty() ? 0 : kHasLogits;
  h.tag = tag;
  h.n_tokens = tokens.size();
  h.block_bytes = e.layout.block_bytes();
  put(&h, sizeof h);
  put(tokens.data(), tokens.size_bytes());
  put(zeros, pad8(tokens.size_bytes()) - tokens.size_bytes());
  put(logits.data(), logits.size_bytes());
  put(zeros, pad8(logits.size_bytes()) - logits.size_bytes());
  std::vector<std::vector<int32_t>> blocks;
  for (uint32_t il = 0; il < h.n_layer; ++il) {
    blocks.push_back(kv.live_blocks(il, seq));
    const LayerEntry le{kv.live_base(il, kv.seq_len(seq)), static_cast<int64_t>(blocks.back().size())};
    put(&le, sizeof le);
  }
  std::vector<std::byte> buf(h.block_bytes);
  for (const std::vector<int32_t>& ids : blocks)
    for (const int32_t id : ids) {
      kv.pool().read_block(id, buf.data());
      put(buf.data(), buf.size());
    }
  const uint64_t sum = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  out.write(reinterpret_cast<const char*>(&sum), sizeof sum);
  out.close();
  if (!out) {
    std::filesystem::remove(tmp);
    throw std::runtime_error(fmt::format("{}: writing failed (disk full?)", path));
  }
  std::filesystem::rename(tmp, path);
}

LoadedSnapshot load_snapshot(const std::string& path, Session& s, uint32_t seq) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw SnapshotError(std::strerror(errno));
  struct stat sb {};
  if (::fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
    ::close(fd);
    throw SnapshotError("not a regular, non-empty file");
  }
  const auto size = static_cast<size_t>(sb.st_size);
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (addr == MAP_FAILED) throw SnapshotError(fmt::format("cannot map it: {}", std::strerror(errno)));
  struct Unmap {
    void* a;
    size_t n;
    ~Unmap() { ::munmap(a, n); }
  } unmap{addr, size};

  const SnapshotView v = parse_snapshot({static_cast<const std::byte*>(addr), size}, snapshot_expect(s));
  if (v.tokens.size() > s.n_ctx()) throw SnapshotError(fmt::format("{} tokens do not fit the context of {}", v.tokens.size(), s.n_ctx()));
  KvCache& kv = s.kv_cache();
  kv.restore(seq, static_cast<int64_t>(v.tokens.size()));
  const size_t bb = kv.block_bytes();
  for (uint32_t il = 0; il < v.layer_blocks.size(); ++il) {
    const std::vector<int32_t> ids = kv.live_blocks(il, seq);
    for (size_t b = 0; b < ids.size(); ++b) kv.pool().write_block(ids[b], v.layer_blocks[il].data() + b * bb);
  }
  return {{v.tokens.begin(), v.tokens.end()}, {v.logits.begin(), v.logits.end()}, v.tag};
}

}  // namespace scout::engine
