// Helpers the .cu files share: warp reductions, the tile a block works on
// (Grouping), launch checks, and each file's one-time kernel setup.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_kernels.h"

namespace scout::cuda {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

// The rows block `slot` of a (grouped) matmul works on: [r0, r0 + nr), and
// the byte offset of its expert's matrix. False when the slot has no tile.
__device__ __forceinline__ bool tile_of(const Grouping& g, int64_t slot, int64_t n_rows, int tile_rows, int64_t& r0,
                                        int& nr, size_t& w_off) {
  if (!g.tiles) {
    r0 = slot * tile_rows;
    const int64_t left = n_rows - r0;
    nr = static_cast<int>(left < tile_rows ? left : tile_rows);
    w_off = 0;
    return nr > 0;
  }
  if (slot >= *g.n_tiles) return false;
  const RowTile t = g.tiles[slot];
  r0 = t.start;
  nr = t.count;
  w_off = static_cast<size_t>(t.expert) * g.expert_stride;
  return true;
}

// Records an id out of [0, bound) (the first one wins) and returns it clamped.
__device__ __forceinline__ int32_t checked_id(int32_t id, int32_t bound, int32_t code, ErrorState* err) {
  if (id >= 0 && id < bound) return id;
  if (err && atomicCAS(&err->code, 0, code) == 0) {
    err->value = id;
    err->bound = bound;
  }
  return id < 0 ? 0 : bound - 1;
}

inline void check_launch(const char* what) { cuda_check(cudaGetLastError(), what); }

inline unsigned grid_for(int64_t n, int64_t per_block) { return static_cast<unsigned>((n + per_block - 1) / per_block); }

// One-time setup of each file's kernels (init_kernels calls them all).
void init_attention_kernels();
void init_gemm_kernels();
void init_topk_kernels();

}  // namespace scout::cuda
