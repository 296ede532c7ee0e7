// The ggml type table: ids, names and block geometry.
#include "tensor/types.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

namespace scout {
namespace {

TEST(Types, EveryIdRoundTrips) {
  std::set<uint32_t> ids;
  std::set<std::string> names;
  for (const TypeTraits& tt : all_type_traits()) {
    const uint32_t id = static_cast<uint32_t>(tt.type);
    EXPECT_TRUE(ids.insert(id).second) << "duplicate id " << id;
    EXPECT_TRUE(names.insert(std::string(tt.name)).second) << "duplicate name " << tt.name;
    const TypeTraits* found = find_type_traits(id);
    ASSERT_NE(found, nullptr) << tt.name;
    EXPECT_EQ(found, &tt);
    EXPECT_EQ(&type_traits(tt.type), &tt);
    EXPECT_EQ(type_name(tt.type), tt.name);
    EXPECT_EQ(type_from_name(tt.name), tt.type) << tt.name;
    EXPECT_GT(tt.block_size, 0u) << tt.name;
    EXPECT_GT(tt.block_bytes, 0u) << tt.name;
    EXPECT_EQ(tt.quantized, tt.block_size > 1) << tt.name;  // every block format is quantized
  }
  EXPECT_EQ(all_type_traits().size(), 32u);
}

TEST(Types, KnownGeometry) {
  struct Want {
    TensorType t;
    const char* name;
    uint32_t block_size, block_bytes;
  };
  const Want want[] = {
      {TensorType::F32, "f32", 1, 4},          {TensorType::F16, "f16", 1, 2},
      {TensorType::BF16, "bf16", 1, 2},        {TensorType::Q4_0, "q4_0", 32, 18},
      {TensorType::Q4_1, "q4_1", 32, 20},      {TensorType::Q5_0, "q5_0", 32, 22},
      {TensorType::Q5_1, "q5_1", 32, 24},      {TensorType::Q8_0, "q8_0", 32, 34},
      {TensorType::Q2_K, "q2_K", 256, 84},     {TensorType::Q3_K, "q3_K", 256, 110},
      {TensorType::Q4_K, "q4_K", 256, 144},    {TensorType::Q5_K, "q5_K", 256, 176},
      {TensorType::Q6_K, "q6_K", 256, 210},    {TensorType::Q8_K, "q8_K", 256, 292},
      {TensorType::IQ4_NL, "iq4_nl", 32, 18},  {TensorType::IQ4_XS, "iq4_xs", 256, 136},
      {TensorType::MXFP4, "mxfp4", 32, 17},    {TensorType::I64, "i64", 1, 8},
  };
  for (const Want& w : want) {
    const TypeTraits& tt = type_traits(w.t);
    EXPECT_EQ(tt.name, w.name);
    EXPECT_EQ(tt.block_size, w.block_size) << w.name;
    EXPECT_EQ(tt.block_bytes, w.block_bytes) << w.name;
  }
  // Ids as stored in GGUF files.
  EXPECT_EQ(static_cast<uint32_t>(TensorType::Q4_K), 12u);
  EXPECT_EQ(static_cast<uint32_t>(TensorType::BF16), 30u);
  EXPECT_EQ(static_cast<uint32_t>(TensorType::IQ4_XS), 23u);
}

TEST(Types, RowBytes) {
  EXPECT_EQ(row_bytes(TensorType::F32, 512), 2048u);
  EXPECT_EQ(row_bytes(TensorType::Q4_0, 32 * 7), 7u * 18);
  EXPECT_EQ(row_bytes(TensorType::Q4_K, 256 * 3), 3u * 144);
  EXPECT_EQ(row_bytes(TensorType::Q6_K, 4096), 16u * 210);
}

TEST(Types, UnknownIdsAndNames) {
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 1000u, 0xFFFFFFFFu})
    EXPECT_EQ(find_type_traits(id), nullptr) << id;
  EXPECT_THROW(type_traits(static_cast<TensorType>(4)), std::logic_error);
  EXPECT_FALSE(type_from_name("q4_2").has_value());
  EXPECT_FALSE(type_from_name("").has_value());
  EXPECT_FALSE(type_from_name("q4_k_m").has_value());  // a file type, not a tensor type
}

TEST(Types, NamesAreCaseInsensitive) {
  EXPECT_EQ(type_from_name("Q4_K"), TensorType::Q4_K);
  EXPECT_EQ(type_from_name("q4_k"), TensorType::Q4_K);
  EXPECT_EQ(type_from_name("BF16"), TensorType::BF16);
  EXPECT_EQ(type_from_name("IQ4_xs"), TensorType::IQ4_XS);
}

}  // namespace
}  // namespace scout
