// Plain structs shared by the CUDA kernels and the backend (host C++): what a
// pass's KV tables look like in device memory, the row groups of the expert
// FFN, and the error record kernels leave for the host. No CUDA syntax.
#pragma once

#include <cstdint>

namespace scout::cuda {

// One segment of a pass (backend.h KvSegment) on the device.
struct SegDev {
  int64_t row = 0;        // first row of the segment in the pass
  int64_t n_rows = 0;
  int64_t first_pos = 0;  // sequence position of that row
};

// One (layer, segment) table (backend.h KvTable) on the device.
struct TableDev {
  int64_t base_pos = 0;
  int64_t n_pos = 0;
  int32_t first_id = 0;  // index into PassDev::block_ids
  int32_t n_blocks = 0;
};

// The current pass, as begin_pass() leaves it in device memory. The header
// itself lives at one fixed device address for the backend's lifetime, so a
// recorded decode graph that reads it stays valid while the arrays it points
// to (grow-only, re-allocated when a pass outgrows them) and the KV pool's
// block table (re-allocated when the pool grows) move.
struct PassDev {
  int32_t n_rows = 0;
  int32_t n_segs = 0;
  int32_t n_layer = 0;
  int32_t pad = 0;
  const SegDev* segs = nullptr;        // [n_segs]
  const TableDev* tables = nullptr;    // [n_layer][n_segs]
  const int32_t* block_ids = nullptr;  // the engine's block ids
  const int32_t* row_seg = nullptr;    // [n_rows]: the segment of each row
  void* const* blocks = nullptr;       // the pool's block id -> device address
};

// The geometry of a KV block (backend/kv_layout.h), passed by value.
struct KvGeom {
  int64_t block_size = 0;
  int n_head_kv = 0;
  int head_dim_k = 0;
  int head_dim_v = 0;
  int f16 = 1;  // elements are f16 (else f32)
};

// A run of rows of one expert (moe_ffn) or of a plain matmul: rows
// [start, start + count) of the activations, multiplied by expert `expert`'s
// matrix.
struct RowTile {
  int32_t expert = 0;
  int32_t start = 0;
  int32_t count = 0;
  int32_t pad = 0;
};

// What a kernel found wrong (an id out of range), for the host to raise at
// the next download/synchronize. The first error wins; the kernel clamps the
// id and carries on, so nothing is read out of bounds.
enum ErrorCode : int32_t { kErrNone = 0, kErrEmbed = 1, kErrGatherRows = 2, kErrExpert = 3 };
struct ErrorState {
  int32_t code = 0;
  int32_t value = 0;  // the offending id
  int32_t bound = 0;  // the range it should have been in: [0, bound)
  int32_t pad = 0;
};

}  // namespace scout::cuda
