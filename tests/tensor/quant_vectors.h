// Access to shared/testdata/quant-vectors.gguf for the dequant and quant tests:
// `source` (f32, 8 rows of 512) and, per type T, `T.q` (ggml's reference
// quantization of source) and `T.ref` (ggml's dequantization of T.q).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/reader.h"
#include "tensor/types.h"
#include "test_util.h"

namespace scout::test {

// Every type the file holds, in file order.
inline const std::vector<std::string>& quant_vector_types() {
  static const std::vector<std::string> names = {"f16",  "bf16", "q4_0", "q4_1", "q5_0", "q5_1",   "q8_0",
                                                 "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs"};
  return names;
}

class QuantVectors {
 public:
  static constexpr int64_t kCols = 512;
  static constexpr int64_t kRows = 8;

  // The file opened once per process; nullptr (after ADD_FAILURE) if unreadable.
  static const QuantVectors* get() {
    static QuantVectors* v = [] {
      try {
        return new QuantVectors(gguf::GgufFile::open(shared_dir() + "/testdata/quant-vectors.gguf"));
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        return static_cast<QuantVectors*>(nullptr);
      }
    }();
    return v;
  }

  const gguf::TensorInfo& tensor(const std::string& name) const {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) throw std::runtime_error("quant-vectors.gguf has no tensor " + name);
    if (t->ne[0] != kCols || t->n_rows() != kRows) throw std::runtime_error(name + ": unexpected shape");
    return *t;
  }
  const float* source() const { return f32(tensor("source")); }
  const float* ref(const std::string& type) const { return f32(tensor(type + ".ref")); }
  // Row r of T.q.
  const uint8_t* q_row(const std::string& type, int64_t r) const {
    const gguf::TensorInfo& t = tensor(type + ".q");
    return t.data + r * static_cast<int64_t>(row_bytes(t.type, kCols));
  }
  TensorType q_type(const std::string& type) const { return tensor(type + ".q").type; }

 private:
  explicit QuantVectors(gguf::GgufFile f) : file_(std::move(f)) {}
  static const float* f32(const gguf::TensorInfo& t) {
    if (t.type != TensorType::F32) throw std::runtime_error(t.name + " is not f32");
    return reinterpret_cast<const float*>(t.data);
  }
  gguf::GgufFile file_;
};

#define SCOUT_REQUIRE_QUANT_VECTORS()                                              \
  if (!::scout::test::have_shared()) GTEST_SKIP() << "no shared/ reference data"; \
  const ::scout::test::QuantVectors* qv = ::scout::test::QuantVectors::get();      \
  ASSERT_NE(qv, nullptr)

inline double rmse(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
  return n ? std::sqrt(s / static_cast<double>(n)) : 0.0;
}

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

}  // namespace scout::test
