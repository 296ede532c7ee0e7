// The per-element and per-row math of the CUDA kernels, written once as
// __host__ __device__ functions so that tests/kernels/cuda_device_math_test.cpp
// checks it on the host, without a GPU, against the CPU backend: f16
// rounding, 8-bit activation blocks, the top-k order and routing gates, the
// RoPE table entry, the attention temperature, the online-softmax merge of
// split-K attention, and the grouping of (token, expert) pairs by expert.
// The kernels call these; where a kernel parallelises a loop written here
// serially (a maximum, a sum of integers), the parallel form is exact.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cuda/block_decode.cuh"
#include "kernels/cuda/device_types.h"

namespace scout::cuda {

SCOUT_HD uint32_t float_to_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

// a + b and a - b rounded on their own (never fused with a product).
SCOUT_HD float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  volatile float s = a + b;
  return s;
#endif
}
SCOUT_HD float sub_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  volatile float s = a - b;
  return s;
#endif
}

SCOUT_HD float exp_f(float x) {
#ifdef __CUDA_ARCH__
  return expf(x);
#else
  return std::exp(x);
#endif
}

// Round to nearest, ties to even (the CPU's std::nearbyint in the default mode).
SCOUT_HD int round_to_int(float v) {
#ifdef __CUDA_ARCH__
  return __float2int_rn(v);
#else
  return static_cast<int>(std::nearbyint(v));
#endif
}

// f32 -> IEEE binary16 bits, round to nearest even: src/tensor/half.cpp's
// fp32_to_fp16 step for step (the KV cache's f16 and the activation scales).
SCOUT_HD uint16_t f32_to_f16_bits(float f) {
  const uint32_t x = float_to_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7FFFFFFF;
  if (ax > 0x7F800000) return sign | 0x7E00 | static_cast<uint16_t>((ax >> 13) & 0x3FF);  // NaN
  if (ax >= 0x477FF000) return sign | 0x7C00;                                               // -> inf
  if (ax >= 0x38800000) {                                                                   // normal
    uint32_t r = ax - ((127u - 15u) << 23);
    r += 0xFFF + ((r >> 13) & 1);
    return sign | static_cast<uint16_t>(r >> 13);
  }
  const uint32_t e = ax >> 23;
  if (e < 102) return sign;
  const uint32_t m = (ax & 0x7FFFFF) | 0x800000;
  const uint32_t shift = 126 - e;
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;
  return sign | static_cast<uint16_t>(q);
}

// --- 8-bit activations (kernels/cpu/act_quant.cpp's rounding) ---
// 32-element blocks (legacy weight types): q = round(x * 127 / max|x|), the
// scale kept at half precision. id is the multiplier, d the stored scale.
SCOUT_HD void act32_scale(float amax, float& id, float& d) {
  id = amax != 0.0f ? 127.0f / amax : 0.0f;
  d = fp16_to_f32(f32_to_f16_bits(amax / 127.0f));
}
SCOUT_HD int act32_round(float x, float id) { return round_to_int(x * id); }

// 256-element blocks (K-quants, IQ4_XS): the value of largest magnitude (the
// first one on ties), sign kept, becomes -127. amax == 0 gives an all-zero block.
SCOUT_HD float act256_iscale(float max_signed) { return -127.0f / max_signed; }
SCOUT_HD int act256_round(float x, float iscale) {
  const int v = round_to_int(iscale * x);
  return v < 127 ? v : 127;
}
SCOUT_HD float act256_d(float iscale) { return 1.0f / iscale; }
// Whether (a, ia) is the better maximum-magnitude candidate than (b, ib).
SCOUT_HD bool amax_better(float a, int ia, float b, int ib) { return a > b || (a == b && ia < ib); }

// Serial reference of one block (the kernel reduces the maximum across lanes).
// q: n int8 values; sums: 1 (n = 32) or 16 (n = 256, per 16 values) integers.
SCOUT_HD void quantize_act_block(const float* x, int n, int8_t* q, float& d, int32_t* sums) {
  if (n == 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) {
      const float a = fabsf(x[j]);
      amax = a > amax ? a : amax;
    }
    float id;
    act32_scale(amax, id, d);
    int32_t s = 0;
    for (int j = 0; j < 32; ++j) s += q[j] = static_cast<int8_t>(act32_round(x[j], id));
    sums[0] = s;
    return;
  }
  float amax = 0.0f, mx = 0.0f;  // the first value of the largest magnitude
  for (int j = 0; j < n; ++j) {
    const float a = fabsf(x[j]);
    if (a > amax) amax = a, mx = x[j];
  }
  if (amax == 0.0f) {
    d = 0.0f;
    for (int j = 0; j < n; ++j) q[j] = 0;
    for (int j = 0; j < n / 16; ++j) sums[j] = 0;
    return;
  }
  const float is = act256_iscale(mx);
  for (int j = 0; j < n; ++j) q[j] = static_cast<int8_t>(act256_round(x[j], is));
  for (int j = 0; j < n / 16; ++j) {
    int32_t s = 0;
    for (int k = 0; k < 16; ++k) s += q[16 * j + k];
    sums[j] = s;
  }
  d = act256_d(is);
}

// --- top-k (route, top_k): descending, ties to the lower index ---
SCOUT_HD bool topk_better(float va, int32_t ia, float vb, int32_t ib) { return va > vb || (va == vb && ia < ib); }

// Router gates of the chosen logits w[0..k) (descending), in place, as the CPU backend.
SCOUT_HD void gate_weights(float* w, int k, bool sigmoid) {
  if (sigmoid) {
    for (int j = 0; j < k; ++j) w[j] = 1.0f / (1.0f + exp_f(-w[j]));
    return;
  }
  const float top = w[0];
  float sum = 0.0f;
  for (int j = 0; j < k; ++j) sum += (w[j] = exp_f(w[j] - top));
  for (int j = 0; j < k; ++j) w[j] /= sum;
}

// Serial reference of route for one row (the kernel picks each maximum across a warp).
SCOUT_HD void route_row(const float* l, int E, int k, bool sigmoid, int32_t* ex, float* wt) {
  for (int j = 0; j < k; ++j) {
    int32_t best = -1;
    for (int32_t e = 0; e < E; ++e) {
      bool taken = false;
      for (int i = 0; i < j; ++i) taken = taken || ex[i] == e;
      if (!taken && (best < 0 || topk_better(l[e], e, l[best], best))) best = e;
    }
    ex[j] = best;
    wt[j] = l[best];
  }
  gate_weights(wt, k, sigmoid);
}

// --- RoPE and attention temperature (angles and logs in double, as the CPU) ---
SCOUT_HD void rope_entry(int32_t pos, double theta, float& c, float& s) {
  const double angle = pos * theta;
  c = static_cast<float>(cos(angle));
  s = static_cast<float>(sin(angle));
}
SCOUT_HD float attn_temperature_of(int32_t pos, double floor_scale, double scale) {
  return static_cast<float>(1.0 + scale * log(floor((pos + 1.0) / floor_scale) + 1.0));
}

// --- attention ---
// The keys a query at pos sees in a table holding [base, base + n_pos): [lo, hi], empty when hi < lo.
SCOUT_HD void visible_keys(int64_t pos, int64_t chunk, int64_t base, int64_t n_pos, int64_t& lo, int64_t& hi) {
  lo = chunk > 0 ? pos - pos % chunk : 0;
  if (lo < base) lo = base;
  hi = pos < base + n_pos - 1 ? pos : base + n_pos - 1;
}

// Split s of n_splits over keys [lo, hi]: [k0, k1), whole tiles of `tile`
// keys each (later splits are empty when there are few keys).
SCOUT_HD void split_keys(int64_t lo, int64_t hi, int n_splits, int s, int tile, int64_t& k0, int64_t& k1) {
  const int64_t n = hi - lo + 1;
  if (n <= 0) {
    k0 = k1 = lo;
    return;
  }
  int64_t per = (n + n_splits - 1) / n_splits;
  per = (per + tile - 1) / tile * tile;
  k0 = lo + per * s;
  k1 = k0 + per;
  if (k1 > hi + 1) k1 = hi + 1;
  if (k0 > k1) k0 = k1;
}

// Two online-softmax states (running max m, sum l of exp(score - m)) merged:
// the merged max and the factors that rescale each side's sum and weighted
// values. A side with no keys (m = -inf) weighs 0.
SCOUT_HD void softmax_merge(float m1, float l1, float m2, float l2, float& m, float& l, float& c1, float& c2) {
  m = m1 > m2 ? m1 : m2;
  c1 = m1 == -INFINITY ? 0.0f : exp_f(m1 - m);
  c2 = m2 == -INFINITY ? 0.0f : exp_f(m2 - m);
  l = l1 * c1 + l2 * c2;
}

// --- expert grouping (moe_ffn) ---
// From per-expert pair counts: each expert's first sorted position, and its
// rows cut into tiles of at most tile_rows. Returns the number of tiles.
SCOUT_HD int moe_tiles(const int32_t* counts, int E, int tile_rows, int32_t* offsets, RowTile* tiles) {
  int32_t off = 0;
  int n = 0;
  for (int e = 0; e < E; ++e) {
    offsets[e] = off;
    for (int32_t c = 0; c < counts[e]; c += tile_rows) {
      tiles[n].expert = e;
      tiles[n].start = off + c;
      tiles[n].count = counts[e] - c < tile_rows ? counts[e] - c : tile_rows;
      tiles[n].pad = 0;
      ++n;
    }
    off += counts[e];
  }
  return n;
}
// The most tiles moe_tiles can make from P pairs over E experts.
SCOUT_HD int64_t moe_max_tiles(int64_t P, int E, int tile_rows) {
  return (P + tile_rows - 1) / tile_rows + (E < P ? E : P);
}

// Expert e's pairs in pair order (token order, as the CPU groups them):
// sorted[offset + i] = the i-th pair choosing e, pos[pair] = its sorted row.
SCOUT_HD void moe_scatter_expert(int32_t e, const int32_t* experts, int64_t P, int32_t offset, int32_t* sorted,
                                 int32_t* pos) {
  int32_t at = offset;
  for (int64_t i = 0; i < P; ++i)
    if (experts[i] == e) {
      sorted[at] = static_cast<int32_t>(i);
      pos[i] = at++;
    }
}

}  // namespace scout::cuda
