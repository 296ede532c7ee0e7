// Test helpers for the GGUF reader: RawGguf assembles files byte by byte, so
// each test controls exactly which byte is wrong (no dependency on the writer).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/reader.h"
#include "test_util.h"

namespace scout::gguf::raw {

using VT = ValueType;

// Appends little-endian GGUF fields to a byte vector.
struct RawGguf {
  std::vector<uint8_t> b;

  template <typename T>
  RawGguf& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof v);
    return *this;
  }
  RawGguf& u32(uint32_t v) { return put(v); }
  RawGguf& u64(uint64_t v) { return put(v); }
  RawGguf& str(std::string_view s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  RawGguf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return u32(kMagic).u32(version).u64(n_tensors).u64(n_kv);
  }
  RawGguf& key(std::string_view k, VT t) { return str(k).u32(static_cast<uint32_t>(t)); }
  RawGguf& kv_u32(std::string_view k, uint32_t v) { return key(k, VT::UINT32).u32(v); }
  RawGguf& kv_str(std::string_view k, std::string_view v) { return key(k, VT::STRING).str(v); }
  // Array header: key, ARRAY, element type, count; the elements follow.
  RawGguf& arr(std::string_view k, VT elem, uint64_t n) {
    return key(k, VT::ARRAY).u32(static_cast<uint32_t>(elem)).u64(n);
  }
  RawGguf& tensor(std::string_view name, std::initializer_list<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) u64(d);
    return u32(type).u64(offset);
  }
  RawGguf& pad(size_t alignment) {
    while (b.size() % alignment) b.push_back(0);
    return *this;
  }
  RawGguf& data(size_t n, uint8_t first = 0) {
    for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(first + i));
    return *this;
  }
};

constexpr uint32_t kF32 = 0, kQ8_0 = 8, kQ4_K = 12;

// A small valid file: a few kvs of different kinds and two tensors, ending
// exactly at the end of the last tensor's data (so every prefix is invalid).
inline std::vector<uint8_t> small_valid_file(uint32_t version = 3) {
  RawGguf g;
  g.header(2, 5, version);
  g.kv_str("general.architecture", "llama");
  g.kv_u32("llama.block_count", 2);
  g.key("llama.rope.freq_base", VT::FLOAT32).put(10000.0f);
  g.arr("tokenizer.ggml.tokens", VT::STRING, 2).str("a").str("bc");
  g.arr("tokenizer.ggml.scores", VT::FLOAT32, 2).put(0.5f).put(-1.0f);
  g.tensor("a", {4, 2}, kF32, 0);
  g.tensor("b", {32}, kQ8_0, 32);
  g.pad(32).data(32 + 34);
  return g.b;
}

// Writes `bytes` to a file, opens it, and checks that it fails with
// "PATH: ...needle...". parse() over the same bytes must fail the same way.
inline void expect_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  test::TempDir tmp;
  const std::string path = tmp.path("bad.gguf");
  test::write_file(path, bytes);
  std::string open_msg, parse_msg;
  try {
    GgufFile::open(path);
    ADD_FAILURE() << "open() accepted a file that should fail with: " << needle;
  } catch (const GgufError& e) {
    open_msg = e.what();
  }
  EXPECT_THAT(open_msg, ::testing::StartsWith(path + ": "));
  EXPECT_THAT(open_msg, ::testing::HasSubstr(needle));
  try {
    GgufFile::parse(bytes, "mem");
    ADD_FAILURE() << "parse() accepted bytes that should fail with: " << needle;
  } catch (const GgufError& e) {
    parse_msg = e.what();
  }
  EXPECT_EQ(parse_msg, "mem" + open_msg.substr(path.size()));
}

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const GgufError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace scout::gguf::raw
