// Flash-style attention: for each kv head and each tile of queries, stream the
// visible key/value blocks once (decoded to f32 into per-thread scratch, a
// block at a time: the cache is never copied whole), keeping a running max,
// sum and weighted value accumulator per query head (online softmax), all in
// f32 whatever the cache's types.
//
// A work item is a tile of queries (16 or more tokens x the query heads that
// share one kv head), one row each; per KV block it is two small matrix
// products on register tiles, S = Q K^T (qk_tile) and ACC += P V (pv_tile),
// with the softmax of S's rows in between. Each row sees only its own
// visible keys (causal, and the chunk for chunked layers): the others weigh
// zero, so there is no mask tensor anywhere. With causality off (encoders)
// every row sees every key the view holds.
//
// Split-K (flash-decoding): when there are fewer (query tile, kv head) items
// than threads can share, each item's keys are cut into runs of whole blocks
// that threads take separately; each run keeps its own max, sum and
// accumulator, and the runs are merged exactly afterwards
// (acc = sum_s acc_s e^(m_s - m), l = sum_s l_s e^(m_s - m)).
#include "backend/cpu/cpu_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backend/cpu/cpu_math.h"
#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/quant_dot.h"

namespace scout::backend::cpu {

namespace {

constexpr int64_t kQueryTile = 16;  // tokens per work item, at least
// Each item decodes its KV blocks once for all its rows: prompts with few
// query heads per kv head take more tokens per item, up to this many rows,
// while there stay enough items to balance the threads.
constexpr int64_t kTargetRows = 64;
// The register tiles use the machine's own vector width: GCC keeps wider
// generic vectors (Vec on AVX2) in memory, which is several times slower.
// Per row kU vectors: kRowTile x kU accumulators, kU loads and a broadcast
// must fit the register file (32 zmm with AVX-512, 16 ymm with AVX2), and
// there must be enough independent accumulators to cover the FMA latency.
#ifdef __AVX512F__
constexpr int kVec = 16;
constexpr int kU = 4;
constexpr int kRowTile = 4;
#elif defined(__AVX__)
constexpr int kVec = 8;
constexpr int kU = 2;
constexpr int kRowTile = 6;  // 12 accumulators: 4 rows (8) leave the FMA units idle half the time
#else
constexpr int kVec = 4;
constexpr int kU = 2;
constexpr int kRowTile = 4;
#endif
typedef float Vec __attribute__((vector_size(kVec * sizeof(float))));
inline Vec loadv(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void storev(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }
constexpr int kLanes = kU * kVec;          // keys (or value dims) per register tile
constexpr int64_t kMinSplitBlocks = 4;     // KV blocks per split-K run at least
// Items with at most this many query rows (decode steps) score quantized keys
// with integer dot products against the queries rounded to 8 bits, as the
// weights' kernels multiply activations (and as llama.cpp's decode does):
// no f32 copy of the keys. Larger items amortise decoding the keys to f32
// over their rows and use the register tiles.
constexpr int64_t kIntScoreRows = 16;

// The integer dot product kernel for a quantized K type, or nullptr.
const kernels::QuantDot* key_dot(KvType t) {
  return kv_quantized(t) ? kernels::quant_dot(kv_tensor_type(t), kernels::cpu_level()) : nullptr;
}

// Keys of slots [s0, s1) of one block and kv head as f32 into kt, transposed
// (kt[i][slot], row stride ks) as qk_tile reads them. Float types are stored
// so; quantized rows are decoded one position at a time and scattered.
void load_keys(const std::byte* src, const KvLayout& L, int64_t s0, int64_t s1, float* kt, int64_t ks, float* row) {
  const int dk = L.head_dim_k;
  const int64_t bs = L.block_size;
  if (L.k_transposed()) {
    const size_t es = kv_row_bytes(L.types.k, 1);
    for (int i = 0; i < dk; ++i) kv_decode(L.types.k, src + (i * bs + s0) * es, kt + i * ks + s0, s1 - s0);
    return;
  }
  for (int64_t s = s0; s < s1; ++s) {
    kv_decode(L.types.k, src + s * L.k_row_bytes(), row, dk);
    for (int i = 0; i < dk; ++i) kt[i * ks + s] = row[i];
  }
}

// S[r][j .. j + kVec U) = q_r . k_j for R query rows (q rows of dk floats,
// contiguous, already scaled) against keys stored transposed (kt[i][j], row
// stride ks). A register tile of R x U Vec, one broadcast per row and U
// key loads per dimension.
template <int R, int U>
inline void qk_tile(const float* q, int dk, const float* kt, int64_t ks, float* s, int64_t ss) {
  Vec acc[R][U] = {};
  for (int i = 0; i < dk; ++i) {
    Vec k[U];
    for (int u = 0; u < U; ++u) k[u] = loadv(kt + i * ks + u * kVec);
    for (int r = 0; r < R; ++r) {
      const float qr = q[r * dk + i];
      for (int u = 0; u < U; ++u) acc[r][u] += qr * k[u];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < U; ++u) storev(s + r * ss + u * kVec, acc[r][u]);
}

// acc_r[i .. i + kVec U) += sum_j p_r[j] v_j[i ..] for R rows over keys [j0, j1)
// (value rows of dv floats).
template <int R, int U>
inline void pv_tile(const float* p, int64_t ps, int64_t j0, int64_t j1, const float* v, int dv, float* acc, int i) {
  Vec a[R][U];
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < U; ++u) a[r][u] = loadv(acc + r * dv + i + u * kVec);
  for (int64_t j = j0; j < j1; ++j) {
    Vec vv[U];
    for (int u = 0; u < U; ++u) vv[u] = loadv(v + j * dv + i + u * kVec);
    for (int r = 0; r < R; ++r) {
      const float e = p[r * ps + j];
      for (int u = 0; u < U; ++u) a[r][u] += e * vv[u];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < U; ++u) storev(acc + r * dv + i + u * kVec, a[r][u]);
}

// Rows [r0, r0 + R) of the item: scores over slots [s0, s1) in kLanes steps.
template <int R>
void scores_rows(const float* q, int dk, const float* kt, int64_t ks, int64_t s0, int64_t s1, float* s, int64_t ss) {
  for (int64_t j = s0; j < s1; j += kLanes) qk_tile<R, kU>(q, dk, kt + j, ks, s + j, ss);
}

// acc rows [r0, r0 + R) += P V over slots [s0, s1): kLanes value dims at a
// time, then kVec, then one.
template <int R>
void values_rows(const float* p, int64_t ps, int64_t s0, int64_t s1, const float* v, int dv, float* acc) {
  int i = 0;
  for (; i + kLanes <= dv; i += kLanes) pv_tile<R, kU>(p, ps, s0, s1, v, dv, acc, i);
  for (; i + kVec <= dv; i += kVec) pv_tile<R, 1>(p, ps, s0, s1, v, dv, acc, i);
  for (int r = 0; r < R; ++r)
    for (int ii = i; ii < dv; ++ii) {
      float x = acc[r * dv + ii];
      for (int64_t j = s0; j < s1; ++j) x += p[r * ps + j] * v[j * dv + ii];
      acc[r * dv + ii] = x;
    }
}

// Calls f.template operator()<R>(r0) over n rows in tiles of kRowTile, then the remainder.
template <class F>
void over_rows(int64_t n, F&& f) {
  int64_t r = 0;
  for (; r + kRowTile <= n; r += kRowTile) f.template operator()<kRowTile>(r);
  static_assert(kRowTile <= 6);
  switch (n - r) {
    case 1: f.template operator()<1>(r); break;
    case 2: f.template operator()<2>(r); break;
    case 3: f.template operator()<3>(r); break;
    case 4: if constexpr (kRowTile > 4) f.template operator()<4>(r); break;
    case 5: if constexpr (kRowTile > 5) f.template operator()<5>(r); break;
    default: break;
  }
}

// The running state of one work item: per (query, head in group), max, sum and accumulator.
struct ItemState {
  float* m;
  float* l;
  float* acc;
};

}  // namespace

void cpu_attention(const float* q, const int32_t* pos, int64_t n_rows, const KvLayerView& kv, const AttentionParams& p,
                   float* out, int n_threads) {
  const KvLayout& L = kv.layout;
  const int group = p.n_head / p.n_head_kv;
  const int dk = p.head_dim_k, dv = p.head_dim_v;
  const int64_t bs = L.block_size;
  int64_t q_tile = kQueryTile;
  while (q_tile * group < kTargetRows && (n_rows + 2 * q_tile - 1) / (2 * q_tile) * p.n_head_kv >= 4 * n_threads)
    q_tile *= 2;
  const int64_t n_tiles = (n_rows + q_tile - 1) / q_tile;
  const int64_t n_q = q_tile * group;  // states per item
  const int64_t state_floats = n_q * (2 + dv);

  // The keys a query at position t sees: causal (and chunked), or, for
  // encoders, every position the view holds.
  const int64_t view_last = kv.base_pos + kv.n_pos - 1;
  auto first_seen = [&](int64_t t) { return p.causal ? p.first_visible(t) : kv.base_pos; };
  auto last_seen = [&](int64_t t) { return p.causal ? t : view_last; };
  const int64_t visible = std::min<int64_t>(kv.n_pos, p.causal && p.chunk_size > 0 ? p.chunk_size : kv.n_pos);
  const int64_t work = n_rows * p.n_head * visible * dk;
  const int64_t n_base_items = n_tiles * p.n_head_kv;
  const int threads = static_cast<int>(std::clamp<int64_t>(work / kMinWork, 1, std::max(n_threads, 1)));
  // Split-K when the items alone would leave threads idle or unevenly loaded.
  int64_t n_split = 1;
  if (n_base_items < 2 * threads) {
    const int64_t want = (2 * threads + n_base_items - 1) / n_base_items;
    const int64_t blocks = (visible + bs - 1) / bs;
    n_split = std::clamp<int64_t>(blocks / kMinSplitBlocks, 1, want);
  }
  const int64_t n_items = n_base_items * n_split;
  const kernels::QuantDot* kdot = key_dot(L.types.k);
  const size_t act_bytes = kdot ? kernels::act_row_bytes(kdot->act, dk) : 0;
  std::vector<float> split_states;  // with split-K: every run's state, merged at the end
  if (n_split > 1) split_states.resize(static_cast<size_t>(n_items * state_floats));

#pragma omp parallel num_threads(static_cast<int>(std::min<int64_t>(threads, n_items)))
  {
    static thread_local std::vector<float> kbuf_v, vbuf_v, state_v, score_v, row_v, q_v;
    static thread_local std::vector<uint8_t> qact_v;
    const int64_t ks = bs + kLanes;  // key and score row stride: kLanes-key reads past the last slot stay inside
    float* kbuf = thread_buffer(kbuf_v, static_cast<size_t>(dk * ks));  // [dk][ks]
    float* vbuf = thread_buffer(vbuf_v, static_cast<size_t>(bs * dv));
    float* own_state = thread_buffer(state_v, static_cast<size_t>(state_floats));
    float* row = thread_buffer(row_v, static_cast<size_t>(dk));
    float* scores = thread_buffer(score_v, static_cast<size_t>(n_q * ks));  // [row][ks]: scores, then e^(s - m)
    float* qs = thread_buffer(q_v, static_cast<size_t>(n_q * dk));         // the item's queries, scaled

#pragma omp for schedule(dynamic)
    for (int64_t i = 0; i < n_items; ++i) {
      // Last tiles first: in a causal prompt they see the most keys, and
      // starting them early leaves the short ones to even out the end.
      const int64_t item = n_items - 1 - i;
      const int64_t split = item % n_split, base = item / n_split;
      const int g = static_cast<int>(base % p.n_head_kv);
      const int64_t t0 = (base / p.n_head_kv) * q_tile, t1 = std::min(n_rows, t0 + q_tile);
      const int64_t nr = (t1 - t0) * group;  // rows: token-major, then the group's heads
      float* st = n_split > 1 ? split_states.data() + item * state_floats : own_state;
      const ItemState s{st, st + n_q, st + 2 * n_q};
      std::fill(s.m, s.m + nr, -std::numeric_limits<float>::infinity());
      std::fill(s.l, s.l + nr, 0.0f);
      std::fill(s.acc, s.acc + nr * dv, 0.0f);
      for (int64_t r = 0; r < nr; ++r) {
        const float* src = q + ((t0 + r / group) * p.n_head + g * group + r % group) * dk;
        for (int i = 0; i < dk; ++i) qs[r * dk + i] = src[i] * p.scale;
      }
      const bool int_scores = kdot && nr <= kIntScoreRows;
      if (int_scores) {
        if (qact_v.size() < nr * act_bytes) qact_v.resize(nr * act_bytes);
        for (int64_t r = 0; r < nr; ++r) kernels::quantize_activations(kdot->act, qs + r * dk, qact_v.data() + r * act_bytes, dk);
      }

      int64_t lo = std::numeric_limits<int64_t>::max(), hi = -1;
      for (int64_t t = t0; t < t1; ++t) {
        lo = std::min(lo, first_seen(pos[t]));
        hi = std::max(hi, last_seen(pos[t]));
      }
      lo = std::max(lo, kv.base_pos);
      hi = std::min(hi, kv.base_pos + kv.n_pos - 1);
      // This run's blocks: split `split` of n_split equal runs of [first, last].
      const int64_t first = (lo - kv.base_pos) / bs, last = (hi - kv.base_pos) / bs;
      const int64_t n_blk = last - first + 1;
      const int64_t b_begin = first + n_blk * split / n_split, b_end = first + n_blk * (split + 1) / n_split;
      for (int64_t b = b_begin; b < b_end; ++b) {
        const int64_t b0 = kv.base_pos + b * bs;                 // position of slot 0
        const int64_t s0 = std::max(lo, b0) - b0, s1 = std::min(hi, b0 + bs - 1) - b0 + 1;  // slots used
        if (s0 >= s1) continue;
        kv_decode(L.types.v, kv.v_block(b, g) + s0 * L.v_row_bytes(), vbuf + s0 * dv, (s1 - s0) * dv);
        if (int_scores) {
          const auto* kb = reinterpret_cast<const uint8_t*>(kv.k_block(b, g));
          float dots[kernels::kMaxActRows];
          for (int64_t sl = s0; sl < s1; ++sl)
            for (int64_t r0 = 0; r0 < nr; r0 += kernels::kMaxActRows) {
              const int na = static_cast<int>(std::min<int64_t>(kernels::kMaxActRows, nr - r0));
              kdot->fn(dk, kb + sl * L.k_row_bytes(), qact_v.data() + r0 * act_bytes, act_bytes, na, dots);
              for (int i = 0; i < na; ++i) scores[(r0 + i) * ks + sl] = dots[i];
            }
        } else {
          load_keys(kv.k_block(b, g), L, s0, s1, kbuf, ks, row);
          over_rows(nr, [&]<int R>(int64_t r0) { scores_rows<R>(qs + r0 * dk, dk, kbuf, ks, s0, s1, scores + r0 * ks, ks); });
        }
        // Online softmax, row by row over its visible slots [j0, j1); other slots weigh 0.
        for (int64_t r = 0; r < nr; ++r) {
          const int32_t pt = pos[t0 + r / group];
          const int64_t j0 = std::max(first_seen(pt), b0 + s0) - b0, j1 = std::min(last_seen(pt), b0 + s1 - 1) - b0 + 1;
          float* e = scores + r * ks;
          if (j0 >= j1) {
            std::fill(e + s0, e + s1, 0.0f);
            continue;
          }
          std::fill(e + s0, e + j0, 0.0f);
          std::fill(e + j1, e + s1, 0.0f);
          // The row's max, then e^(s - max) and its sum, a vector at a time.
          float mx = s.m[r];
          int64_t j = j0;
          Vec vm = Vec{} + mx;
          for (; j + kVec <= j1; j += kVec) {
            const Vec x = loadv(e + j);
            vm = x > vm ? x : vm;
          }
          for (int u = 0; u < kVec; ++u) mx = std::max(mx, vm[u]);
          for (; j < j1; ++j) mx = std::max(mx, e[j]);
          Vec vs = {};
          for (j = j0; j + kVec <= j1; j += kVec) {
            const Vec x = exp_nonpositive(loadv(e + j) - mx);
            storev(e + j, x);
            vs += x;
          }
          float sum = 0.0f;
          for (int u = 0; u < kVec; ++u) sum += vs[u];
          for (; j < j1; ++j) sum += (e[j] = exp_nonpositive(e[j] - mx));
          const float c = std::exp(s.m[r] - mx);  // rescales what was accumulated so far
          s.m[r] = mx;
          s.l[r] = s.l[r] * c + sum;
          if (c != 1.0f)
            for (int i = 0; i < dv; ++i) s.acc[r * dv + i] *= c;
        }
        over_rows(nr, [&]<int R>(int64_t r0) { values_rows<R>(scores + r0 * ks, ks, s0, s1, vbuf, dv, s.acc + r0 * dv); });
      }
      if (n_split > 1) continue;  // merged below
      for (int64_t r = 0; r < nr; ++r) {
        float* o = out + ((t0 + r / group) * p.n_head + g * group + r % group) * dv;
        const float inv = s.l[r] > 0.0f ? 1.0f / s.l[r] : 0.0f;
        for (int i = 0; i < dv; ++i) o[i] = s.acc[r * dv + i] * inv;
      }
    }
  }
  if (n_split == 1) return;

  // Merge the runs of each item: rescale each to the common max, add, divide.
  for (int64_t base = 0; base < n_base_items; ++base) {
    const int g = static_cast<int>(base % p.n_head_kv);
    const int64_t t0 = (base / p.n_head_kv) * q_tile, t1 = std::min(n_rows, t0 + q_tile);
    for (int64_t t = t0; t < t1; ++t)
      for (int hh = 0; hh < group; ++hh) {
        const int64_t qi = (t - t0) * group + hh;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t sp = 0; sp < n_split; ++sp) mx = std::max(mx, split_states[(base * n_split + sp) * state_floats + qi]);
        float* o = out + (t * p.n_head + g * group + hh) * dv;
        std::fill(o, o + dv, 0.0f);
        float l = 0.0f;
        for (int64_t sp = 0; sp < n_split; ++sp) {
          const float* st = split_states.data() + (base * n_split + sp) * state_floats;
          if (st[qi] == -std::numeric_limits<float>::infinity()) continue;  // a run with no visible key
          const float c = std::exp(st[qi] - mx);
          l += st[n_q + qi] * c;
          const float* a = st + 2 * n_q + qi * dv;
          for (int i = 0; i < dv; ++i) o[i] += a[i] * c;
        }
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        for (int i = 0; i < dv; ++i) o[i] *= inv;
      }
  }
}

}  // namespace scout::backend::cpu
