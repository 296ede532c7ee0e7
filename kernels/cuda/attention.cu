// The KV cache and attention, all through the pass tables begin_pass() left
// at a fixed device address (device_types.h PassDev): each row finds its
// segment, its position and its layer's blocks there, so a recorded decode
// step reads the current lengths when it is replayed. Block layout:
// backend/kv_layout.h (K transposed [head][dim][slot], V [head][slot][dim]).
//
// kv_write: one block per row, f16 rounded to nearest even (device_math.cuh).
//
// Decode (split-K): one block per (row, kv head, chunk of 8 query heads,
// split). The split's range of the row's visible keys is worked out on the
// device (device_math.cuh split_keys), tiles of 64 keys: scores for the 8
// heads of the group at once (each K element loaded once for all of them),
// an online softmax per head, then the weighted values, each V element loaded
// once for all heads. A second kernel merges the splits' (max, sum, values).
//
// Prefill (flash attention): one block per 32 query rows - a few tokens times
// the query heads of one kv head - and tiles of 32 keys staged in shared
// memory as f32. Each warp owns 8 query rows: lane j scores key j for all 8,
// the online softmax runs across the warp, and lane l accumulates value dims
// l, l+32, ... A tile whose rows span two segments (sequences) is run once
// per segment with the other rows masked.
#include <cuda_fp16.h>

#include <algorithm>

#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/internal.cuh"

namespace scout::cuda {

namespace {

constexpr int kDecThreads = 128, kDecTile = 64, kDecHeads = 8, kMaxSplits = 64;
constexpr int kPreThreads = 128, kPreRows = 32, kPreKeys = 32, kRowsPerWarp = 8;
static_assert(kPreThreads / 32 * kRowsPerWarp == kPreRows);

int g_prefill_smem_limit = 48 * 1024;

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

template <bool F16>
__device__ __forceinline__ float kv_load(const uint8_t* p) {
  if constexpr (F16)
    return __half2float(__ushort_as_half(*reinterpret_cast<const unsigned short*>(p)));
  else
    return *reinterpret_cast<const float*>(p);
}

template <bool F16>
__device__ __forceinline__ void kv_store(uint8_t* p, float v) {
  if constexpr (F16)
    *reinterpret_cast<uint16_t*>(p) = f32_to_f16_bits(v);
  else
    *reinterpret_cast<float*>(p) = v;
}

// A segment and its table for one layer.
struct SegView {
  int64_t row, n_rows, first_pos, base_pos, n_pos;
  int32_t first_id;
};

__device__ __forceinline__ SegView seg_view(const PassDev* pass, int layer, int seg) {
  const SegDev s = pass->segs[seg];
  const TableDev t = pass->tables[static_cast<int64_t>(layer) * pass->n_segs + seg];
  return {s.row, s.n_rows, s.first_pos, t.base_pos, t.n_pos, t.first_id};
}

// The block holding position kp of the table, and kp's slot in it.
__device__ __forceinline__ uint8_t* kv_block(const PassDev* pass, const SegView& s, int64_t kp, int64_t bs,
                                             int& slot) {
  const int64_t rel = kp - s.base_pos, b = rel / bs;
  slot = static_cast<int>(rel - b * bs);
  return static_cast<uint8_t*>(pass->blocks[pass->block_ids[s.first_id + b]]);
}

template <bool F16>
__global__ void kv_write_kernel(const PassDev* pass, int layer, KvGeom g, const float* __restrict__ k,
                                const float* __restrict__ v) {
  constexpr int es = F16 ? 2 : 4;
  const int64_t t = blockIdx.x;
  const SegView s = seg_view(pass, layer, pass->row_seg[t]);
  int slot;
  uint8_t* blk = kv_block(pass, s, s.first_pos + (t - s.row), g.block_size, slot);
  const int64_t bs = g.block_size, dk = g.head_dim_k, dv = g.head_dim_v, nk = g.n_head_kv;
  for (int64_t idx = threadIdx.x; idx < nk * dk; idx += blockDim.x) {
    const int64_t h = idx / dk, i = idx % dk;
    kv_store<F16>(blk + (h * bs * dk + i * bs + slot) * es, k[t * nk * dk + idx]);
  }
  for (int64_t idx = threadIdx.x; idx < nk * dv; idx += blockDim.x) {
    const int64_t h = idx / dv, i = idx % dv;
    kv_store<F16>(blk + (nk * bs * dk + h * bs * dv + slot * dv + i) * es, v[t * nk * dv + idx]);
  }
}

// ---------------- decode ----------------
template <bool F16, int DU>
__global__ void __launch_bounds__(kDecThreads)
    attn_decode_kernel(const PassDev* pass, int layer, KvGeom g, AttnArgs a, const float* __restrict__ q,
                       float* __restrict__ part, int n_splits, int n_hc) {
  constexpr int es = F16 ? 2 : 4;
  __shared__ __align__(16) float qs[kMaxHeadDim][kDecHeads];
  __shared__ __align__(16) float ps[kDecTile][kDecHeads];
  __shared__ const uint8_t* kbase[kDecTile];
  __shared__ int kslot[kDecTile];
  __shared__ float m_s[kDecHeads], l_s[kDecHeads], c_s[kDecHeads];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int64_t t = blockIdx.x;
  const int gk = blockIdx.y / n_hc, hc = blockIdx.y % n_hc, sp = blockIdx.z;
  const int group = a.n_head / a.n_head_kv, h0 = gk * group + hc * kDecHeads;
  const int nh = min(kDecHeads, group - hc * kDecHeads);
  const int dk = a.head_dim_k, dv = a.head_dim_v;
  const int64_t bs = g.block_size;

  const SegView s = seg_view(pass, layer, pass->row_seg[t]);
  const int64_t pos = s.first_pos + (t - s.row);
  int64_t lo, hi, k0, k1;
  visible_keys(pos, a.chunk, s.base_pos, s.n_pos, lo, hi);
  split_keys(lo, hi, n_splits, sp, kDecTile, k0, k1);

  for (int idx = tid; idx < dk * kDecHeads; idx += kDecThreads) {
    const int i = idx / kDecHeads, h = idx % kDecHeads;
    qs[i][h] = h < nh ? q[(t * a.n_head + h0 + h) * dk + i] : 0.0f;
  }
  if (tid < kDecHeads) m_s[tid] = -INFINITY, l_s[tid] = 0.0f, c_s[tid] = 1.0f;
  float acc[kDecHeads][DU];
#pragma unroll
  for (int h = 0; h < kDecHeads; ++h)
#pragma unroll
    for (int u = 0; u < DU; ++u) acc[h][u] = 0.0f;
  const size_t koff = static_cast<size_t>(gk) * bs * dk * es;
  const size_t voff = (static_cast<size_t>(g.n_head_kv) * bs * dk + static_cast<size_t>(gk) * bs * dv) * es;
  __syncthreads();

  for (int64_t j0 = k0; j0 < k1; j0 += kDecTile) {
    const int nk = static_cast<int>(min64(kDecTile, k1 - j0));
    if (tid < nk) {
      int slot;
      kbase[tid] = kv_block(pass, s, j0 + tid, bs, slot);
      kslot[tid] = slot;
    }
    __syncthreads();
    // Scores: key jj, heads 4*half .. 4*half+3.
    {
      const int jj = tid % kDecTile, half = tid / kDecTile;
      float sc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (jj < nk) {
        const uint8_t* kp = kbase[jj] + koff + static_cast<size_t>(kslot[jj]) * es;
        for (int i = 0; i < dk; ++i) {
          const float kv = kv_load<F16>(kp + static_cast<size_t>(i) * bs * es);
          const float4 qv = *reinterpret_cast<const float4*>(&qs[i][4 * half]);
          sc[0] += qv.x * kv, sc[1] += qv.y * kv, sc[2] += qv.z * kv, sc[3] += qv.w * kv;
        }
      }
#pragma unroll
      for (int h = 0; h < 4; ++h) ps[jj][4 * half + h] = jj < nk ? sc[h] * a.scale : -INFINITY;
    }
    __syncthreads();
    // Online softmax: warp w updates heads w and w + 4.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int hh = warp + 4 * r;
      if (hh >= nh) continue;
      const float s0 = ps[lane][hh], s1 = ps[lane + 32][hh];
      const float m_old = m_s[hh], m_new = fmaxf(m_old, warp_max(fmaxf(s0, s1)));
      const float p0 = s0 == -INFINITY ? 0.0f : expf(s0 - m_new), p1 = s1 == -INFINITY ? 0.0f : expf(s1 - m_new);
      const float sum = warp_sum(p0 + p1);
      ps[lane][hh] = p0;
      ps[lane + 32][hh] = p1;
      if (lane == 0) {
        const float c = m_old == -INFINITY ? 0.0f : expf(m_old - m_new);
        l_s[hh] = l_s[hh] * c + sum;
        m_s[hh] = m_new;
        c_s[hh] = c;
      }
    }
    __syncthreads();
    // Weighted values: dims tid + 128u, all heads per V load.
#pragma unroll
    for (int h = 0; h < kDecHeads; ++h)
#pragma unroll
      for (int u = 0; u < DU; ++u) acc[h][u] *= c_s[h];
    for (int jj = 0; jj < nk; ++jj) {
      const uint8_t* vp = kbase[jj] + voff + static_cast<size_t>(kslot[jj]) * dv * es;
      const float4 pa = *reinterpret_cast<const float4*>(&ps[jj][0]);
      const float4 pb = *reinterpret_cast<const float4*>(&ps[jj][4]);
      const float p[8] = {pa.x, pa.y, pa.z, pa.w, pb.x, pb.y, pb.z, pb.w};
#pragma unroll
      for (int u = 0; u < DU; ++u) {
        const int d = tid + kDecThreads * u;
        const float vv = d < dv ? kv_load<F16>(vp + static_cast<size_t>(d) * es) : 0.0f;
#pragma unroll
        for (int h = 0; h < kDecHeads; ++h) acc[h][u] += p[h] * vv;
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int h = 0; h < kDecHeads; ++h) {
    if (h >= nh) break;
    float* o = part + ((t * a.n_head + h0 + h) * n_splits + sp) * (dv + 2);
    if (tid == 0) o[0] = m_s[h], o[1] = l_s[h];
#pragma unroll
    for (int u = 0; u < DU; ++u) {
      const int d = tid + kDecThreads * u;
      if (d < dv) o[2 + d] = acc[h][u];
    }
  }
}

// One block per (row, head): the splits' states merged (device_math.cuh softmax_merge's rule).
__global__ void attn_merge_kernel(const float* __restrict__ part, int n_splits, int dv, float* __restrict__ out) {
  __shared__ float f[kMaxSplits];
  __shared__ float inv_l;
  const float* base = part + static_cast<int64_t>(blockIdx.x) * n_splits * (dv + 2);
  if (threadIdx.x == 0) {
    float m = -INFINITY, l = 0.0f;
    for (int s = 0; s < n_splits; ++s) m = fmaxf(m, base[s * (dv + 2)]);
    for (int s = 0; s < n_splits; ++s) {
      const float ms = base[s * (dv + 2)];
      f[s] = ms == -INFINITY ? 0.0f : expf(ms - m);
      l += base[s * (dv + 2) + 1] * f[s];
    }
    inv_l = l > 0.0f ? 1.0f / l : 0.0f;
  }
  __syncthreads();
  for (int d = threadIdx.x; d < dv; d += blockDim.x) {
    float o = 0.0f;
    for (int s = 0; s < n_splits; ++s) o += base[s * (dv + 2) + 2 + d] * f[s];
    out[static_cast<int64_t>(blockIdx.x) * dv + d] = o * inv_l;
  }
}

// ---------------- prefill ----------------
size_t prefill_smem(int dk, int dv) {
  return static_cast<size_t>(2 * kPreRows * dk + kPreKeys * dv + kPreRows * kPreKeys) * sizeof(float) +
         kPreKeys * (sizeof(void*) + sizeof(int));
}

template <bool F16, int DU>
__global__ void __launch_bounds__(kPreThreads)
    attn_prefill_kernel(const PassDev* pass, int layer, KvGeom g, AttnArgs a, const float* __restrict__ q,
                        float* __restrict__ out, int64_t n_rows, int BH, int n_hc) {
  constexpr int es = F16 ? 2 : 4;
  extern __shared__ __align__(16) float smem_f[];
  const int dk = a.head_dim_k, dv = a.head_dim_v;
  float* qs = smem_f;                         // [32 rows][dk]
  float* ks = qs + kPreRows * dk;             // [dk][32 keys]
  float* vs = ks + dk * kPreKeys;             // [32 keys][dv]
  float* ps = vs + kPreKeys * dv;             // [32 rows][32 keys]
  auto** kb = reinterpret_cast<const uint8_t**>(ps + kPreRows * kPreKeys);
  auto* kslot = reinterpret_cast<int*>(kb + kPreKeys);

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int BT = kPreRows / BH;
  const int64_t t0 = static_cast<int64_t>(blockIdx.x) * BT;
  const int gk = blockIdx.y / n_hc, hc = blockIdx.y % n_hc;
  const int group = a.n_head / a.n_head_kv, hb0 = hc * BH, nh = min(BH, group - hb0);
  const int64_t bs = g.block_size;
  const size_t koff = static_cast<size_t>(gk) * bs * dk * es;
  const size_t voff = (static_cast<size_t>(g.n_head_kv) * bs * dk + static_cast<size_t>(gk) * bs * dv) * es;

  for (int idx = tid; idx < kPreRows * dk; idx += kPreThreads) {
    const int qr = idx / dk, i = idx % dk, tt = qr / BH, hh = qr % BH;
    const int64_t tok = t0 + tt;
    const bool ok = tt < BT && tok < n_rows && hh < nh;
    qs[idx] = ok ? q[(tok * a.n_head + gk * group + hb0 + hh) * dk + i] : 0.0f;
  }

  // This warp's rows: their position, first visible key and segment (-1: no row).
  int64_t rpos[kRowsPerWarp], rfirst[kRowsPerWarp];
  int rseg[kRowsPerWarp];
  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][DU];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int qr = warp * kRowsPerWarp + r, tt = qr / BH, hh = qr % BH;
    const int64_t tok = t0 + tt;
    rseg[r] = -1;
    rpos[r] = rfirst[r] = 0;
    if (tt < BT && tok < n_rows && hh < nh) {
      rseg[r] = pass->row_seg[tok];
      const SegDev sd = pass->segs[rseg[r]];
      rpos[r] = sd.first_pos + (tok - sd.row);
      rfirst[r] = a.chunk > 0 ? rpos[r] - rpos[r] % a.chunk : 0;
    }
    m[r] = -INFINITY, l[r] = 0.0f;
#pragma unroll
    for (int u = 0; u < DU; ++u) acc[r][u] = 0.0f;
  }

  const int64_t t_last = min64(t0 + BT, n_rows) - 1;
  const int seg_a = pass->row_seg[t0], seg_b = pass->row_seg[t_last];
  for (int sg = seg_a; sg <= seg_b; ++sg) {
    const SegView s = seg_view(pass, layer, sg);
    const int64_t ta = max64(t0, s.row), tb = min64(t_last, s.row + s.n_rows - 1);
    if (ta > tb) continue;
    int64_t lo, hi, lo_b, hi_b;
    visible_keys(s.first_pos + (ta - s.row), a.chunk, s.base_pos, s.n_pos, lo, hi_b);
    visible_keys(s.first_pos + (tb - s.row), a.chunk, s.base_pos, s.n_pos, lo_b, hi);
    for (int64_t j0 = lo; j0 <= hi; j0 += kPreKeys) {
      const int nk = static_cast<int>(min64(kPreKeys, hi - j0 + 1));
      __syncthreads();  // the previous tile is no longer read
      if (tid < nk) {
        int slot;
        kb[tid] = kv_block(pass, s, j0 + tid, bs, slot);
        kslot[tid] = slot;
      }
      __syncthreads();
      for (int idx = tid; idx < dk * kPreKeys; idx += kPreThreads) {
        const int i = idx / kPreKeys, jj = idx % kPreKeys;
        ks[idx] = jj < nk ? kv_load<F16>(kb[jj] + koff + (static_cast<size_t>(i) * bs + kslot[jj]) * es) : 0.0f;
      }
      for (int idx = tid; idx < kPreKeys * dv; idx += kPreThreads) {
        const int jj = idx / dv, i = idx % dv;
        vs[idx] = jj < nk ? kv_load<F16>(kb[jj] + voff + (static_cast<size_t>(kslot[jj]) * dv + i) * es) : 0.0f;
      }
      __syncthreads();

      float sc[kRowsPerWarp];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) sc[r] = 0.0f;
      const float* qw = qs + warp * kRowsPerWarp * dk;
      for (int i = 0; i < dk; i += 4) {
        const float k0 = ks[i * kPreKeys + lane], k1 = ks[(i + 1) * kPreKeys + lane];
        const float k2 = ks[(i + 2) * kPreKeys + lane], k3 = ks[(i + 3) * kPreKeys + lane];
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
          const float4 qv = *reinterpret_cast<const float4*>(qw + r * dk + i);
          sc[r] += qv.x * k0 + qv.y * k1 + qv.z * k2 + qv.w * k3;
        }
      }
      const int64_t kp = j0 + lane;
      float* pw = ps + warp * kRowsPerWarp * kPreKeys;
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const bool vis = rseg[r] == sg && lane < nk && kp <= rpos[r] && kp >= rfirst[r];
        const float sv = vis ? sc[r] * a.scale : -INFINITY;
        const float m_new = fmaxf(m[r], warp_max(sv));
        const float p = sv == -INFINITY ? 0.0f : expf(sv - m_new);
        const float c = m[r] == -INFINITY ? 0.0f : expf(m[r] - m_new);
        l[r] = l[r] * c + warp_sum(p);
        m[r] = m_new;
#pragma unroll
        for (int u = 0; u < DU; ++u) acc[r][u] *= c;
        pw[r * kPreKeys + lane] = p;
      }
      __syncwarp();
      for (int jj = 0; jj < nk; ++jj) {
        float vv[DU];
#pragma unroll
        for (int u = 0; u < DU; ++u) {
          const int d = lane + 32 * u;
          vv[u] = d < dv ? vs[jj * dv + d] : 0.0f;
        }
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
          const float p = pw[r * kPreKeys + jj];
#pragma unroll
          for (int u = 0; u < DU; ++u) acc[r][u] += p * vv[u];
        }
      }
      __syncwarp();
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    if (rseg[r] < 0) continue;
    const int qr = warp * kRowsPerWarp + r, tt = qr / BH, hh = qr % BH;
    const int64_t tok = t0 + tt;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    float* o = out + (tok * a.n_head + gk * group + hb0 + hh) * dv;
#pragma unroll
    for (int u = 0; u < DU; ++u) {
      const int d = lane + 32 * u;
      if (d < dv) o[d] = acc[r][u] * inv;
    }
  }
}

template <class F>
void with_kv_type(const KvGeom& g, F&& f) {
  if (g.f16)
    f.template operator()<true>();
  else
    f.template operator()<false>();
}

void check_dims(const AttnArgs& a) {
  if (a.head_dim_k % 4 != 0 || a.head_dim_k > kMaxHeadDim || a.head_dim_v > kMaxHeadDim || a.n_head_kv < 1 ||
      a.n_head % a.n_head_kv != 0)
    throw std::invalid_argument("attention: head dimensions the GPU kernels do not take (at most 256, multiples of 4)");
}

}  // namespace

void init_attention_kernels() {
  int dev = 0, optin = 0;
  cuda_check(cudaGetDevice(&dev), "cudaGetDevice");
  cuda_check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "shared memory limit");
  g_prefill_smem_limit = static_cast<int>(std::min<size_t>(static_cast<size_t>(optin), prefill_smem(kMaxHeadDim, kMaxHeadDim)));
  const int lim = g_prefill_smem_limit;
  auto set = [lim](const void* fn) {
    cuda_check(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, lim), "attention attributes");
  };
  set(reinterpret_cast<const void*>(attn_prefill_kernel<true, 2>));
  set(reinterpret_cast<const void*>(attn_prefill_kernel<true, 4>));
  set(reinterpret_cast<const void*>(attn_prefill_kernel<true, 8>));
  set(reinterpret_cast<const void*>(attn_prefill_kernel<false, 2>));
  set(reinterpret_cast<const void*>(attn_prefill_kernel<false, 4>));
  set(reinterpret_cast<const void*>(attn_prefill_kernel<false, 8>));
}

void kv_write(const PassDev* pass, int layer, const KvGeom& g, const float* k, const float* v, int64_t n_rows,
              cudaStream_t stream) {
  if (n_rows == 0) return;
  with_kv_type(g, [&]<bool F16>() {
    kv_write_kernel<F16><<<static_cast<unsigned>(n_rows), 128, 0, stream>>>(pass, layer, g, k, v);
  });
  check_launch("kv_write launch");
}

int attention_splits(int64_t n_rows, int n_head, int n_head_kv, int n_sm) {
  const int64_t group = n_head / std::max(n_head_kv, 1);
  const int64_t base = n_rows * n_head_kv * ((group + kDecHeads - 1) / kDecHeads);
  const int64_t want = (2 * static_cast<int64_t>(n_sm) + base - 1) / std::max<int64_t>(base, 1);
  return static_cast<int>(std::clamp<int64_t>(want, 1, kMaxSplits));
}

size_t attention_decode_scratch(int64_t n_rows, int n_head, int head_dim_v, int n_splits) {
  return static_cast<size_t>(n_rows) * n_head * n_splits * (head_dim_v + 2) * sizeof(float);
}

void attention_decode(const PassDev* pass, int layer, const KvGeom& g, const AttnArgs& a, const float* q,
                      int64_t n_rows, int n_splits, float* scratch, float* out, cudaStream_t stream) {
  if (n_rows == 0) return;
  check_dims(a);
  if (n_splits < 1 || n_splits > kMaxSplits) throw std::invalid_argument("attention: split count out of range");
  const int group = a.n_head / a.n_head_kv, n_hc = (group + kDecHeads - 1) / kDecHeads;
  const dim3 grid(static_cast<unsigned>(n_rows), static_cast<unsigned>(a.n_head_kv * n_hc), static_cast<unsigned>(n_splits));
  with_kv_type(g, [&]<bool F16>() {
    if (a.head_dim_v <= kDecThreads)
      attn_decode_kernel<F16, 1><<<grid, kDecThreads, 0, stream>>>(pass, layer, g, a, q, scratch, n_splits, n_hc);
    else
      attn_decode_kernel<F16, 2><<<grid, kDecThreads, 0, stream>>>(pass, layer, g, a, q, scratch, n_splits, n_hc);
  });
  check_launch("attention (decode) launch");
  attn_merge_kernel<<<static_cast<unsigned>(n_rows * a.n_head), 128, 0, stream>>>(scratch, n_splits, a.head_dim_v, out);
  check_launch("attention (merge) launch");
}

void attention_prefill(const PassDev* pass, int layer, const KvGeom& g, const AttnArgs& a, const float* q,
                       int64_t n_rows, float* out, cudaStream_t stream) {
  if (n_rows == 0) return;
  check_dims(a);
  const size_t smem = prefill_smem(a.head_dim_k, a.head_dim_v);
  if (smem > static_cast<size_t>(g_prefill_smem_limit))
    throw std::invalid_argument("attention: head dimensions too large for this GPU's shared memory");
  const int group = a.n_head / a.n_head_kv;
  const int BH = std::min(group, kPreRows), BT = kPreRows / BH, n_hc = (group + BH - 1) / BH;
  const dim3 grid(grid_for(n_rows, BT), static_cast<unsigned>(a.n_head_kv * n_hc));
  with_kv_type(g, [&]<bool F16>() {
    if (a.head_dim_v <= 64)
      attn_prefill_kernel<F16, 2><<<grid, kPreThreads, smem, stream>>>(pass, layer, g, a, q, out, n_rows, BH, n_hc);
    else if (a.head_dim_v <= 128)
      attn_prefill_kernel<F16, 4><<<grid, kPreThreads, smem, stream>>>(pass, layer, g, a, q, out, n_rows, BH, n_hc);
    else
      attn_prefill_kernel<F16, 8><<<grid, kPreThreads, smem, stream>>>(pass, layer, g, a, q, out, n_rows, BH, n_hc);
  });
  check_launch("attention (prefill) launch");
}

}  // namespace scout::cuda
