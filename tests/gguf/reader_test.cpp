// GGUF reader: files that must load, and what they load as.
#include "gguf/reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "gguf/raw_gguf.h"
#include "test_util.h"

namespace scout::gguf {
namespace {

using ::testing::HasSubstr;
using namespace scout::gguf::raw;

// ---------------------------------------------------------------------------
// Positive cases

TEST(GgufReader, SmallValidFileParses) {
  for (uint32_t version : {2u, 3u}) {
    const std::vector<uint8_t> bytes = small_valid_file(version);
    GgufFile f = GgufFile::parse(bytes, "mem");
    EXPECT_EQ(f.version(), version);
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.metadata().size(), 5u);
    EXPECT_EQ(f.architecture(), "llama");
    EXPECT_EQ(f.get_uint("llama.block_count"), 2u);
    EXPECT_EQ(f.get_float("llama.rope.freq_base"), 10000.0);
    ASSERT_EQ(f.tensors().size(), 2u);
    const TensorInfo* b = f.find_tensor("b");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->type, TensorType::Q8_0);
    EXPECT_EQ(b->nbytes, 34u);
    EXPECT_EQ(b->shape_string(), "[32]");
    EXPECT_EQ(f.find_tensor("a")->shape_string(), "[4, 2]");
    EXPECT_EQ(f.find_tensor("a")->n_elements(), 8u);
    EXPECT_EQ(f.find_tensor("a")->n_rows(), 2u);
    EXPECT_EQ(f.find_tensor("c"), nullptr);
    EXPECT_EQ(f.data_offset() + 32 + 34, bytes.size());
    EXPECT_EQ(b->data, bytes.data() + f.data_offset() + 32);
  }
}

TEST(GgufReader, EveryValueTypeAndArraysV2AndV3) {
  for (uint32_t version : {2u, 3u}) {
    RawGguf g;
    g.header(0, 24, version);
    g.key("u8", VT::UINT8).put(uint8_t{200});
    g.key("i8", VT::INT8).put(int8_t{-5});
    g.key("u16", VT::UINT16).put(uint16_t{60000});
    g.key("i16", VT::INT16).put(int16_t{-30000});
    g.key("u32", VT::UINT32).put(uint32_t{4000000000u});
    g.key("i32", VT::INT32).put(int32_t{-2000000000});
    g.key("u64", VT::UINT64).put(uint64_t{18000000000000000000ull});
    g.key("i64", VT::INT64).put(int64_t{-9000000000000000000ll});
    g.key("f32", VT::FLOAT32).put(1.5f);
    g.key("f64", VT::FLOAT64).put(-2.25);
    g.key("bool", VT::BOOL).put(uint8_t{1});
    g.kv_str("str", "hello");
    g.arr("a_u8", VT::UINT8, 3).put(uint8_t{1}).put(uint8_t{2}).put(uint8_t{3});
    g.arr("a_i8", VT::INT8, 1).put(int8_t{-1});
    g.arr("a_u16", VT::UINT16, 1).put(uint16_t{7});
    g.arr("a_i16", VT::INT16, 1).put(int16_t{-7});
    g.arr("a_u32", VT::UINT32, 2).u32(10).u32(20);
    g.arr("a_i32", VT::INT32, 2).put(int32_t{-10}).put(int32_t{20});
    g.arr("a_u64", VT::UINT64, 1).u64(1ull << 40);
    g.arr("a_i64", VT::INT64, 1).put(int64_t{-(1ll << 40)});
    g.arr("a_f32", VT::FLOAT32, 2).put(0.25f).put(-0.5f);
    g.arr("a_f64", VT::FLOAT64, 1).put(3.5);
    g.arr("a_bool", VT::BOOL, 2).put(uint8_t{0}).put(uint8_t{1});
    g.arr("a_str", VT::STRING, 3).str("x").str("").str("yz");
    GgufFile f = GgufFile::parse(g.b, "mem");
    EXPECT_EQ(f.version(), version);
    ASSERT_EQ(f.metadata().size(), 24u);
    EXPECT_EQ(f.metadata()[0].first, "u8");  // file order kept
    EXPECT_EQ(f.get_uint("u8"), 200u);
    EXPECT_EQ(f.find("i8")->as_int(), -5);
    EXPECT_EQ(f.get_uint("u16"), 60000u);
    EXPECT_EQ(f.find("i16")->as_int(), -30000);
    EXPECT_EQ(f.get_uint("u32"), 4000000000u);
    EXPECT_EQ(f.find("i32")->as_int(), -2000000000);
    EXPECT_EQ(f.get_uint("u64"), 18000000000000000000ull);
    EXPECT_EQ(f.find("i64")->as_int(), -9000000000000000000ll);
    EXPECT_EQ(f.get_float("f32"), 1.5);
    EXPECT_EQ(f.get_float("f64"), -2.25);
    EXPECT_EQ(f.get_bool("bool"), true);
    EXPECT_EQ(f.get_string("str"), "hello");
    EXPECT_EQ(f.find("a_u8")->array_size(), 3u);
    EXPECT_EQ(f.find("a_u8")->int_at(2), 3);
    EXPECT_EQ(f.find("a_i8")->int_at(0), -1);
    EXPECT_EQ(f.find("a_u16")->int_at(0), 7);
    EXPECT_EQ(f.find("a_i16")->int_at(0), -7);
    EXPECT_EQ(f.find("a_u32")->int_at(1), 20);
    EXPECT_EQ(f.find("a_i32")->int_at(0), -10);
    EXPECT_EQ(f.find("a_u64")->int_at(0), 1ll << 40);
    EXPECT_EQ(f.find("a_i64")->int_at(0), -(1ll << 40));
    EXPECT_EQ(f.find("a_f32")->float_at(1), -0.5);
    EXPECT_EQ(f.find("a_f64")->float_at(0), 3.5);
    EXPECT_EQ(f.find("a_bool")->array_type(), VT::BOOL);
    EXPECT_EQ(f.find("a_bool")->array_size(), 2u);
    EXPECT_EQ(f.find("a_str")->strings(), (std::vector<std::string>{"x", "", "yz"}));
    EXPECT_EQ(f.find("missing"), nullptr);
    EXPECT_EQ(f.get_uint("missing"), std::nullopt);
    EXPECT_TRUE(f.tensors().empty());
  }
}

TEST(GgufReader, EmptyArraysAndInvalidUtf8AreAccepted) {
  RawGguf g;
  g.header(0, 3);
  g.arr("empty_u32", VT::UINT32, 0);
  g.arr("empty_str", VT::STRING, 0);
  g.kv_str("bytes", std::string("\xff\xfe\xc3(", 4));  // not UTF-8: allowed
  GgufFile f = GgufFile::parse(g.b, "mem");
  EXPECT_EQ(f.find("empty_u32")->array_size(), 0u);
  EXPECT_EQ(f.find("empty_str")->array_size(), 0u);
  EXPECT_EQ(f.get_string("bytes"), std::string("\xff\xfe\xc3(", 4));
}

TEST(GgufReader, Alignment64AndDataPointers) {
  RawGguf g;
  g.header(2, 1);
  g.kv_u32("general.alignment", 64);
  g.tensor("t0", {8}, kF32, 0);      // 32 bytes
  g.tensor("t1", {256}, kQ4_K, 64);  // 144 bytes
  g.pad(64);
  const size_t data_start = g.b.size();
  g.data(32, 1).data(32).data(144, 7);
  test::TempDir tmp;
  test::write_file(tmp.path("a.gguf"), g.b);
  GgufFile f = GgufFile::open(tmp.path("a.gguf"));
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset(), data_start);
  EXPECT_EQ(data_start % 64, 0u);
  const TensorInfo* t1 = f.find_tensor("t1");
  ASSERT_NE(t1, nullptr);
  EXPECT_EQ(t1->nbytes, 144u);
  EXPECT_EQ(0, std::memcmp(t1->data, g.b.data() + data_start + 64, 144));
  EXPECT_EQ(f.find_tensor("t0")->data[0], 1);
  EXPECT_EQ(t1->data[0], 7);
}

TEST(GgufReader, FileWithoutTensorsMayEndBeforePadding) {
  RawGguf g;
  g.header(0, 1).kv_str("general.architecture", "llama");
  GgufFile f = GgufFile::parse(g.b, "mem");
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_GE(f.data_offset(), g.b.size());
}

TEST(GgufReader, MoveKeepsLookupsWorking) {
  test::TempDir tmp;
  test::write_file(tmp.path("s.gguf"), small_valid_file());
  GgufFile a = GgufFile::open(tmp.path("s.gguf"));
  GgufFile b = std::move(a);
  EXPECT_EQ(b.find_tensor("b")->nbytes, 34u);
  EXPECT_EQ(b.get_string("general.architecture"), "llama");
  GgufFile c = GgufFile::parse(small_valid_file(2), "other");  // bytes die, but c is reassigned below
  c = std::move(b);
  EXPECT_EQ(c.path(), tmp.path("s.gguf"));
  EXPECT_EQ(c.find_tensor("a")->data[0], 0);
  EXPECT_EQ(c.get_uint("llama.block_count"), 2u);
}

TEST(GgufReader, HugeSparseFileOpensWithoutReadingData) {
  // One F32 tensor of 65536 x 781250 elements: 204.8 GB, in a sparse file.
  RawGguf g;
  g.header(1, 1).kv_str("general.architecture", "llama");
  g.tensor("huge", {65536, 781250}, kF32, 0).pad(32);
  const uint64_t nbytes = 65536ull * 781250ull * 4;
  test::TempDir tmp;
  const std::string path = tmp.path("huge.gguf");
  test::write_file(path, g.b);
  std::error_code ec;
  std::filesystem::resize_file(path, g.b.size() + nbytes, ec);
  if (ec) GTEST_SKIP() << "cannot create a sparse 200 GB file here: " << ec.message();
  GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.file_size(), g.b.size() + nbytes);
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].nbytes, nbytes);
  EXPECT_EQ(f.tensors()[0].data[nbytes - 1], 0);  // a hole reads as zero
}

// ---------------------------------------------------------------------------
// Real files made by other implementations

TEST(GgufReader, RealLlama4Tiny) {
  if (!test::have_shared()) GTEST_SKIP() << "../shared not present";
  GgufFile f = GgufFile::open(test::shared_dir() + "/testdata/llama4-tiny/llama4-tiny-q4_k_m.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.architecture(), "llama4");
  EXPECT_EQ(f.metadata().size(), 28u);
  EXPECT_EQ(f.tensors().size(), 55u);
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->strings().size(), 6144u);
  EXPECT_EQ(f.get_uint("llama4.block_count"), 4u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.bos_token_id"), 4096u);
  EXPECT_EQ(f.get_bool("tokenizer.ggml.add_bos_token"), true);
  EXPECT_NEAR(*f.get_float("llama4.rope.freq_base"), 500000.0, 1e-9);
  const TensorInfo* emb = f.find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, TensorType::Q4_K);
  EXPECT_EQ(emb->shape_string(), "[256, 6144]");
  EXPECT_EQ(emb->nbytes, 6144u * 144);
  // Every tensor's pointer lies in the mapping at data_offset + offset.
  for (const TensorInfo& t : f.tensors()) {
    EXPECT_EQ(f.find_tensor(t.name), &t);
    EXPECT_LE(f.data_offset() + t.offset + t.nbytes, f.file_size());
  }
}

TEST(GgufReader, RealStories260K) {
  if (!test::have_shared()) GTEST_SKIP() << "../shared not present";
  GgufFile f = GgufFile::open(test::shared_dir() + "/models/stories260K/stories260K.gguf");
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.get_uint("llama.embedding_length"), 64u);
  EXPECT_EQ(f.find("tokenizer.ggml.scores")->array_size(), 512u);
  EXPECT_EQ(f.find_tensor("token_embd.weight")->shape_string(), "[64, 512]");
}

TEST(GgufReader, RealQuantVectors) {
  if (!test::have_shared()) GTEST_SKIP() << "../shared not present";
  const std::string path = test::shared_dir() + "/testdata/quant-vectors.gguf";
  GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.tensors().size(), 29u);
  const TensorInfo* src = f.find_tensor("source");
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->shape_string(), "[512, 8]");
  EXPECT_EQ(src->nbytes, 512u * 8 * 4);
  EXPECT_EQ(f.find_tensor("iq4_xs.q")->type, TensorType::IQ4_XS);
  EXPECT_EQ(f.find_tensor("bf16.q")->type, TensorType::BF16);
  // The mapped bytes equal the file's bytes at the same place.
  const std::vector<uint8_t> bytes = test::read_file(path);
  EXPECT_EQ(0, std::memcmp(src->data, bytes.data() + f.data_offset() + src->offset, src->nbytes));
  EXPECT_THAT(error_of([&] { f.architecture(); }), HasSubstr("missing key general.architecture"));
}

TEST(GgufReader, RealVocabFileWithoutTensors) {
  if (!test::have_shared()) GTEST_SKIP() << "../shared not present";
  GgufFile f = GgufFile::open(test::shared_dir() + "/testdata/vocab/ggml-vocab-llama-spm.gguf");
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->array_size(), 32000u);
}

// ---------------------------------------------------------------------------
// Typed getters

TEST(GgufReader, GettersReportTypeMismatch) {
  RawGguf g;
  g.header(0, 4).kv_str("s", "x").kv_u32("n", 3).key("neg", VT::INT32).put(int32_t{-1});
  g.key("b", VT::BOOL).put(uint8_t{0});
  GgufFile f = GgufFile::parse(g.b, "mem");
  EXPECT_EQ(error_of([&] { f.get_uint("s"); }), "mem: key s has type string, expected an unsigned integer");
  EXPECT_EQ(error_of([&] { f.get_string("n"); }), "mem: key n has type uint32, expected a string");
  EXPECT_EQ(error_of([&] { f.get_bool("n"); }), "mem: key n has type uint32, expected a bool");
  EXPECT_EQ(error_of([&] { f.get_float("s"); }), "mem: key s has type string, expected a number");
  EXPECT_EQ(error_of([&] { f.get_uint("neg"); }), "mem: key neg has value -1, expected an unsigned integer");
  EXPECT_EQ(f.get_bool("b"), false);
  EXPECT_EQ(f.get_float("n"), 3.0);
}

}  // namespace
}  // namespace scout::gguf
