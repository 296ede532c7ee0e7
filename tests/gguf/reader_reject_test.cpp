// GGUF reader: every validation rule, each with a file that breaks it and the
// exact complaint it must get.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "gguf/raw_gguf.h"
#include "gguf/reader.h"
#include "test_util.h"

namespace scout::gguf {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace scout::gguf::raw;

// ---------------------------------------------------------------------------
// Files that must be rejected

TEST(GgufReaderRejects, MissingEmptyAndDirectory) {
  test::TempDir tmp;
  EXPECT_THAT(error_of([&] { GgufFile::open(tmp.path("nope.gguf")); }),
              HasSubstr(tmp.path("nope.gguf") + ": cannot open: No such file"));
  test::write_file(tmp.path("empty.gguf"), {});
  EXPECT_EQ(error_of([&] { GgufFile::open(tmp.path("empty.gguf")); }),
            tmp.path("empty.gguf") + ": file is empty (0 bytes), not a GGUF file");
  EXPECT_EQ(error_of([&] { GgufFile::open(tmp.dir()); }), tmp.dir() + ": is a directory, not a GGUF file");
  EXPECT_EQ(error_of([] { GgufFile::parse({}, "mem"); }),
            "mem: truncated file: reading the magic at offset 0 needs 4 bytes, only 0 left");
}

TEST(GgufReaderRejects, BadMagic) {
  std::vector<uint8_t> b = small_valid_file();
  b[0] = 'X';
  expect_error(b, "bad magic 58 47 55 46: not a GGUF file");
}

TEST(GgufReaderRejects, UnsupportedVersions) {
  for (uint32_t v : {0u, 1u, 4u}) {
    RawGguf g;
    g.header(0, 0, v);
    expect_error(g.b, "unsupported GGUF version " + std::to_string(v) + " (scout reads versions 2 and 3)");
  }
}

TEST(GgufReaderRejects, TruncatedHeader) {
  std::vector<uint8_t> b = small_valid_file();
  b.resize(12);
  expect_error(b, "truncated file: reading the tensor count at offset 8 needs 8 bytes, only 4 left");
}

TEST(GgufReaderRejects, TruncatedInsideMetadataAndTensorInfo) {
  RawGguf g;
  g.header(0, 1).key("k", VT::UINT64).u32(7);  // value needs 8 bytes, 4 there
  expect_error(g.b, "truncated file: reading the value of key k at offset");
  RawGguf t;
  t.header(1, 0).tensor("weight_with_long_name", {8, 8}, kF32, 0);
  t.b.resize(t.b.size() - 3);
  expect_error(t.b,
               "truncated file: reading the data offset of tensor weight_with_long_name at offset 77 needs 8 "
               "bytes, only 5 left");
}

TEST(GgufReaderRejects, TruncationAtEveryByteOffsetFails) {
  const std::vector<uint8_t> full = small_valid_file();
  for (size_t n = 0; n < full.size(); ++n) {
    // An exact-size copy, so a sanitizer catches any read past the end.
    const std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    try {
      GgufFile::parse(prefix, "mem");
      ADD_FAILURE() << "a " << n << "-byte prefix parsed";
    } catch (const GgufError& e) {
      EXPECT_THAT(e.what(), StartsWith("mem: ")) << n;
    }
  }
  // A few of them through open(), which maps exactly the file's size.
  test::TempDir tmp;
  for (size_t n : {size_t{1}, size_t{23}, size_t{40}, full.size() / 2, full.size() - 1}) {
    test::write_file(tmp.path("t"), std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
    EXPECT_THAT(error_of([&] { GgufFile::open(tmp.path("t")); }), StartsWith(tmp.path("t") + ": ")) << n;
  }
}

TEST(GgufReaderRejects, StringLengthPastEndOfFile) {
  RawGguf g;
  g.header(0, 1).u64(1000).b.resize(g.b.size() + 20);
  expect_error(g.b,
               "string length 1000 of the key of metadata entry 0 at offset 24 runs past the end of the file "
               "(20 bytes left)");
  RawGguf v;
  v.header(0, 1).key("general.name", VT::STRING).u64(~0ull);
  expect_error(v.b, "string length 18446744073709551615 of the value of key general.name");
}

TEST(GgufReaderRejects, ArrayLengthPastEndOfFile) {
  RawGguf g;
  g.header(0, 1).arr("nums", VT::UINT32, 1000000).u32(1).u32(2);
  expect_error(g.b, "array key nums claims 1000000 elements of type uint32 (4 bytes each), but only 8 bytes are left");
  RawGguf s;
  s.header(0, 1).arr("tokenizer.ggml.tokens", VT::STRING, 1ull << 62).str("a");
  expect_error(s.b, "array key tokenizer.ggml.tokens claims 4611686018427387904 strings, but only 9 bytes are left");
  RawGguf e;
  e.header(0, 1).arr("strs", VT::STRING, 2).str("a").u64(50).data(3);
  expect_error(e.b, "string length 50 of string 1 of array key strs");
}

// Lengths that fit in a huge file but no real header: clean errors, no giant
// allocation. Sparse files, so no disk space is used.
TEST(GgufReaderRejects, SizeLimitsInHugeFiles) {
  test::TempDir tmp;
  auto open_sparse = [&](const RawGguf& g, uint64_t size) {
    const std::string path = tmp.path("big.gguf");
    test::write_file(path, g.b);
    std::filesystem::resize_file(path, size);
    return error_of([&] { GgufFile::open(path); });
  };
  RawGguf s;
  s.header(0, 1).key("tokenizer.chat_template", VT::STRING).u64(3ull << 30);
  EXPECT_THAT(open_sparse(s, 4ull << 30),
              HasSubstr("string length 3221225472 of the value of key tokenizer.chat_template at offset 59 exceeds the "
                        "limit of 1073741824 bytes"));
  RawGguf a;
  a.header(0, 1).arr("big", VT::UINT8, (1ull << 27) + 1);
  EXPECT_THAT(open_sparse(a, 1ull << 28), HasSubstr("array key big has 134217729 elements, more than the limit of "
                                                    "134217728"));
  RawGguf t;
  t.header(0, 1).arr("tokenizer.ggml.tokens", VT::STRING, 1ull << 28);
  EXPECT_THAT(open_sparse(t, 4ull << 30), HasSubstr("array key tokenizer.ggml.tokens has 268435456 elements"));
}

TEST(GgufReaderRejects, AbsurdCounts) {
  RawGguf g;
  g.header(0, 1ull << 60).kv_u32("a", 1);
  expect_error(g.b,
               "metadata count 1152921504606846976 is impossible: each entry needs at least 13 bytes and only "
               "17 bytes follow the header");
  RawGguf t;
  t.header(1ull << 40, 0).tensor("w", {8}, kF32, 0);
  expect_error(t.b,
               "tensor count 1099511627776 is impossible: each tensor info needs at least 32 bytes and only 33 "
               "bytes follow the header");
  // Plausible against the whole file, impossible once the metadata is read.
  RawGguf m;
  m.header(2, 1).kv_str("general.name", std::string(60, 'x')).tensor("w", {8}, kF32, 0);
  expect_error(m.b,
               "tensor count 2 is impossible: each tensor info needs at least 32 bytes and only 33 bytes follow "
               "the metadata");
}

// Names come from the file: errors show them on one line and bounded in size.
TEST(GgufReaderRejects, NamesInMessagesAreEscapedAndCut) {
  RawGguf g;
  g.header(0, 1).str("bad\nkey\x1b[31m").u32(13);
  expect_error(g.b, "key bad\\x0akey\\x1b[31m has unknown value type 13");
  RawGguf e;
  e.header(0, 1).str("").u32(13).u32(0);
  expect_error(e.b, "key \"\" has unknown value type 13");
  RawGguf l;
  l.header(0, 1).str(std::string(5000, 'k')).u32(13);
  expect_error(l.b, "key " + std::string(120, 'k') + "... (5000 bytes) has unknown value type 13");
}

TEST(GgufReaderRejects, DuplicateKey) {
  RawGguf g;
  g.header(0, 3).kv_u32("a", 1).kv_u32("b", 2).kv_str("a", "x");
  expect_error(g.b, "duplicate metadata key a (entries 0 and 2)");
}

TEST(GgufReaderRejects, DuplicateTensorName) {
  RawGguf g;
  g.header(2, 0).tensor("w", {8}, kF32, 0).tensor("w", {8}, kF32, 32).pad(32).data(64);
  expect_error(g.b, "duplicate tensor name w (tensor infos 0 and 1)");
}

TEST(GgufReaderRejects, UnknownValueType) {
  RawGguf g;
  g.header(0, 1).str("k").u32(13).u32(0);
  expect_error(g.b, "key k has unknown value type 13");
}

TEST(GgufReaderRejects, UnknownArrayElementType) {
  RawGguf g;
  g.header(0, 1).key("k", VT::ARRAY).u32(99).u64(0);
  expect_error(g.b, "array key k has unknown element type 99");
}

TEST(GgufReaderRejects, NestedArrayRejected) {
  RawGguf g;
  g.header(0, 1).arr("nest", VT::ARRAY, 1).u32(static_cast<uint32_t>(VT::UINT8)).u64(1).data(1);
  expect_error(g.b, "array key nest is an array of arrays; nested arrays are not supported");
}

TEST(GgufReaderRejects, UnknownTensorType) {
  RawGguf g;
  g.header(1, 0).tensor("w", {8}, 4, 0).pad(32).data(32);  // id 4 (Q4_2) was retired
  expect_error(g.b, "tensor w has unknown type id 4");
  RawGguf h;
  h.header(1, 0).tensor("w", {8}, 0xffffffffu, 0).pad(32).data(32);
  expect_error(h.b, "tensor w has unknown type id 4294967295");
}

TEST(GgufReaderRejects, BadDimensionCounts) {
  RawGguf z;
  z.header(1, 0).str("w").u32(0).u32(kF32).u64(0).pad(32).data(32);
  expect_error(z.b, "tensor w has 0 dimensions, must be 1 to 4");
  RawGguf f;
  f.header(1, 0).tensor("w", {1, 1, 1, 1, 8}, kF32, 0).pad(32).data(32);
  expect_error(f.b, "tensor w has 5 dimensions, must be 1 to 4");
}

TEST(GgufReaderRejects, ZeroDimension) {
  RawGguf g;
  g.header(1, 0).tensor("w", {8, 0, 2}, kF32, 0).pad(32).data(32);
  expect_error(g.b, "tensor w has a zero dimension: ne[1] = 0");
}

TEST(GgufReaderRejects, ElementCountOverflow) {
  RawGguf g;
  g.header(1, 0).tensor("w", {1ull << 32, 1ull << 32}, kF32, 0).pad(32).data(32);
  expect_error(g.b, "tensor w element count overflows int64 (shape [4294967296, 4294967296])");
  RawGguf h;  // fits u64 but not int64
  h.header(1, 0).tensor("w", {1ull << 63}, 24, 0).pad(32).data(32);
  expect_error(h.b, "tensor w element count overflows int64");
}

TEST(GgufReaderRejects, RowLengthNotMultipleOfBlockSize) {
  RawGguf g;
  g.header(1, 0).tensor("blk.0.ffn_down.weight", {100, 4}, kQ4_K, 0).pad(32).data(32);
  expect_error(g.b, "tensor blk.0.ffn_down.weight row length ne[0] = 100 is not a multiple of the q4_K block size 256");
}

TEST(GgufReaderRejects, TensorByteSizeOverflow) {
  RawGguf g;  // 2^62 F32 elements: a valid count, but 2^64 bytes
  g.header(1, 0).tensor("w", {1ull << 31, 1ull << 31}, kF32, 0).pad(32).data(32);
  expect_error(g.b, "tensor w byte size overflows (4611686018427387904 elements of type f32)");
}

TEST(GgufReaderRejects, OffsetNotAligned) {
  RawGguf g;
  g.header(1, 0).tensor("w", {8}, kF32, 16).pad(32).data(64);
  expect_error(g.b, "tensor w data offset 16 is not a multiple of the alignment 32");
}

TEST(GgufReaderRejects, TensorDataOutOfBounds) {
  RawGguf g;
  g.header(1, 0).tensor("w", {16}, kF32, 0).pad(32).data(63);  // needs 64
  expect_error(g.b,
               "tensor w data (64 bytes at offset 0 of the data section, which starts at file offset 64) runs "
               "past the end of the file (127 bytes)");
  RawGguf h;  // an offset so large that offset + size would wrap
  h.header(1, 0).tensor("w", {8}, kF32, ~0ull - 31).pad(32).data(32);
  expect_error(h.b, "tensor w data (32 bytes at offset 18446744073709551584");
}

TEST(GgufReaderRejects, OverlappingTensors) {
  RawGguf g;  // listed out of order, so the check must sort by offset
  g.header(3, 0).tensor("c", {8}, kF32, 96).tensor("a", {16}, kF32, 0).tensor("b", {8}, kF32, 32);
  g.pad(32).data(128);
  expect_error(g.b, "tensors a (data bytes 0 to 64) and b (data bytes 32 to 64) overlap");
}

TEST(GgufReaderRejects, WrongTypeForKnownKeys) {
  struct Case {
    std::function<void(RawGguf&)> kv;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](RawGguf& g) { g.key("general.alignment", VT::UINT64).u64(32); },
       "key general.alignment has type uint64, expected uint32"},
      {[](RawGguf& g) { g.kv_u32("general.name", 3); }, "key general.name has type uint32, expected a string"},
      {[](RawGguf& g) { g.kv_str("general.file_type", "q4"); },
       "key general.file_type has type string, expected an integer"},
      {[](RawGguf& g) { g.arr("tokenizer.ggml.tokens", VT::INT32, 0); },
       "key tokenizer.ggml.tokens has type array of int32, expected an array of strings"},
      {[](RawGguf& g) { g.arr("tokenizer.ggml.token_type", VT::FLOAT32, 0); },
       "key tokenizer.ggml.token_type has type array of float32, expected an array of integers"},
      {[](RawGguf& g) { g.arr("tokenizer.ggml.scores", VT::STRING, 0); },
       "key tokenizer.ggml.scores has type array of string, expected an array of numbers"},
      {[](RawGguf& g) { g.kv_u32("tokenizer.ggml.add_bos_token", 1); },
       "key tokenizer.ggml.add_bos_token has type uint32, expected bool"},
      {[](RawGguf& g) { g.key("tokenizer.ggml.bos_token_id", VT::FLOAT32).put(1.0f); },
       "key tokenizer.ggml.bos_token_id has type float32, expected an integer"},
      {[](RawGguf& g) { g.kv_str("llama.block_count", "4"); },
       "key llama.block_count has type string, expected an integer"},
      {[](RawGguf& g) { g.kv_u32("llama.rope.freq_base", 10000); },
       "key llama.rope.freq_base has type uint32, expected float32 or float64"},
      {[](RawGguf& g) { g.arr("llama.context_length", VT::UINT32, 0); },
       "key llama.context_length has type array of uint32, expected an integer"},
      {[](RawGguf& g) { g.arr("llama.attention.head_count", VT::FLOAT32, 0); },
       "key llama.attention.head_count has type array of float32, expected an integer or an array of integers"},
  };
  for (const Case& c : cases) {
    RawGguf g;
    g.header(0, 2).kv_str("general.architecture", "llama");
    c.kv(g);
    expect_error(g.b, c.message);
  }
  RawGguf arch;
  arch.header(0, 1).kv_u32("general.architecture", 1);
  expect_error(arch.b, "key general.architecture has type uint32, expected a string");
  // The per-architecture table follows the file's own architecture, in any order.
  RawGguf late;
  late.header(0, 2).kv_str("llama4.block_count", "x").kv_str("general.architecture", "llama4");
  expect_error(late.b, "key llama4.block_count has type string, expected an integer");
  RawGguf other;  // another architecture's keys are not checked
  other.header(0, 2).kv_str("llama4.block_count", "x").kv_str("general.architecture", "llama");
  EXPECT_NO_THROW(GgufFile::parse(other.b, "mem"));
}

TEST(GgufReaderRejects, KnownKeysAcceptTheirAlternatives) {
  RawGguf g;
  g.header(0, 7).kv_str("general.architecture", "llama");
  g.arr("llama.attention.head_count", VT::INT32, 2).put(int32_t{8}).put(int32_t{8});
  g.arr("llama.attention.head_count_kv", VT::UINT32, 1).u32(2);
  g.key("llama.feed_forward_length", VT::UINT64).u64(172);
  g.key("llama.attention.layer_norm_rms_epsilon", VT::FLOAT64).put(1e-5);
  g.key("tokenizer.ggml.eos_token_id", VT::INT16).put(int16_t{2});
  g.arr("tokenizer.ggml.scores", VT::INT32, 1).put(int32_t{0});
  EXPECT_NO_THROW(GgufFile::parse(g.b, "mem"));
}

TEST(GgufReaderRejects, BadAlignmentValues) {
  for (uint32_t al : {0u, 48u, 3u}) {
    RawGguf g;
    g.header(0, 1).kv_u32("general.alignment", al);
    expect_error(g.b, "general.alignment is " + std::to_string(al) + ", must be a non-zero power of two");
  }
}

}  // namespace
}  // namespace scout::gguf
