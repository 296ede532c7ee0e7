// The CPU backend's attention and KV decoding against plain references, for
// every KV type (K and V chosen separately), grouped-query heads, chunked
// and global layers, head dimensions that are not a multiple of the SIMD
// width, prompt batches and split-K decode steps.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "backend/cpu/cpu_attention.h"
#include "backend/cpu/cpu_kv.h"
#include "kernels/cpu/act_quant.h"
#include "tensor/quant.h"
#include "test_util.h"

namespace scout::backend::cpu {
namespace {

using test::random_floats;

// n values of type t, encoded from random floats.
std::vector<std::byte> encoded(KvType t, int64_t n, uint32_t seed) {
  const std::vector<float> x = random_floats(static_cast<size_t>(n), seed, 3.0f);
  std::vector<std::byte> out(kv_row_bytes(t, n));
  quantize_row(kv_tensor_type(t), x.data(), out.data(), n);
  return out;
}

TEST(KvTypes, AgreeWithTheGgmlTypeTable) {
  for (const KvTypeTraits& t : kKvTypes) {
    EXPECT_EQ(static_cast<uint32_t>(t.block), type_traits(t.tensor).block_size) << t.name;
    EXPECT_EQ(static_cast<uint32_t>(t.bytes), type_traits(t.tensor).block_bytes) << t.name;
    EXPECT_EQ(t.name, type_name(t.tensor)) << t.name;
  }
}

TEST(KvDecode, EqualsTheReferenceForEveryTypeAndLength) {
  for (const KvTypeTraits& t : kKvTypes)
    for (int64_t n = kv_block(t.type); n <= 8 * kv_block(t.type) + 40; n += kv_quantized(t.type) ? 32 : 1) {
      const std::vector<std::byte> src = encoded(t.type, n, static_cast<uint32_t>(n));
      std::vector<float> fast(static_cast<size_t>(n)), ref(static_cast<size_t>(n));
      kv_decode(t.type, src.data(), fast.data(), n);
      kv_decode_reference(t.type, src.data(), ref.data(), n);
      ASSERT_EQ(std::memcmp(fast.data(), ref.data(), fast.size() * 4), 0) << t.name << " n=" << n;
    }
}

// A one-layer, one-sequence cache holding positions [0, n_pos) of random K
// and V, and the f32 values it holds (what attention must read).
struct TestCache {
  std::unique_ptr<CpuKvPool> pool;
  KvPass pass;
  std::vector<float> k, v;  // [pos][kv head][dim], as stored (rounded)

  TestCache(const KvLayout& L, int64_t n_pos, uint32_t seed) {
    pool = std::make_unique<CpuKvPool>(L);
    const auto n_blocks = static_cast<int32_t>((n_pos + L.block_size - 1) / L.block_size);
    pool->reserve(n_blocks);
    pass.pool = pool.get();
    pass.n_layer = 1;
    pass.segs = {{0, n_pos, 0}};
    pass.tables = {{0, n_pos, 0, n_blocks}};
    for (int32_t b = 0; b < n_blocks; ++b) pass.block_ids.push_back(b);
    k = random_floats(static_cast<size_t>(n_pos * L.n_head_kv * L.head_dim_k), seed);
    v = random_floats(static_cast<size_t>(n_pos * L.n_head_kv * L.head_dim_v), seed + 1);
    kv_store(pass, 0, 0, k.data(), v.data());
    round_as_stored(L.types.k, L.head_dim_k, k);
    round_as_stored(L.types.v, L.head_dim_v, v);
  }

  // What the cache returns for each row: encode and decode with the reference.
  static void round_as_stored(KvType t, int dim, std::vector<float>& x) {
    std::vector<std::byte> row(kv_row_bytes(t, dim));
    for (size_t r = 0; r < x.size() / dim; ++r) {
      float* p = x.data() + r * dim;
      quantize_row(kv_tensor_type(t), p, row.data(), dim);
      kv_decode_reference(t, row.data(), p, dim);
    }
  }

  KvLayerView view(int64_t first_row_pos, int64_t n_rows, std::vector<const std::byte*>& ptrs) {
    pass.segs = {{0, n_rows, first_row_pos}};
    return kv_view(pass, 0, 0, ptrs);
  }
};

// The query row scaled and rounded to 8 bits per block of 32, as attention
// rounds it to score quantized keys in integers (few rows: decode steps).
std::vector<float> rounded_query(const float* q, int dk, float scale) {
  std::vector<float> x(static_cast<size_t>(dk));
  for (int i = 0; i < dk; ++i) x[static_cast<size_t>(i)] = q[i] * scale;
  std::vector<uint8_t> act(kernels::act_row_bytes(kernels::ActFormat::Q8_32, dk));
  kernels::quantize_activations(kernels::ActFormat::Q8_32, x.data(), act.data(), dk);
  for (int b = 0; b < dk / 32; ++b) {
    kernels::ActBlock32 blk;
    std::memcpy(&blk, act.data() + b * sizeof blk, sizeof blk);
    for (int i = 0; i < 32; ++i) x[static_cast<size_t>(b * 32 + i)] = blk.d * blk.q[i];
  }
  return x;
}

// Softmax attention in double, straight from the definition. Rows whose
// query tile has at most 16 rows (tokens x the group's heads) score a
// quantized K against their rounded query, as cpu_attention does.
std::vector<float> reference_attention(const TestCache& c, const KvLayout& L, const AttentionParams& p,
                                       const std::vector<float>& q, const std::vector<int32_t>& pos) {
  const int group = p.n_head / p.n_head_kv;
  const auto n_rows = static_cast<int64_t>(pos.size());
  std::vector<float> out(pos.size() * p.n_head * p.head_dim_v);
  for (size_t t = 0; t < pos.size(); ++t)
    for (int h = 0; h < p.n_head; ++h) {
      const int g = h / group;
      const int64_t tile_rows = std::min<int64_t>(16, n_rows - static_cast<int64_t>(t) / 16 * 16) * group;
      const bool rounded = kv_quantized(L.types.k) && tile_rows <= 16;
      const std::vector<float> qr = rounded ? rounded_query(q.data() + (t * p.n_head + h) * p.head_dim_k, p.head_dim_k, p.scale)
                                            : std::vector<float>(q.begin() + (t * p.n_head + h) * p.head_dim_k,
                                                                 q.begin() + (t * p.n_head + h + 1) * p.head_dim_k);
      const double score_scale = rounded ? 1.0 : p.scale;
      const float* qv = qr.data();
      std::vector<double> s;
      const int64_t first = p.first_visible(pos[t]);
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = first; j <= pos[t]; ++j) {
        const float* kv = c.k.data() + (j * L.n_head_kv + g) * L.head_dim_k;
        double d = 0;
        for (int i = 0; i < p.head_dim_k; ++i) d += static_cast<double>(qv[i]) * kv[i];
        s.push_back(d * score_scale);
        mx = std::max(mx, s.back());
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int i = 0; i < p.head_dim_v; ++i) {
        double a = 0;
        for (int64_t j = first; j <= pos[t]; ++j) a += s[j - first] * c.v[(j * L.n_head_kv + g) * L.head_dim_v + i];
        out[(t * p.n_head + h) * p.head_dim_v + i] = static_cast<float>(a / sum);
      }
    }
  return out;
}

struct Shape {
  int n_head, n_head_kv, dk, dv;
  int64_t chunk;
};

void check(const KvTypes& types, const Shape& s, int64_t depth, int64_t n_rows, int threads) {
  KvLayout L;
  L.types = types;
  L.block_size = 16;  // small blocks: many boundaries, and split-K on short caches
  L.n_head_kv = s.n_head_kv;
  L.head_dim_k = s.dk;
  L.head_dim_v = s.dv;
  TestCache c(L, depth + n_rows, 7);
  AttentionParams p;
  p.n_head = s.n_head;
  p.n_head_kv = s.n_head_kv;
  p.head_dim_k = s.dk;
  p.head_dim_v = s.dv;
  p.scale = 1.0f / std::sqrt(static_cast<float>(s.dk));
  p.chunk_size = s.chunk;
  const std::vector<float> q = random_floats(static_cast<size_t>(n_rows * s.n_head * s.dk), 11);
  std::vector<int32_t> pos(static_cast<size_t>(n_rows));
  for (int64_t i = 0; i < n_rows; ++i) pos[i] = static_cast<int32_t>(depth + i);
  std::vector<const std::byte*> ptrs;
  std::vector<float> out(static_cast<size_t>(n_rows * s.n_head * s.dv));
  cpu_attention(q.data(), pos.data(), n_rows, c.view(depth, n_rows, ptrs), p, out.data(), threads);
  const std::vector<float> want = reference_attention(c, L, p, q, pos);
  // f32 accumulation against double: outputs are convex combinations of
  // values of size ~1, so an absolute bound fits every type (rounding of the
  // cache is in both sides).
  for (size_t i = 0; i < out.size(); ++i)
    ASSERT_NEAR(out[i], want[i], 2e-5f) << types.name() << " heads " << s.n_head << "/" << s.n_head_kv << " dims " << s.dk
                                        << "/" << s.dv << " chunk " << s.chunk << " depth " << depth << " rows " << n_rows
                                        << " threads " << threads << " at " << i;
}

TEST(CpuAttention, MatchesTheReferenceForEveryKvType) {
  for (const KvTypeTraits& tk : kKvTypes)
    for (const KvTypeTraits& tv : kKvTypes) {
      const KvTypes types{tk.type, tv.type};
      check(types, {8, 2, 64, 32, 0}, 40, 37, 2);     // a prompt batch on a global layer, GQA 4
      check(types, {6, 2, 32, 64, 24}, 50, 30, 2);    // chunked (chunk 24: boundaries inside blocks), GQA 3
      check(types, {4, 1, 32, 32, 0}, 300, 1, 2);     // one decode step: split-K over 19 blocks
      check(types, {8, 2, 64, 32, 0}, 100, 3, 2);     // 3 tokens x 4 heads: 12 rows, integer scores on quantized K
      check(types, {8, 2, 64, 32, 48}, 90, 17, 1);    // a tile of 16 (f32 scores) and one of 1 (integer)
    }
}

TEST(CpuAttention, OddHeadDimensionsOnFloatTypes) {
  for (const KvType t : {KvType::F32, KvType::F16, KvType::BF16}) {
    check(t, {5, 5, 20, 12, 0}, 33, 20, 2);   // no GQA, dims below one vector
    check(t, {10, 2, 72, 80, 0}, 100, 3, 1);  // dims past a register block, one thread
    check(t, {10, 2, 72, 80, 0}, 500, 1, 2);  // split-K decode
  }
}

TEST(CpuAttention, SplitKDecodeEqualsOneThread) {
  // The merge of split runs is exact up to f32 rounding: both agree with the reference and each other.
  for (const int threads : {1, 2, 4}) check(KvType::F16, {8, 1, 64, 64, 0}, 2000, 1, threads);
  check(KvType::Q8_0, {8, 2, 128, 128, 512}, 1500, 1, 2);  // chunked decode: only the current chunk is visible
}

}  // namespace
}  // namespace scout::backend::cpu
