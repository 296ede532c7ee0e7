// The paged KV cache: block allocation, chunk recycling (only global layers
// grow), exact f32 storage and f16 rounding through the CPU backend's
// kv_write, and its guards.
#include "engine/kv_cache.h"

#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/cpu_kv.h"
#include "tensor/dequant.h"
#include "tensor/quant.h"

namespace scout::engine {
namespace {

using backend::KvPass;

// One CPU backend for the cache's blocks.
backend::Backend& cpu() {
  static const std::unique_ptr<backend::Backend> be = backend::make_cpu_backend();
  return *be;
}

// Writes K and V ([n][n_head_kv][head_dim], f32) of seq's last n positions, in every layer.
void store(KvCache& kv, uint32_t seq, int64_t n, const float* k, const float* v) {
  const KvCacheConfig& c = kv.config();
  KvPass pass;
  const SeqRows rows[] = {{seq, n}};
  kv.describe(rows, pass);
  backend::Buffer kb = cpu().alloc(backend::DType::F32, n, int64_t{c.n_head_kv} * c.head_dim_k);
  backend::Buffer vb = cpu().alloc(backend::DType::F32, n, int64_t{c.n_head_kv} * c.head_dim_v);
  cpu().upload(kb.tensor(), k);
  cpu().upload(vb.tensor(), v);
  for (uint32_t il = 0; il < c.n_layer; ++il) cpu().kv_write(pass, static_cast<int>(il), kb.tensor(), vb.tensor());
}

// The positions a layer of seq holds: [base, base + n).
struct Held {
  int64_t base = 0, n = 0;
};
Held held(const KvCache& kv, uint32_t layer, uint32_t seq) {
  return {kv.base_pos(layer, seq), kv.seq_len(seq) - kv.base_pos(layer, seq)};
}

// Scout's KV geometry: 8 kv heads of 128; layers 0-2 chunked (8192), layer 3 global.
KvCacheConfig scout_like(KvType type) {
  KvCacheConfig c;
  c.n_layer = 4;
  c.n_head_kv = 8;
  c.head_dim_k = c.head_dim_v = 128;
  c.layer_chunk = {8192, 8192, 8192, 0};
  c.types = type;
  return c;
}

TEST(KvCache, BlockBytes) {
  EXPECT_EQ(KvCache(scout_like(KvType::F16), cpu()).block_bytes(), 256u * 8 * 256 * 2);  // 1 MiB
  EXPECT_EQ(KvCache(scout_like(KvType::F32), cpu()).block_bytes(), 256u * 8 * 256 * 4);
  EXPECT_EQ(KvCache(scout_like(KvType::BF16), cpu()).block_bytes(), 256u * 8 * 256 * 2);
  // Per position and kv head: 4 blocks of 32 for K and for V.
  EXPECT_EQ(KvCache(scout_like(KvType::Q8_0), cpu()).block_bytes(), 256u * 8 * 2 * 4 * 34);
  EXPECT_EQ(KvCache(scout_like(KvType::Q4_0), cpu()).block_bytes(), 256u * 8 * 2 * 4 * 18);
  KvCacheConfig mixed = scout_like(KvType::Q8_0);
  mixed.types.v = KvType::Q4_0;
  EXPECT_EQ(KvCache(mixed, cpu()).block_bytes(), 256u * 8 * 4 * (34 + 18));
}

TEST(KvCache, QuantizedTypesNeedWholeBlocks) {
  KvCacheConfig c = scout_like(KvType::Q8_0);
  c.head_dim_k = c.head_dim_v = 48;
  try {
    KvCache kv(c, cpu());
    FAIL() << "a q8_0 cache of head dimension 48 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 32"), std::string::npos) << e.what();
  }
}

TEST(KvCache, OnlyGlobalLayersGrowWithContext) {
  KvCache kv(scout_like(KvType::F16), cpu());
  const size_t block = kv.block_bytes();
  // Append in batches of 512 (chunk boundaries fall on batch boundaries).
  int64_t pos = 0;
  auto grow_to = [&](int64_t end) {
    while (pos < end) {
      const int64_t n = std::min<int64_t>(512, end - pos);
      kv.append(0, n);
      pos += n;
    }
  };
  for (int64_t ctx : {1000, 8192, 8193, 12150, 16384, 40000}) {
    grow_to(ctx);
    const size_t global = static_cast<size_t>((ctx + 255) / 256) * block;
    const int64_t in_chunk = ctx - (ctx - 1) / 8192 * 8192;  // positions of the current chunk
    const size_t chunked = static_cast<size_t>((in_chunk + 255) / 256) * block;
    EXPECT_EQ(kv.layer_bytes(3, 0), global) << ctx;
    for (uint32_t il = 0; il < 3; ++il) EXPECT_EQ(kv.layer_bytes(il, 0), chunked) << ctx;
    EXPECT_EQ(kv.bytes_in_use(), global + 3 * chunked) << ctx;
    // Freed chunk blocks are reused: the pool never holds more than the peak.
    EXPECT_LE(kv.bytes_allocated(), global + 3 * 32 * block) << ctx;
  }
  kv.clear(0);
  EXPECT_EQ(kv.bytes_in_use(), 0u);
  EXPECT_EQ(kv.seq_len(0), 0);
}

TEST(KvCache, AppendMustNotCrossAChunk) {
  KvCache kv(scout_like(KvType::F16), cpu());
  kv.append(0, 8000);
  EXPECT_THROW(kv.append(0, 500), std::logic_error);
  EXPECT_EQ(kv.next_chunk_boundary(8000), 8192);
  EXPECT_EQ(kv.next_chunk_boundary(8192), 16384);
  KvCacheConfig global = scout_like(KvType::F16);
  global.layer_chunk = {0, 0, 0, 0};
  EXPECT_EQ(KvCache(global, cpu()).next_chunk_boundary(5), -1);
}

// The stored K (key) or V element i of kv head `head` at position pos, read from the CPU blocks.
float read(const KvCache& kv, uint32_t layer, uint32_t seq, bool key, int64_t pos, int head, int i) {
  KvPass pass;
  const SeqRows rows[] = {{seq, 1}};
  kv.describe(rows, pass);
  std::vector<const std::byte*> ptrs;
  const backend::cpu::KvLayerView v = backend::cpu::kv_view(pass, static_cast<int>(layer), 0, ptrs);
  const int64_t bs = v.layout.block_size, rel = pos - v.base_pos, b = rel / bs, slot = rel % bs;
  // K of a float type is stored [dim][slot]; quantized K and every V [slot][row].
  const backend::KvLayout& L = v.layout;
  if (key && L.k_transposed()) {
    float x;
    backend::cpu::kv_decode(L.types.k, v.k_block(b, head) + (i * bs + slot) * backend::kv_row_bytes(L.types.k, 1), &x, 1);
    return x;
  }
  std::vector<float> row(static_cast<size_t>(key ? L.head_dim_k : L.head_dim_v));
  backend::cpu::kv_decode(key ? L.types.k : L.types.v,
                          key ? v.k_block(b, head) + slot * L.k_row_bytes() : v.v_block(b, head) + slot * L.v_row_bytes(),
                          row.data(), static_cast<int64_t>(row.size()));
  return row[static_cast<size_t>(i)];
}

// x rounded as a float KV type stores it.
float rounded(KvType type, float x) {
  if (type == KvType::F16) return fp16_to_fp32(fp32_to_fp16(x));
  if (type == KvType::BF16) return bf16_to_fp32(fp32_to_bf16(x));
  return x;
}

TEST(KvCache, StoresExactlyInF32AndRoundedInF16AndBf16) {
  for (KvType type : {KvType::F32, KvType::F16, KvType::BF16}) {
    KvCacheConfig c;
    c.n_layer = 2;
    c.n_head_kv = 2;
    c.head_dim_k = 4;
    c.head_dim_v = 3;
    c.layer_chunk = {5, 0};
    c.types = type;
    c.block_size = 4;  // small blocks: positions spread over several
    KvCache kv(c, cpu());
    auto k_of = [](int64_t p, int h, int i) { return 0.001f * static_cast<float>(p * 100 + h * 10 + i) + 1.0f / 3; };
    auto v_of = [&](int64_t p, int h, int i) { return -k_of(p, h, i); };
    for (int64_t first : {0, 3}) {  // positions 0-2, then 3-4 (chunk 5 ends at 5)
      const int64_t n = first == 0 ? 3 : 2;
      kv.append(0, n);
      std::vector<float> k(n * 2 * 4), v(n * 2 * 3);
      for (int64_t t = 0; t < n; ++t)
        for (int h = 0; h < 2; ++h) {
          for (int i = 0; i < 4; ++i) k[(t * 2 + h) * 4 + i] = k_of(first + t, h, i);
          for (int i = 0; i < 3; ++i) v[(t * 2 + h) * 3 + i] = v_of(first + t, h, i);
        }
      store(kv, 0, n, k.data(), v.data());
    }
    for (uint32_t il = 0; il < 2; ++il) {
      EXPECT_EQ(held(kv, il, 0).base, 0);
      EXPECT_EQ(held(kv, il, 0).n, 5);
      for (int64_t p = 0; p < 5; ++p)
        for (int h = 0; h < 2; ++h) {
          EXPECT_EQ(read(kv, il, 0, true, p, h, 1), rounded(type, k_of(p, h, 1)));
          EXPECT_EQ(read(kv, il, 0, false, p, h, 2), rounded(type, v_of(p, h, 2)));
        }
    }
    // Position 5 starts a new chunk: layer 0 drops 0-4, layer 1 keeps everything.
    kv.append(0, 1);
    EXPECT_EQ(held(kv, 0, 0).base, 5);
    EXPECT_EQ(held(kv, 0, 0).n, 1);
    EXPECT_EQ(held(kv, 1, 0).base, 0);
    EXPECT_EQ(held(kv, 1, 0).n, 6);
    // A pass whose rows claim positions the chunked layer no longer holds is refused.
    KvPass stale;
    const SeqRows two[] = {{0, 2}};
    kv.describe(two, stale);  // rows at 4-5: layer 0 holds only 5
    backend::Buffer kb = cpu().alloc(backend::DType::F32, 2, 8), vb = cpu().alloc(backend::DType::F32, 2, 6);
    EXPECT_THROW(cpu().kv_write(stale, 0, kb.tensor(), vb.tensor()), std::logic_error);
  }
}

// Quantized K and V hold each position's row as ggml's reference quantizer
// writes it (so dequantizing gives what llama.cpp's cache would hold), in
// every combination with a float type.
TEST(KvCache, StoresQuantizedRowsAsGgml) {
  const std::pair<KvType, KvType> combos[] = {{KvType::Q8_0, KvType::Q8_0}, {KvType::Q4_0, KvType::Q4_0},
                                              {KvType::Q8_0, KvType::F16}, {KvType::F16, KvType::Q4_0}};
  for (const auto& [tk, tv] : combos) {
    KvCacheConfig c;
    c.n_layer = 1;
    c.n_head_kv = 2;
    c.head_dim_k = 64;
    c.head_dim_v = 32;
    c.types = {tk, tv};
    c.block_size = 4;
    KvCache kv(c, cpu());
    const int64_t n = 6;  // two blocks
    kv.append(0, n);
    std::vector<float> k(n * 2 * 64), v(n * 2 * 32);
    for (size_t i = 0; i < k.size(); ++i) k[i] = std::sin(0.37f * static_cast<float>(i));
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::cos(0.11f * static_cast<float>(i)) * 3.0f;
    store(kv, 0, n, k.data(), v.data());
    auto expect_row = [&](KvType t, const float* src, int dim, bool key, int64_t p, int h) {
      std::vector<float> want(static_cast<size_t>(dim));
      if (backend::kv_quantized(t)) {
        const TensorType tt = backend::kv_tensor_type(t);
        std::vector<uint8_t> q(backend::kv_row_bytes(t, dim));
        quantize_row(tt, src, q.data(), dim);
        dequantize_row(tt, q.data(), want.data(), dim);
      } else {
        for (int i = 0; i < dim; ++i) want[static_cast<size_t>(i)] = rounded(t, src[i]);
      }
      for (int i = 0; i < dim; ++i) {
        EXPECT_EQ(read(kv, 0, 0, key, p, h, i), want[static_cast<size_t>(i)])
            << backend::kv_type_name(t) << (key ? " K" : " V") << " pos " << p << " head " << h << " dim " << i;
        EXPECT_NEAR(want[static_cast<size_t>(i)], src[i], t == KvType::Q4_0 ? 0.5f : 0.05f);
      }
    };
    for (int64_t p = 0; p < n; ++p)
      for (int h = 0; h < 2; ++h) {
        expect_row(tk, k.data() + (p * 2 + h) * 64, 64, true, p, h);
        expect_row(tv, v.data() + (p * 2 + h) * 32, 32, false, p, h);
      }
  }
}

TEST(KvCache, SequencesHaveTheirOwnTables) {
  KvCacheConfig c = scout_like(KvType::F16);
  c.n_seq = 2;
  KvCache kv(c, cpu());
  kv.append(0, 300);
  kv.append(1, 10);
  EXPECT_EQ(kv.seq_len(0), 300);
  EXPECT_EQ(kv.seq_len(1), 10);
  EXPECT_EQ(kv.layer_bytes(3, 0), 2 * kv.block_bytes());
  EXPECT_EQ(kv.layer_bytes(3, 1), kv.block_bytes());
  kv.clear(0);
  EXPECT_EQ(kv.bytes_in_use(), 4 * kv.block_bytes());
}

// `scout batch --parallel`: sequences grow, cross chunks and are cleared and
// reused independently; a cleared sequence's blocks serve the next one while
// the other sequence's values stay as stored.
TEST(KvCache, SequencesAreClearedAndReusedIndependently) {
  KvCacheConfig c;
  c.n_layer = 2;
  c.n_head_kv = 1;
  c.head_dim_k = c.head_dim_v = 2;
  c.layer_chunk = {5, 0};
  c.types = KvType::F32;
  c.block_size = 4;
  c.n_seq = 3;
  KvCache kv(c, cpu());
  // Appends n positions to seq with K = V = seq * 1000 + position.
  auto put = [&](uint32_t seq, int64_t n) {
    const int64_t first = kv.seq_len(seq);
    kv.append(seq, n);
    std::vector<float> kvals;
    for (int64_t t = 0; t < n; ++t) kvals.insert(kvals.end(), 2, static_cast<float>(seq * 1000 + first + t));
    store(kv, seq, n, kvals.data(), kvals.data());
  };
  auto intact = [&](uint32_t seq) {
    for (uint32_t il = 0; il < 2; ++il) {
      const Held h = held(kv, il, seq);
      for (int64_t p = h.base; p < h.base + h.n; ++p) {
        EXPECT_EQ(read(kv, il, seq, true, p, 0, 1), static_cast<float>(seq * 1000 + p)) << seq << " " << il << " " << p;
        EXPECT_EQ(read(kv, il, seq, false, p, 0, 0), static_cast<float>(seq * 1000 + p)) << seq << " " << il << " " << p;
      }
    }
  };
  // Interleaved, one position at a time, as decoding does: 0 crosses chunk 5, 1 does not.
  put(0, 3);
  put(1, 2);
  for (int i = 0; i < 4; ++i) put(0, 1), put(1, 1);
  EXPECT_EQ(kv.seq_len(0), 7);
  EXPECT_EQ(kv.seq_len(1), 6);
  EXPECT_EQ(kv.base_pos(0, 0), 5);  // sequence 0's chunked layer moved on
  EXPECT_EQ(kv.base_pos(0, 1), 5);  // so did 1's (position 5 is its last)
  intact(0);
  intact(1);

  const size_t peak = kv.bytes_allocated();
  kv.clear(0);
  EXPECT_EQ(kv.seq_len(0), 0);
  EXPECT_EQ(kv.seq_len(1), 6);
  intact(1);
  put(2, 4);  // a new sequence takes the freed blocks
  put(0, 4);  // and the cleared one starts again at position 0
  put(1, 3);
  EXPECT_EQ(kv.bytes_allocated(), peak + kv.block_bytes());  // only 1's global layer grew past the old peak
  intact(0);
  intact(1);
  intact(2);
}

}  // namespace
}  // namespace scout::engine
