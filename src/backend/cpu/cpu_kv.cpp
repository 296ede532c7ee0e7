#include "backend/cpu/cpu_kv.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "backend/cpu/cpu_math.h"
#include "tensor/dequant.h"
#include "tensor/quant.h"

namespace scout::backend::cpu {

CpuKvPool::CpuKvPool(KvLayout layout, const std::string& dir) : KvPool(layout), dir_(dir) {
  if (dir.empty()) return;
  std::string path = (std::filesystem::path(dir) / "scout-kv-XXXXXX").string();
  fd_ = ::mkstemp(path.data());
  if (fd_ < 0) throw std::runtime_error(fmt::format("--kv-dir {}: cannot create the KV cache file there: {}", dir, std::strerror(errno)));
  ::unlink(path.c_str());  // the open descriptor keeps it; nothing is left behind at exit or on a crash
}

CpuKvPool::~CpuKvPool() {
  for (const auto& [addr, bytes] : extents_) ::munmap(addr, bytes);
  if (fd_ >= 0) ::close(fd_);
}

void CpuKvPool::reserve(int32_t n_blocks) {
  const size_t bb = layout().block_bytes();
  while (capacity() < n_blocks) {
    if (fd_ < 0) {  // no zeroing: slots are written before they are read
      owned_.push_back(std::make_unique_for_overwrite<std::byte[]>(bb));
      blocks_.push_back(owned_.back().get());
      continue;
    }
    const size_t bytes = bb * kFileExtentBlocks;
    const auto offset = static_cast<off_t>(extents_.size() * bytes);
    if (const int err = ::posix_fallocate(fd_, offset, static_cast<off_t>(bytes)); err != 0)
      throw std::runtime_error(fmt::format("--kv-dir {}: cannot grow the KV cache file to {:.2f} GiB: {}", dir_,
                                           static_cast<double>(offset + bytes) / 1073741824.0, std::strerror(err)));
    void* addr = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, offset);
    if (addr == MAP_FAILED)
      throw std::runtime_error(fmt::format("--kv-dir {}: cannot map the KV cache file: {}", dir_, std::strerror(errno)));
    extents_.emplace_back(addr, bytes);
    for (int32_t i = 0; i < kFileExtentBlocks; ++i) blocks_.push_back(static_cast<std::byte*>(addr) + i * bb);
  }
}

KvLayerView kv_view(const KvPass& kv, int layer, size_t seg, std::vector<const std::byte*>& ptrs) {
  const auto& pool = static_cast<const CpuKvPool&>(*kv.pool);
  const KvTable& t = kv.table(layer, seg);
  ptrs.resize(static_cast<size_t>(t.n_blocks));
  for (int32_t b = 0; b < t.n_blocks; ++b) ptrs[static_cast<size_t>(b)] = pool.block(kv.block_ids[static_cast<size_t>(t.first_id + b)]);
  KvLayerView v;
  v.layout = pool.layout();
  v.base_pos = t.base_pos;
  v.n_pos = t.n_pos;
  v.blocks = ptrs.data();
  return v;
}

namespace {

// Writes count values of src to dst in a float type, dst's elements `stride`
// apart (the transposed K), rounded as quantize_row rounds a row of the type.
void put_strided(std::byte* dst, KvType type, size_t stride, const float* src, int64_t count) {
  switch (type) {
    case KvType::F32: {
      auto* f = reinterpret_cast<float*>(dst);
      for (int64_t i = 0; i < count; ++i) f[i * stride] = src[i];
      break;
    }
    case KvType::F16: {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < count; ++i) h[i * stride] = fp32_to_fp16(src[i]);
      break;
    }
    case KvType::BF16: {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < count; ++i) h[i * stride] = fp32_to_bf16(src[i]);
      break;
    }
    default: throw std::logic_error("put_strided: a quantized KV type is stored in rows");
  }
}

}  // namespace

void kv_decode_reference(KvType t, const std::byte* src, float* dst, int64_t n) {
  dequantize_row(kv_tensor_type(t), src, dst, n);
}

#ifdef __AVX2__
// With AVX2 (and F16C, which every AVX2 CPU has): 8 values per instruction.
void kv_decode(KvType t, const std::byte* src, float* dst, int64_t n) {
  int64_t i = 0;
  switch (t) {
    case KvType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case KvType::F16:
      for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i))));
      break;
    case KvType::BF16:
      for (; i + 8 <= n; i += 8) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
      }
      break;
    case KvType::Q8_0:
      for (; i < n; i += 32, src += 34) {
        uint16_t dh;
        std::memcpy(&dh, src, 2);
        const __m256 d = _mm256_set1_ps(half_to_float(dh));
        for (int u = 0; u < 4; ++u) {
          const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + 2 + 8 * u)));
          _mm256_storeu_ps(dst + i + 8 * u, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
        }
      }
      return;
    case KvType::Q4_0:
      for (; i < n; i += 32, src += 18) {
        uint16_t dh;
        std::memcpy(&dh, src, 2);
        const __m256 d = _mm256_set1_ps(half_to_float(dh));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2));
        const __m128i eight = _mm_set1_epi8(8), mask = _mm_set1_epi8(0x0f);
        const __m128i lo = _mm_sub_epi8(_mm_and_si128(q, mask), eight);                      // elements 0-15
        const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), mask), eight);  // elements 16-31
        for (int u = 0; u < 2; ++u) {
          const __m128i l8 = u ? _mm_srli_si128(lo, 8) : lo, h8 = u ? _mm_srli_si128(hi, 8) : hi;
          _mm256_storeu_ps(dst + i + 8 * u, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(l8))));
          _mm256_storeu_ps(dst + i + 16 + 8 * u, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(h8))));
        }
      }
      return;
  }
  if (i < n) kv_decode_reference(t, src + i * 2, dst + i, n - i);  // the f16/bf16 tail
}
#else
void kv_decode(KvType t, const std::byte* src, float* dst, int64_t n) { kv_decode_reference(t, src, dst, n); }
#endif

void kv_store(const KvPass& kv, int layer, size_t seg, const float* k, const float* v) {
  const auto& pool = static_cast<const CpuKvPool&>(*kv.pool);
  const KvLayout& L = pool.layout();
  const KvSegment& s = kv.segs[seg];
  const KvTable& t = kv.table(layer, seg);
  if (s.first_pos < t.base_pos || s.first_pos + s.n_rows > t.base_pos + t.n_pos)
    throw std::logic_error(fmt::format("kv_write: positions [{}, {}) are not in the cache", s.first_pos, s.first_pos + s.n_rows));
  const int64_t bs = L.block_size, dk = L.head_dim_k, dv = L.head_dim_v;
  const KvType kt = L.types.k, vt = L.types.v;
  for (int64_t i = 0; i < s.n_rows; ++i) {
    const int64_t rel = s.first_pos + i - t.base_pos, b = rel / bs, slot = rel % bs;
    std::byte* block = pool.block(kv.block_ids[static_cast<size_t>(t.first_id + b)]);
    const int64_t r = s.row + i;
    for (int h = 0; h < L.n_head_kv; ++h) {
      const float* kr = k + (r * L.n_head_kv + h) * dk;
      const float* vr = v + (r * L.n_head_kv + h) * dv;
      if (L.k_transposed())
        put_strided(block + L.k_offset(h) + slot * kv_row_bytes(kt, 1), kt, static_cast<size_t>(bs), kr, dk);
      else
        quantize_row(kv_tensor_type(kt), kr, block + L.k_offset(h) + slot * L.k_row_bytes(), dk);
      quantize_row(kv_tensor_type(vt), vr, block + L.v_offset(h) + slot * L.v_row_bytes(), dv);
    }
  }
}

}  // namespace scout::backend::cpu
