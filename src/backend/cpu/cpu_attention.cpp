// Flash-style attention: for each kv head and each tile of queries, stream the
// visible key/value blocks once (converted to f32), keeping a running max, sum
// and weighted value accumulator per query head (online softmax).
//
// The query heads of one token that share a kv head see the same keys, so up
// to kHeadBlock of them go through a block together: every key and value
// vector is loaded once for all of them and feeds kHeadBlock register
// accumulators. Each head's arithmetic is the same, in the same order, as one
// head alone.
#include "backend/cpu/cpu_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backend/cpu/cpu_math.h"

namespace scout::backend::cpu {

namespace {

constexpr int64_t kQueryTile = 16;  // tokens per work item
constexpr int kHeadBlock = 4;       // query heads sharing each key/value load
constexpr int kVec = 16;            // floats per vector
constexpr int kLanes = 64;          // keys (or value dims) per register block: 4 vectors

// Copies n cached K or V values to f32.
inline void load_kv(const std::byte* src, KvType type, float* dst, int64_t n) {
  if (type == KvType::F32)
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  else
    halves_to_floats(reinterpret_cast<const uint16_t*>(src), dst, n);
}

// Keys of slots [s0, s1) of one block and kv head as f32, kept transposed
// (kt[i][slot], row stride bs) as the cache stores them.
inline void load_keys(const std::byte* src, KvType type, int dk, int64_t bs, int64_t s0, int64_t s1, float* kt) {
  const size_t es = kv_type_size(type);
  for (int i = 0; i < dk; ++i) load_kv(src + (i * bs + s0) * es, type, kt + i * bs + s0, s1 - s0);
}

// One token's NQ query heads against the keys in slots [j0, j1) of the loaded
// block: scores, online-softmax update of m, l, and acc += e * v.
struct HeadBlock {
  const float* q[kHeadBlock];  // each head's query (dk)
  float* m[kHeadBlock];        // running max
  float* l[kHeadBlock];        // running sum of exp
  float* acc[kHeadBlock];      // running weighted sum of values (dv)
  float* scores[kHeadBlock];   // scratch, bs + kLanes each
};

template <int NQ>
void attend(const HeadBlock& hb, int64_t j0, int64_t j1, const float* kbuf, const float* vbuf, int64_t bs, int dk,
            int dv, float scale) {
  // scores[j] = scale * q.k_j, 64 keys at a time (K is stored transposed).
  // Lanes past j1 read padding or stale keys; they are never used.
  for (int64_t j = j0; j < j1; j += kLanes) {
    F32x16 sv[NQ][4] = {};
    for (int i = 0; i < dk; ++i) {
      const float* kt = kbuf + i * bs + j;
      const F32x16 k[4] = {load16(kt), load16(kt + kVec), load16(kt + 2 * kVec), load16(kt + 3 * kVec)};
      for (int h = 0; h < NQ; ++h) {
        const float qs = hb.q[h][i];
        for (int u = 0; u < 4; ++u) sv[h][u] += qs * k[u];
      }
    }
    for (int h = 0; h < NQ; ++h)
      for (int u = 0; u < 4; ++u) store16(hb.scores[h] + j + u * kVec, sv[h][u] * scale);
  }

  float c[NQ];
  for (int h = 0; h < NQ; ++h) {
    float* scores = hb.scores[h];
    float mx = *hb.m[h];
#pragma omp simd reduction(max : mx)
    for (int64_t j = j0; j < j1; ++j) mx = std::max(mx, scores[j]);
    // e_j = exp(score_j - max), in fixed runs of 16 so they vectorise.
    float sum = 0.0f;
    int64_t j = j0;
    for (; j + 16 <= j1; j += 16) {
#pragma omp simd reduction(+ : sum)
      for (int u = 0; u < 16; ++u) {
        scores[j + u] = exp_nonpositive(scores[j + u] - mx);
        sum += scores[j + u];
      }
    }
    for (; j < j1; ++j) sum += (scores[j] = exp_nonpositive(scores[j] - mx));
    c[h] = std::exp(*hb.m[h] - mx);  // rescales what was accumulated so far
    *hb.m[h] = mx;
    *hb.l[h] = *hb.l[h] * c[h] + sum;
  }

  // acc = acc * c + sum_j e_j v_j, 64 value dims at a time in registers.
  int i0 = 0;
  for (; i0 + kLanes <= dv; i0 += kLanes) {
    F32x16 av[NQ][4];
    for (int h = 0; h < NQ; ++h)
      for (int u = 0; u < 4; ++u) av[h][u] = load16(hb.acc[h] + i0 + u * kVec) * c[h];
    for (int64_t jj = j0; jj < j1; ++jj) {
      const float* vj = vbuf + jj * dv + i0;
      const F32x16 v[4] = {load16(vj), load16(vj + kVec), load16(vj + 2 * kVec), load16(vj + 3 * kVec)};
      for (int h = 0; h < NQ; ++h) {
        const float e = hb.scores[h][jj];
        for (int u = 0; u < 4; ++u) av[h][u] += e * v[u];
      }
    }
    for (int h = 0; h < NQ; ++h)
      for (int u = 0; u < 4; ++u) store16(hb.acc[h] + i0 + u * kVec, av[h][u]);
  }
  for (int h = 0; h < NQ; ++h)
    for (int i = i0; i < dv; ++i) {  // head dims not a multiple of kLanes
      float ai = hb.acc[h][i] * c[h];
      for (int64_t jj = j0; jj < j1; ++jj) ai += hb.scores[h][jj] * vbuf[jj * dv + i];
      hb.acc[h][i] = ai;
    }
}

}  // namespace

void cpu_attention(const float* q, const int32_t* pos, int64_t n_rows, const KvLayerView& kv, const AttentionParams& p,
                   float* out, int n_threads) {
  const int group = p.n_head / p.n_head_kv;
  const int dk = p.head_dim_k, dv = p.head_dim_v;
  const int64_t bs = kv.layout.block_size;
  const int64_t n_tiles = (n_rows + kQueryTile - 1) / kQueryTile;
  const int64_t n_items = n_tiles * p.n_head_kv;

  const int64_t work = n_rows * p.n_head * std::min<int64_t>(kv.n_pos, p.chunk_size > 0 ? p.chunk_size : kv.n_pos) * dk;
  const int threads = static_cast<int>(std::clamp<int64_t>(std::min(n_items, work / kMinWork), 1, n_threads));
#pragma omp parallel num_threads(threads)
  {
    static thread_local std::vector<float> kbuf_v, vbuf_v, state_v, score_v;
    float* kbuf = thread_buffer(kbuf_v, static_cast<size_t>(bs * dk + kLanes));  // [dk][bs], padded for kLanes-key reads
    float* vbuf = thread_buffer(vbuf_v, static_cast<size_t>(bs * dv));
    const int64_t n_q = kQueryTile * group;
    float* state = thread_buffer(state_v, static_cast<size_t>(n_q * (2 + dv)));
    const int64_t score_stride = bs + kLanes;
    float* scores = thread_buffer(score_v, static_cast<size_t>(kHeadBlock * score_stride));

#pragma omp for schedule(dynamic)
    for (int64_t item = 0; item < n_items; ++item) {
      const int g = static_cast<int>(item % p.n_head_kv);
      const int64_t t0 = (item / p.n_head_kv) * kQueryTile, t1 = std::min(n_rows, t0 + kQueryTile);
      float* m = state;                 // running max per (query, head in group)
      float* l = state + n_q;           // running sum of exp
      float* acc = state + 2 * n_q;     // running weighted sum of values
      std::fill(m, m + n_q, -std::numeric_limits<float>::infinity());
      std::fill(l, l + n_q, 0.0f);
      std::fill(acc, acc + n_q * dv, 0.0f);

      int64_t lo = std::numeric_limits<int64_t>::max(), hi = -1;
      for (int64_t t = t0; t < t1; ++t) {
        lo = std::min(lo, p.first_visible(pos[t]));
        hi = std::max<int64_t>(hi, pos[t]);
      }
      lo = std::max(lo, kv.base_pos);
      hi = std::min(hi, kv.base_pos + kv.n_pos - 1);
      for (int64_t b = (lo - kv.base_pos) / bs; b * bs + kv.base_pos <= hi; ++b) {
        const int64_t b0 = kv.base_pos + b * bs;                 // position of slot 0
        const int64_t s0 = std::max(lo, b0) - b0, s1 = std::min(hi, b0 + bs - 1) - b0 + 1;  // slots used
        load_keys(kv.k_block(b, g), kv.layout.type, dk, bs, s0, s1, kbuf);
        load_kv(kv.v_block(b, g) + s0 * dv * kv_type_size(kv.layout.type), kv.layout.type, vbuf + s0 * dv, (s1 - s0) * dv);
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t j0 = std::max(p.first_visible(pos[t]), b0 + s0) - b0, j1 = std::min<int64_t>(pos[t], b0 + s1 - 1) - b0 + 1;
          if (j0 >= j1) continue;
          for (int h0 = 0; h0 < group; h0 += kHeadBlock) {
            const int nq = std::min(kHeadBlock, group - h0);
            HeadBlock hb;
            for (int h = 0; h < nq; ++h) {
              const int64_t qi = (t - t0) * group + h0 + h;
              hb.q[h] = q + (t * p.n_head + g * group + h0 + h) * dk;
              hb.m[h] = m + qi;
              hb.l[h] = l + qi;
              hb.acc[h] = acc + qi * dv;
              hb.scores[h] = scores + h * score_stride;
            }
            switch (nq) {
              case 1: attend<1>(hb, j0, j1, kbuf, vbuf, bs, dk, dv, p.scale); break;
              case 2: attend<2>(hb, j0, j1, kbuf, vbuf, bs, dk, dv, p.scale); break;
              case 3: attend<3>(hb, j0, j1, kbuf, vbuf, bs, dk, dv, p.scale); break;
              default: attend<4>(hb, j0, j1, kbuf, vbuf, bs, dk, dv, p.scale); break;
            }
          }
        }
      }
      for (int64_t t = t0; t < t1; ++t)
        for (int hh = 0; hh < group; ++hh) {
          const int64_t qi = (t - t0) * group + hh;
          float* o = out + (t * p.n_head + g * group + hh) * dv;
          const float inv = l[qi] > 0.0f ? 1.0f / l[qi] : 0.0f;
          for (int i = 0; i < dv; ++i) o[i] = acc[qi * dv + i] * inv;
        }
    }
  }
}

}  // namespace scout::backend::cpu
