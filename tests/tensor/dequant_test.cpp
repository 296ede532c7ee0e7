// Dequantization against ggml (bit for bit, via shared/testdata/quant-vectors.gguf)
// and the fp16 / bf16 conversions at their edges.
#include "tensor/dequant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "tensor/quant.h"
#include "tensor/types.h"
#include "quant_vectors.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace scout {
namespace {

using test::float_bits;
using test::QuantVectors;

class DequantVectors : public ::testing::TestWithParam<std::string> {};

// Every row of T.q must dequantize to exactly the bits of T.ref.
TEST_P(DequantVectors, BitExactWithGgml) {
  SCOUT_REQUIRE_QUANT_VECTORS();
  const std::string& name = GetParam();
  const TensorType t = qv->q_type(name);
  ASSERT_EQ(type_from_name(name), t) << "T.q has the wrong type id";
  ASSERT_TRUE(can_dequantize(t));
  const float* ref = qv->ref(name);
  std::vector<float> out(QuantVectors::kCols);
  for (int64_t r = 0; r < QuantVectors::kRows; ++r) {
    dequantize_row(t, qv->q_row(name, r), out.data(), QuantVectors::kCols);
    const float* want = ref + r * QuantVectors::kCols;
    int mismatches = 0, first = -1;
    double max_diff = 0;
    for (int64_t i = 0; i < QuantVectors::kCols; ++i) {
      if (float_bits(out[i]) != float_bits(want[i])) {
        if (first < 0) first = static_cast<int>(i);
        ++mismatches;
        max_diff = std::max(max_diff, std::fabs(static_cast<double>(out[i]) - want[i]));
      }
    }
    EXPECT_EQ(mismatches, 0) << name << " row " << r << ": " << mismatches << " values differ, max |diff| "
                             << max_diff << ", first at " << first << " (got " << out[first] << ", want "
                             << want[first] << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantVectors, ::testing::ValuesIn(test::quant_vector_types()),
                         [](const auto& info) { return info.param; });

// A row of several blocks is the concatenation of its blocks, and the source
// may sit at any address (a tensor inside a mapped file).
TEST(Dequant, UnalignedMultiBlockRows) {
  SCOUT_REQUIRE_QUANT_VECTORS();
  for (const std::string& name : test::quant_vector_types()) {
    const TensorType t = qv->q_type(name);
    const int64_t n = QuantVectors::kCols;
    const uint64_t bytes = row_bytes(t, n);
    std::vector<uint8_t> buf(bytes + 1);
    std::memcpy(buf.data() + 1, qv->q_row(name, 2), bytes);  // odd address
    std::vector<float> whole(n), pieces(n);
    dequantize_row(t, buf.data() + 1, whole.data(), n);
    const int64_t bs = type_traits(t).block_size;
    const uint64_t bb = type_traits(t).block_bytes;
    for (int64_t b = 0; b < n / bs; ++b)
      dequantize_row(t, buf.data() + 1 + b * bb, pieces.data() + b * bs, bs);
    EXPECT_EQ(std::memcmp(whole.data(), pieces.data(), n * sizeof(float)), 0) << name;
    EXPECT_EQ(std::memcmp(whole.data(), qv->ref(name) + 2 * n, n * sizeof(float)), 0) << name;
  }
}

TEST(Dequant, SupportedTypes) {
  const std::vector<TensorType> yes = {TensorType::F32,  TensorType::F16,  TensorType::BF16,   TensorType::Q4_0,
                                       TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,   TensorType::Q8_0,
                                       TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,   TensorType::Q5_K,
                                       TensorType::Q6_K, TensorType::Q8_K, TensorType::IQ4_NL, TensorType::IQ4_XS};
  for (const TypeTraits& tt : all_type_traits()) {
    const bool expected = std::find(yes.begin(), yes.end(), tt.type) != yes.end();
    EXPECT_EQ(can_dequantize(tt.type), expected) << tt.name;
  }
}

TEST(Dequant, RejectsUnsupportedTypeAndPartialBlocks) {
  std::vector<uint8_t> src(1024);
  std::vector<float> dst(256);
  EXPECT_THROW(dequantize_row(TensorType::IQ2_XXS, src.data(), dst.data(), 256), std::invalid_argument);
  EXPECT_THROW(dequantize_row(TensorType::I32, src.data(), dst.data(), 4), std::invalid_argument);
  EXPECT_THROW(dequantize_row(TensorType::Q4_0, src.data(), dst.data(), 33), std::invalid_argument);
  EXPECT_THROW(dequantize_row(TensorType::Q4_K, src.data(), dst.data(), 128), std::invalid_argument);
  EXPECT_NO_THROW(dequantize_row(TensorType::Q4_K, src.data(), dst.data(), 0));
}

TEST(Dequant, F32IsACopy) {
  const std::vector<float> src = {1.5f, -0.0f, std::numeric_limits<float>::infinity(), 3e-42f};
  std::vector<float> dst(4);
  dequantize_row(TensorType::F32, src.data(), dst.data(), 4);
  EXPECT_EQ(std::memcmp(src.data(), dst.data(), 16), 0);
}

// ---- fp16 ---------------------------------------------------------------

TEST(DequantHalf, Fp16KnownValues) {
  EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xC000);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);  // largest finite half
  EXPECT_EQ(fp32_to_fp16(65519.99f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);  // halfway to 65536 rounds to even: inf
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // tie: to even (0)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25) * 1.0000001f), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp: tie to even (2)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(5.0f, -25)), 0x0002);  // 2.5 ulp: tie to even (2)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)), 0x0400);  // rounds up into normals
  EXPECT_EQ(fp32_to_fp16(1e-30f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);       // tie, even stays
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3C02);       // tie, odd rounds up
  EXPECT_EQ(fp32_to_fp16(2048.0f + 1.0f), 0x6800);                      // tie at 2048 (ulp 2)
  EXPECT_EQ(fp32_to_fp16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3C01);
  // NaN stays NaN, quiet, sign kept.
  const uint16_t qn = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(qn & 0x7E00, 0x7E00);
  const uint16_t sn = fp32_to_fp16(std::bit_cast<float>(0xFF800001u));  // signaling, payload in low bits
  EXPECT_EQ(sn & 0xFE00, 0xFE00);

  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x7BFF), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7C01)));
  EXPECT_EQ(float_bits(fp16_to_fp32(0x8000)), 0x80000000u);
}

// Every finite half converts to f32 and back unchanged; NaNs stay NaN.
TEST(DequantHalf, Fp16RoundTripsEveryValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) {
      ASSERT_TRUE(std::isnan(f)) << h;
      ASSERT_EQ(fp32_to_fp16(f) & 0x7C00, 0x7C00) << h;
      ASSERT_NE(fp32_to_fp16(f) & 0x3FF, 0) << h;
    } else {
      ASSERT_EQ(fp32_to_fp16(f), h) << h;
    }
  }
}

#if defined(__F16C__)
// The hardware conversion (what ggml uses on x86) agrees on a dense sweep of
// f32 bit patterns, both signs, every exponent, NaNs aside.
TEST(DequantHalf, Fp16MatchesF16C) {
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 4099) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(u));
    if (std::isnan(f)) continue;
    const uint16_t hw = static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
    ASSERT_EQ(fp32_to_fp16(f), hw) << std::hex << u;
  }
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;
    ASSERT_EQ(float_bits(fp16_to_fp32(static_cast<uint16_t>(h))), float_bits(_cvtsh_ss(static_cast<uint16_t>(h)))) << h;
  }
}
#endif

// ---- bf16 ---------------------------------------------------------------

TEST(DequantHalf, Bf16KnownValues) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(fp32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie, even stays
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F808001u)), 0x3F81);  // above the tie
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds past the largest: inf
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x00010000u)), 0x0001);  // subnormals are kept
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x00008000u)), 0x0000);  // tie to even
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7F800001u)), 0x7FC0);  // signaling NaN made quiet
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0xFFC12345u)), 0xFFC1);  // quiet NaN truncated
  EXPECT_EQ(float_bits(bf16_to_fp32(0xC0A0)), 0xC0A00000u);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = bf16_to_fp32(static_cast<uint16_t>(h));
    if (!std::isnan(f)) {
      ASSERT_EQ(fp32_to_bf16(f), h) << h;
    }
  }
}

}  // namespace
}  // namespace scout
