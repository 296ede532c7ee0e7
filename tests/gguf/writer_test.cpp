// The GGUF writer: what it writes, the reader reads back identically; and a
// real file read and rewritten comes out byte for byte the same.
#include "gguf/writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>

#include "gguf/reader.h"
#include "tensor/quant.h"
#include "test_util.h"

namespace scout::gguf {
namespace {

using scout::test::TempDir;

std::vector<std::pair<std::string, Value>> every_value_type() {
  return {
      {"t.u8", Value::u8(200)},
      {"t.i8", Value::i8(-100)},
      {"t.u16", Value::u16(60000)},
      {"t.i16", Value::i16(-30000)},
      {"t.u32", Value::u32(4000000000u)},
      {"t.i32", Value::i32(-2000000000)},
      {"t.u64", Value::u64(18000000000000000000ull)},
      {"t.i64", Value::i64(-9000000000000000000ll)},
      {"t.f32", Value::f32(3.5f)},
      {"t.f64", Value::f64(-2.25e300)},
      {"t.bool", Value::boolean(true)},
      {"t.string", Value::string("héllo\nworld")},
      {"t.empty_string", Value::string("")},
      {"t.strings", Value::string_array({"a", "", "<|eot|>", "Ġthe"})},
      {"t.i32s", Value::array(ValueType::INT32, std::vector<int32_t>{1, -2, 3})},
      {"t.f32s", Value::array(ValueType::FLOAT32, std::vector<float>{0.5f, -1.0f})},
      {"t.u8s", Value::array(ValueType::UINT8, std::vector<uint8_t>{0, 255})},
      {"t.bools", Value::array(ValueType::BOOL, std::vector<uint8_t>{1, 0, 1})},
      {"t.u64s", Value::array(ValueType::UINT64, std::vector<uint64_t>{1ull << 63})},
      {"t.f64s", Value::array(ValueType::FLOAT64, std::vector<double>{1e-300})},
      {"t.empty_array", Value::array(ValueType::INT16, std::vector<int16_t>{})},
  };
}

TEST(GgufWriter, RoundTripsEveryValueTypeAndTensorType) {
  for (uint32_t alignment : {32u, 64u, 256u}) {
    TempDir tmp;
    GgufWriter w(alignment);
    const auto values = every_value_type();
    for (const auto& [k, v] : values) w.set(k, v);
    // One tensor of every type scout can quantize, with rows of two blocks.
    std::vector<std::vector<uint8_t>> datas;
    std::vector<std::string> names;
    for (const TypeTraits& tt : all_type_traits()) {
      if (!can_quantize(tt.type)) continue;
      const int64_t n = 2 * tt.block_size * (tt.block_size == 1 ? 16 : 1);
      std::vector<float> src(static_cast<size_t>(n) * 3);
      for (size_t i = 0; i < src.size(); ++i) src[i] = std::sin(static_cast<float>(i) * 0.37f) * 2.0f;
      std::vector<uint8_t> bytes(row_bytes(tt.type, static_cast<uint64_t>(n)) * 3);
      for (int r = 0; r < 3; ++r)
        quantize_row(tt.type, src.data() + r * n, bytes.data() + r * row_bytes(tt.type, static_cast<uint64_t>(n)), n);
      names.push_back(std::string("w.") + std::string(tt.name));
      datas.push_back(bytes);
      w.add_tensor(names.back(), tt.type, {static_cast<uint64_t>(n), 3}, datas.back());
    }
    ASSERT_GE(names.size(), 15u);
    w.write(tmp.path("rt.gguf"));

    GgufFile f = GgufFile::open(tmp.path("rt.gguf"));
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), alignment);
    // Metadata: the alignment key (when not the default) and then ours, in order.
    const size_t skip = alignment == kDefaultAlignment ? 0 : 1;
    ASSERT_EQ(f.metadata().size(), values.size() + skip);
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(f.metadata()[i + skip].first, values[i].first);
      EXPECT_EQ(f.metadata()[i + skip].second, values[i].second) << values[i].first;
    }
    ASSERT_EQ(f.tensors().size(), names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      const TensorInfo* t = f.find_tensor(names[i]);
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(t->offset % alignment, 0u);
      ASSERT_EQ(t->nbytes, datas[i].size());
      EXPECT_EQ(std::memcmp(t->data, datas[i].data(), datas[i].size()), 0) << names[i];
    }
  }
}

TEST(GgufWriter, RewritingARealFileGivesTheSameBytes) {
  if (!scout::test::have_shared()) GTEST_SKIP() << "needs ../shared";
  for (const char* name : {"llama4-tiny-q4_k_m.gguf", "llama4-tiny-f16.gguf"}) {
    const std::string path = scout::test::shared_dir() + "/testdata/llama4-tiny/" + name;
    GgufFile src = GgufFile::open(path);
    GgufWriter w(src.alignment(), src.version());
    for (const auto& [k, v] : src.metadata())
      if (k != "general.alignment") w.set(k, v);
    for (const TensorInfo& t : src.tensors())
      w.add_tensor(t.name, t.type, std::vector<uint64_t>(t.ne.begin(), t.ne.begin() + t.n_dims), {t.data, t.nbytes});
    TempDir tmp;
    w.write(tmp.path("copy.gguf"));
    const auto a = scout::test::read_file(path);
    const auto b = scout::test::read_file(tmp.path("copy.gguf"));
    // Identical up to the end of the last tensor; llama.cpp also pads after it.
    ASSERT_LE(b.size(), a.size());
    EXPECT_LT(a.size() - b.size(), src.alignment());
    EXPECT_TRUE(std::equal(b.begin(), b.end(), a.begin())) << name;
  }
}

TEST(GgufWriter, HolesMakeSparseFiles) {
  TempDir tmp;
  GgufWriter w;
  w.set("general.architecture", Value::string("llama4"));
  w.add_tensor("big", TensorType::Q4_K, {8192, 8192, 64}, GgufWriter::Fill{});
  w.write(tmp.path("sparse.gguf"));
  struct stat st {};
  ASSERT_EQ(stat(tmp.path("sparse.gguf").c_str(), &st), 0);
  EXPECT_GT(static_cast<uint64_t>(st.st_size), 2ull << 30);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 1ull << 20);
  GgufFile f = GgufFile::open(tmp.path("sparse.gguf"));
  EXPECT_EQ(f.tensors()[0].nbytes, 8192ull * 8192 * 64 / 256 * 144);
}

TEST(GgufWriter, RejectsInvalidTensors) {
  GgufWriter w;
  const std::vector<uint8_t> none;
  EXPECT_THROW(w.add_tensor("a", TensorType::Q4_K, {100, 2}, GgufWriter::Fill{}), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("b", TensorType::F32, {0, 2}, GgufWriter::Fill{}), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("c", TensorType::F32, {1, 1, 1, 1, 1}, GgufWriter::Fill{}), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("d", TensorType::F32, {4}, none), std::invalid_argument);
  w.add_tensor("e", TensorType::F32, {4}, GgufWriter::Fill{});
  EXPECT_THROW(w.add_tensor("e", TensorType::F32, {4}, GgufWriter::Fill{}), std::invalid_argument);
  EXPECT_THROW(GgufWriter(48), std::invalid_argument);
  EXPECT_THROW(w.set("general.alignment", Value::u32(64)), std::invalid_argument);
  EXPECT_THROW(w.write("/nonexistent-dir/x.gguf"), std::runtime_error);
}

TEST(GgufValue, DisplayAndConversions) {
  EXPECT_EQ(Value::array(ValueType::BOOL, std::vector<uint8_t>{1, 0}).to_display(), "[true, false]");
  EXPECT_EQ(Value::u64(18000000000000000000ull).to_display(), "18000000000000000000");
  EXPECT_EQ(Value::string_array({"a", "b"}).to_display(), "[\"a\", \"b\"]");
  EXPECT_EQ(Value::string_array(std::vector<std::string>(100, "x")).to_display(), "[100 string]");
  EXPECT_EQ(Value::i8(-5).as_int(), -5);
  EXPECT_THROW(Value::i8(-5).as_uint(), std::logic_error);
  EXPECT_THROW(Value::u64(1ull << 63).as_int(), std::logic_error);
  EXPECT_EQ(Value::u64(1ull << 63).as_uint(), 1ull << 63);
  EXPECT_DOUBLE_EQ(Value::u16(7).as_float(), 7.0);
  EXPECT_THROW(Value::string("x").as_float(), std::logic_error);
  EXPECT_THROW(Value::f32(1).as_string(), std::logic_error);
  const Value a = Value::array(ValueType::INT16, std::vector<int16_t>{-3, 4});
  EXPECT_EQ(a.array_size(), 2u);
  EXPECT_EQ(a.int_at(0), -3);
  EXPECT_THROW(a.int_at(2), std::out_of_range);
}

}  // namespace
}  // namespace scout::gguf
