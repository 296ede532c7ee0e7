// kernels/cuda/block_decode.cuh compiled as host C++: every BlockDecoder must
// match the scalar reference dequantizer bit for bit, from blocks at odd
// addresses, so the GPU kernels built on it need no GPU to be checked.
#include "kernels/cuda/block_decode.cuh"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tensor/dequant.h"
#include "tensor/quant.h"
#include "tensor/types.h"

namespace scout::cuda {
namespace {

constexpr int64_t kRowElems = 1024;  // a multiple of every block size (32 and 256)

// Rows that exercise the formats: plain normals, per-32 magnitudes from 1e-6 to
// 1e3 (fp16 scales go subnormal at the small end), all zeros, one big outlier,
// all positive (the min of Q4_1/Q5_1/K-quants), all negative.
std::vector<std::vector<float>> test_rows() {
  std::mt19937 rng(20240611);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  std::vector<std::vector<float>> rows;
  auto row = [&](auto&& gen) {
    std::vector<float> r(kRowElems);
    for (int64_t i = 0; i < kRowElems; ++i) r[static_cast<size_t>(i)] = gen(i);
    rows.push_back(std::move(r));
  };
  row([&](int64_t) { return normal(rng); });
  row([&](int64_t i) { return normal(rng) * std::pow(10.0f, static_cast<float>((i / 32) % 10) - 6.0f); });
  row([&](int64_t) { return 0.0f; });
  row([&](int64_t i) { return i == 300 ? 1000.0f : normal(rng); });
  row([&](int64_t) { return 0.5f + 3.0f * uni(rng); });
  row([&](int64_t) { return -0.01f - uni(rng); });
  return rows;
}

// Element size of the plain types; 0 for block formats.
int plain_elem_bytes(TensorType t) {
  switch (t) {
    case TensorType::F32: return 4;
    case TensorType::F16: case TensorType::BF16: return 2;
    default: return 0;
  }
}

template <TensorType T>
void check_type() {
  using D = BlockDecoder<T>;
  const TypeTraits& tt = type_traits(T);
  static_assert(D::kGroups * 32 == D::kElems);
  if (const int eb = plain_elem_bytes(T)) {
    EXPECT_EQ(D::kElems, 32);
    EXPECT_EQ(D::kBytes, 32 * eb);
  } else {
    EXPECT_EQ(static_cast<uint32_t>(D::kElems), tt.block_size);
    EXPECT_EQ(static_cast<uint32_t>(D::kBytes), tt.block_bytes);
  }
  ASSERT_TRUE(can_quantize(T));
  ASSERT_TRUE(can_dequantize(T));

  const uint64_t bytes = row_bytes(T, kRowElems);
  ASSERT_EQ(bytes, static_cast<uint64_t>(kRowElems / D::kElems * D::kBytes));
  const int64_t nb = kRowElems / D::kElems;
  const std::vector<std::vector<float>> rows = test_rows();
  for (size_t r = 0; r < rows.size(); ++r) {
    // The row sits at an odd offset: every load must work unaligned.
    std::vector<uint8_t> buf(bytes + 8, 0xA5);
    uint8_t* q = buf.data() + 3;
    if (T == TensorType::F32)
      std::memcpy(q, rows[r].data(), bytes);
    else
      quantize_row(T, rows[r].data(), q, kRowElems);

    std::vector<float> ref(kRowElems);
    dequantize_row(T, q, ref.data(), kRowElems);

    int mismatches = 0;
    for (int64_t b = 0; b < nb; ++b) {
      for (int g = 0; g < D::kGroups; ++g) {
        float out[32];
        D::group(q + b * D::kBytes, g, out);
        for (int j = 0; j < 32; ++j) {
          const int64_t i = b * D::kElems + 32 * g + j;
          const uint32_t want = std::bit_cast<uint32_t>(ref[static_cast<size_t>(i)]);
          const uint32_t got = std::bit_cast<uint32_t>(out[j]);
          if (want != got && mismatches++ < 5)
            ADD_FAILURE() << type_name(T) << " row " << r << " block " << b << " group " << g << " elem " << j
                          << ": got " << out[j] << " (0x" << std::hex << got << "), want "
                          << ref[static_cast<size_t>(i)] << " (0x" << want << std::dec << ")";
        }
      }
    }
    EXPECT_EQ(mismatches, 0) << type_name(T) << " row " << r;
  }
}

#define SCOUT_DECODE_TEST(T) \
  TEST(CudaBlockDecode, T) { check_type<TensorType::T>(); }

SCOUT_DECODE_TEST(F32)
SCOUT_DECODE_TEST(F16)
SCOUT_DECODE_TEST(BF16)
SCOUT_DECODE_TEST(Q4_0)
SCOUT_DECODE_TEST(Q4_1)
SCOUT_DECODE_TEST(Q5_0)
SCOUT_DECODE_TEST(Q5_1)
SCOUT_DECODE_TEST(Q8_0)
SCOUT_DECODE_TEST(Q2_K)
SCOUT_DECODE_TEST(Q3_K)
SCOUT_DECODE_TEST(Q4_K)
SCOUT_DECODE_TEST(Q5_K)
SCOUT_DECODE_TEST(Q6_K)
SCOUT_DECODE_TEST(IQ4_NL)
SCOUT_DECODE_TEST(IQ4_XS)

#undef SCOUT_DECODE_TEST

TEST(CudaBlockDecode, Fp16AllBitPatterns) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float got = fp16_to_f32(static_cast<uint16_t>(h)), want = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << h;
    } else {
      EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << std::hex << h;
    }
  }
}

TEST(CudaBlockDecode, Bf16AllBitPatterns) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float got = bf16_to_f32(static_cast<uint16_t>(h)), want = bf16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << h;
    } else {
      EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << std::hex << h;
    }
  }
}

// Every IQ4 level decodes to its table value (the packed words are built right).
TEST(CudaBlockDecode, Iq4Levels) {
  constexpr int kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  for (uint32_t q = 0; q < 16; ++q) EXPECT_EQ(iq4_value(q), static_cast<float>(kLevels[q])) << q;
}

}  // namespace
}  // namespace scout::cuda
