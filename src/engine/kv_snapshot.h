// Saved KV caches (`run --prompt-cache FILE`, chat's /save and /load): one
// sequence's cache written to a file, so a long document is read once and
// asked many questions. The file holds what the sequence still reads: the
// global layers' whole context and the chunked layers' current chunk (empty
// at a chunk boundary, which keeps snapshots of huge documents small), the
// token ids it holds and the logits after the last one, so a continuation
// after loading is bit-identical to an uninterrupted run.
//
// Layout (little-endian; every section starts 8-byte aligned):
//   SnapshotHeader
//   n_tokens x int32 token ids, padded to 8 bytes
//   n_vocab x f32 logits after the last token, padded to 8 bytes (when
//   saved: a chat's cache has none, its next turn evaluates new tokens first)
//   n_layer x {int64 base_pos, int64 n_blocks}
//   the blocks' bytes, layer by layer, block_bytes each
//   uint64 XXH3-64 of everything before it
// A file is trusted only when every field agrees with this model and cache
// layout, the sizes add up to the file's size exactly and the checksum matches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/session.h"

namespace scout::engine {

// What is wrong with a snapshot file, in one line (the caller warns and
// evaluates instead).
struct SnapshotError : std::runtime_error {
  explicit SnapshotError(const std::string& what, bool other_model = false)
      : std::runtime_error(what), foreign(other_model) {}
  bool foreign;  // a sound file of another model or cache layout: not to be overwritten
};

// A hash of the model's hyper-parameters and tensors (names, types, shapes,
// and the first and last 4 KiB of each tensor's data, so two fine-tunes of
// one shape differ).
uint64_t model_fingerprint(const Model& model);

// What a snapshot must match to be used: the model and the cache's layout.
struct SnapshotExpect {
  uint64_t fingerprint = 0;
  uint32_t n_vocab = 0;
  backend::KvLayout layout;
  std::vector<uint32_t> layer_chunk;  // per layer, 0: global
};
SnapshotExpect snapshot_expect(const Session& s);

// The parsed sections of a snapshot held in memory (a mapped file), checked
// against `expect`: sizes, ranges, the base positions the cache would hold,
// the checksum. Throws SnapshotError naming the first problem. Pure: the
// fuzz target calls it on arbitrary bytes.
struct SnapshotView {
  std::span<const int32_t> tokens;
  std::span<const float> logits;  // empty when none were saved
  uint64_t tag = 0;
  std::vector<std::span<const std::byte>> layer_blocks;  // per layer, n_blocks x block_bytes
};
SnapshotView parse_snapshot(std::span<const std::byte> bytes, const SnapshotExpect& expect);

// Writes sequence seq of s (holding exactly `tokens`, whose last logits are
// `logits`, or none) to path: to a temporary file beside it, renamed over
// path once complete. `tag` is the caller's (chat: which conversation the
// cache stands for). Throws std::runtime_error when it cannot be written.
void save_snapshot(const std::string& path, const Session& s, uint32_t seq, std::span<const int32_t> tokens,
                   std::span<const float> logits, uint64_t tag = 0);

// A loaded snapshot: its tokens and last logits (its cache is in the session).
struct LoadedSnapshot {
  std::vector<int32_t> tokens;
  std::vector<float> logits;  // empty when none were saved
  uint64_t tag = 0;
};

// Maps path and, when it is a valid snapshot for s, restores it into
// sequence seq (which is cleared first). Throws SnapshotError (the session
// is unchanged then) for a missing, truncated, corrupted or foreign file.
LoadedSnapshot load_snapshot(const std::string& path, Session& s, uint32_t seq);

}  // namespace scout::engine
