// Generation-time matmul of quantized weights against 8-bit activations
// (the default, as the CPU and llama.cpp compute it): the activations are
// rounded per block once per matmul (device_math.cuh, the CPU's rounding),
// then each weight block is multiplied in integers with dp4a (qdot.cuh).
//
// One warp per weight row. A block is split among QDot<T>::kParts lanes
// (four for the 256-element formats, so a warp covers 8 super-blocks per
// step; one for the 32-element ones, 32 blocks per step), each part read
// with the widest loads its alignment allows. The parts' integer sums meet
// by shuffles within their lane group and the first lane scales them.
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/internal.cuh"
#include "kernels/cuda/qdot.cuh"
#include "kernels/cuda/type_dispatch.cuh"

namespace scout::cuda {

namespace {

constexpr int kWarps = 4;

bool act_256(TensorType t) {
  switch (t) {
    case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K: case TensorType::Q5_K:
    case TensorType::Q6_K: case TensorType::IQ4_XS:
      return true;
    default:
      return false;
  }
}

// One warp per 32- or 256-element activation block.
template <bool K256>
__global__ void __launch_bounds__(kWarps * 32)
    quantize_act_kernel(const float* __restrict__ x, int64_t n_rows, int64_t n_in, ActQ8 a) {
  constexpr int B = K256 ? 256 : 32;
  const int lane = threadIdx.x % 32;
  const int64_t nb = n_in / B;
  const int64_t blk = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (blk >= n_rows * nb) return;
  const int64_t row = blk / nb, b = blk % nb;
  const float* xb = x + row * n_in + b * B;
  int8_t* qb = a.q + row * n_in + b * B;
  if constexpr (!K256) {
    const float v = xb[lane];
    const float amax = warp_max(fabsf(v));
    float id, d;
    act32_scale(amax, id, d);
    const int q = act32_round(v, id);
    qb[lane] = static_cast<int8_t>(q);
    int s = q;
#pragma unroll
    for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
    if (lane == 0) {
      a.d[blk] = d;
      a.sums[blk] = s;
    }
  } else {
    float v[8];
    const float4 v0 = reinterpret_cast<const float4*>(xb)[2 * lane], v1 = reinterpret_cast<const float4*>(xb)[2 * lane + 1];
    v[0] = v0.x, v[1] = v0.y, v[2] = v0.z, v[3] = v0.w, v[4] = v1.x, v[5] = v1.y, v[6] = v1.z, v[7] = v1.w;
    // The largest magnitude, the first on ties (the CPU's strict > in index order).
    float best = 0.0f;
    int at = B;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const float m = fabsf(v[j]);
      if (m > best) best = m, at = 8 * lane + j;
    }
#pragma unroll
    for (int off = 16; off > 0; off /= 2) {
      const float ob = __shfl_xor_sync(0xffffffffu, best, off);
      const int oa = __shfl_xor_sync(0xffffffffu, at, off);
      if (amax_better(ob, oa, best, at)) best = ob, at = oa;
    }
    int32_t* sums = a.sums + blk * 16;
    if (best == 0.0f) {
      reinterpret_cast<uint2*>(qb)[lane] = make_uint2(0u, 0u);
      if (lane < 16) sums[lane] = 0;
      if (lane == 0) a.d[blk] = 0.0f;
      return;
    }
    const float is = act256_iscale(xb[at]);
    uint32_t packed[2] = {0u, 0u};
    int s = 0;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int q = act256_round(v[j], is);
      s += q;
      packed[j / 4] |= static_cast<uint32_t>(q & 0xFF) << (8 * (j % 4));
    }
    reinterpret_cast<uint2*>(qb)[lane] = make_uint2(packed[0], packed[1]);
    s += __shfl_xor_sync(0xffffffffu, s, 1);  // two lanes per 16 values
    if (lane % 2 == 0) sums[lane / 2] = s;
    if (lane == 0) a.d[blk] = act256_d(is);
  }
}

template <TensorType T, int NR>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_q8_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_in, int64_t n_out, ActQ8 a,
                   float* __restrict__ y, int n_rows, Grouping g) {
  using Q = QDot<T>;
  constexpr int P = Q::kParts, NS = Q::kAct256 ? 16 : 1;
  const int lane = threadIdx.x % 32;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  int64_t r0;
  int nr;
  size_t w_off;
  if (r >= n_out || !tile_of(g, blockIdx.y, n_rows, kGemvMaxRows, r0, nr, w_off)) return;
  const uint8_t* row = w + w_off + r * row_bytes;
  const int64_t nb = n_in / Q::kElems, n_tasks = nb * P;
  const int p = lane % P;
  float acc[NR];
#pragma unroll
  for (int t = 0; t < NR; ++t) acc[t] = 0.0f;

  for (int64_t base = 0; base < n_tasks; base += 32) {
    const int64_t task = base + lane;
    const bool valid = task < n_tasks;
    const int64_t b = task / P;
    typename Q::Regs regs{};
    if (valid) Q::load(row + b * Q::kBytes, p, regs);
#pragma unroll
    for (int t = 0; t < NR; ++t) {
      if (t >= nr) break;
      const int64_t ab = (r0 + t) * nb + b;  // the activation block
      const int32_t* sums = a.sums + ab * NS;
      QPart part;
      if (valid) part = Q::part(regs, a.q + ab * Q::kElems, sums, p);
#pragma unroll
      for (int off = 1; off < P; off *= 2) {
        part.a += __shfl_xor_sync(0xffffffffu, part.a, off);
        part.b += __shfl_xor_sync(0xffffffffu, part.b, off);
      }
      if (valid && p == 0) acc[t] += Q::finish(regs, part, a.d[ab], sums);
    }
  }
#pragma unroll
  for (int t = 0; t < NR; ++t) {
    const float s = warp_sum(acc[t]);
    if (lane == 0 && t < nr) y[(r0 + t) * n_out + r] = s;
  }
}

template <class F>
void with_q8_type(TensorType t, F&& f) {
  switch (t) {
    case TensorType::Q4_0: f.template operator()<TensorType::Q4_0>(); return;
    case TensorType::Q4_1: f.template operator()<TensorType::Q4_1>(); return;
    case TensorType::Q5_0: f.template operator()<TensorType::Q5_0>(); return;
    case TensorType::Q5_1: f.template operator()<TensorType::Q5_1>(); return;
    case TensorType::Q8_0: f.template operator()<TensorType::Q8_0>(); return;
    case TensorType::IQ4_NL: f.template operator()<TensorType::IQ4_NL>(); return;
    case TensorType::Q2_K: f.template operator()<TensorType::Q2_K>(); return;
    case TensorType::Q3_K: f.template operator()<TensorType::Q3_K>(); return;
    case TensorType::Q4_K: f.template operator()<TensorType::Q4_K>(); return;
    case TensorType::Q5_K: f.template operator()<TensorType::Q5_K>(); return;
    case TensorType::Q6_K: f.template operator()<TensorType::Q6_K>(); return;
    case TensorType::IQ4_XS: f.template operator()<TensorType::IQ4_XS>(); return;
    default: throw std::invalid_argument("gemv_q8: no 8-bit kernel for " + std::string(type_name(t)));
  }
}

size_t align256(size_t n) { return (n + 255) / 256 * 256; }

}  // namespace

size_t act_q8_bytes(TensorType t, int64_t n_rows, int64_t n_in) {
  const int64_t B = act_256(t) ? 256 : 32, nb = n_in / B;
  const size_t ns = act_256(t) ? 16 : 1;
  return align256(static_cast<size_t>(n_rows * n_in)) + align256(static_cast<size_t>(n_rows * nb) * sizeof(float)) +
         align256(static_cast<size_t>(n_rows * nb) * ns * sizeof(int32_t));
}

ActQ8 act_q8_layout(void* buf, TensorType t, int64_t n_rows, int64_t n_in) {
  const int64_t B = act_256(t) ? 256 : 32, nb = n_in / B;
  auto* p = static_cast<uint8_t*>(buf);
  ActQ8 a;
  a.q = reinterpret_cast<int8_t*>(p);
  p += align256(static_cast<size_t>(n_rows * n_in));
  a.d = reinterpret_cast<float*>(p);
  p += align256(static_cast<size_t>(n_rows * nb) * sizeof(float));
  a.sums = reinterpret_cast<int32_t*>(p);
  return a;
}

void quantize_act(TensorType t, const float* x, int64_t n_rows, int64_t n_in, const ActQ8& a, cudaStream_t stream) {
  const bool k256 = act_256(t);
  const int64_t blocks = n_rows * (n_in / (k256 ? 256 : 32));
  if (blocks == 0) return;
  if (k256)
    quantize_act_kernel<true><<<grid_for(blocks, kWarps), kWarps * 32, 0, stream>>>(x, n_rows, n_in, a);
  else
    quantize_act_kernel<false><<<grid_for(blocks, kWarps), kWarps * 32, 0, stream>>>(x, n_rows, n_in, a);
  check_launch("quantize_act launch");
}

void gemv_q8(const DeviceWeight& w, const ActQ8& a, float* y, int n_rows, const Grouping& g, cudaStream_t stream) {
  if (n_rows < 1 || (!g.tiles && n_rows > kGemvMaxRows)) throw std::invalid_argument("gemv_q8: rows out of range");
  const dim3 grid(grid_for(w.n_out, kWarps), g.tiles ? static_cast<unsigned>(g.max_tiles) : 1u);
  if (grid.y == 0) return;
  const bool one = !g.tiles && n_rows == 1;
  with_q8_type(w.type, [&]<TensorType T>() {
    if (one)
      gemv_q8_kernel<T, 1><<<grid, kWarps * 32, 0, stream>>>(w.data, w.row_bytes, w.n_in, w.n_out, a, y, n_rows, g);
    else
      gemv_q8_kernel<T, kGemvMaxRows><<<grid, kWarps * 32, 0, stream>>>(w.data, w.row_bytes, w.n_in, w.n_out, a, y,
                                                                         n_rows, g);
  });
  check_launch("gemv_q8 launch");
}

}  // namespace scout::cuda
