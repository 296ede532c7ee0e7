// libFuzzer entry point for saved KV caches (engine/kv_snapshot.h). Any input
// must either parse or be rejected with SnapshotError. Each input is tried
// twice: as it is, and with its last 8 bytes replaced by the right checksum,
// so the checks behind the checksum are reached too. Also linked into
// kv_snapshot_fuzz_replay, which replays corpus-kv/ in ordinary builds.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "engine/kv_snapshot.h"

namespace {

// The cache the corpus's files are written for: 4 layers (chunk 4 and
// global, alternating), one kv head of 32, f16 blocks of 16, a vocabulary of 8.
scout::engine::SnapshotExpect expect() {
  scout::engine::SnapshotExpect e;
  e.fingerprint = 0x5C0075C0075C0075ull;
  e.n_vocab = 8;
  e.layout.types = scout::backend::KvType::F16;
  e.layout.block_size = 16;
  e.layout.n_head_kv = 1;
  e.layout.head_dim_k = e.layout.head_dim_v = 32;
  e.layer_chunk = {4, 0, 4, 0};
  return e;
}

void parse(const std::vector<uint64_t>& words, size_t size) {
  try {
    const auto v = scout::engine::parse_snapshot({reinterpret_cast<const std::byte*>(words.data()), size}, expect());
    size_t sink = v.tokens.size() + v.logits.size();
    for (const auto& b : v.layer_blocks)
      for (const std::byte x : b) sink += static_cast<size_t>(x);  // every span lies inside the input
    if (sink == 1) __builtin_trap();
  } catch (const scout::engine::SnapshotError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // 8-byte aligned, as a mapped file is.
  std::vector<uint64_t> words((size + 7) / 8);
  std::memcpy(words.data(), data, size);
  parse(words, size);
  if (size >= 16) {
    const uint64_t sum = XXH3_64bits(words.data(), size - 8);
    std::memcpy(reinterpret_cast<uint8_t*>(words.data()) + size - 8, &sum, 8);
    parse(words, size);
  }
  return 0;
}
