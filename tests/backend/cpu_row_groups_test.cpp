// Row groups in the CPU matrix products (backend.h, rounds_groups_alone): a
// call whose rows come from several sequences picks each sequence's kernel
// (16-token panels or row kernels) by that sequence's own row count, so every
// row comes out with the bits of a call over its group alone. On a CPU
// without panel kernels (no AVX-512 VNNI) every row takes the row kernels and
// the comparison holds trivially; on one with them it is the real check.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "backend/cpu/cpu_matmul.h"
#include "tensor/quant.h"

namespace scout::backend::cpu {
namespace {

TEST(CpuRowGroups, RunsMergeNeighbouringGroupsOfOneKernel) {
  const std::vector<int64_t> groups = {20, 5, 3, 0, 16, 40, 1};
  const std::vector<RowRun> runs = row_runs(groups, 16);
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].first, 0);   // 20: panels
  EXPECT_EQ(runs[0].n, 20);
  EXPECT_TRUE(runs[0].panels);
  EXPECT_EQ(runs[1].first, 20);  // 5 + 3 (the empty group skipped): rows
  EXPECT_EQ(runs[1].n, 8);
  EXPECT_FALSE(runs[1].panels);
  EXPECT_EQ(runs[2].first, 28);  // 16 + 40: panels
  EXPECT_EQ(runs[2].n, 56);
  EXPECT_TRUE(runs[2].panels);
  EXPECT_EQ(runs[3].first, 84);  // 1: rows
  EXPECT_EQ(runs[3].n, 1);
  EXPECT_FALSE(runs[3].panels);
  EXPECT_TRUE(row_runs({}, 16).empty());
}

// A quantized weight matrix of n_out rows of n_in values, with its bytes.
struct QuantWeight {
  std::vector<uint8_t> bytes;
  Weight w;
};
QuantWeight quant_weight(TensorType t, int64_t n_out, int64_t n_in, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 0.05f);
  QuantWeight q;
  const size_t rb = row_bytes(t, static_cast<uint64_t>(n_in));
  q.bytes.resize(rb * static_cast<size_t>(n_out));
  std::vector<float> row(static_cast<size_t>(n_in));
  for (int64_t r = 0; r < n_out; ++r) {
    for (float& v : row) v = dist(rng);
    quantize_row(t, row.data(), q.bytes.data() + r * rb, n_in);
  }
  q.w.type = t;
  q.w.n_in = n_in;
  q.w.n_out = n_out;
  q.w.row_bytes = rb;
  q.w.data = q.w.host = q.bytes.data();
  return q;
}

TEST(CpuRowGroups, EachGroupGetsTheBitsOfACallOfItsOwn) {
  // Groups below, at and above the 16-row panel threshold, side by side.
  const std::vector<int64_t> groups = {20, 3, 17, 1, 1, 30, 15, 16};
  int64_t n_rows = 0;
  for (int64_t g : groups) n_rows += g;
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K}) {
    std::mt19937 rng(static_cast<uint32_t>(t) + 11);
    const int64_t n_in = 512, n_out = 40;
    const QuantWeight q = quant_weight(t, n_out, n_in, rng);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n_rows * n_in));
    for (float& v : x) v = dist(rng);

    for (int threads : {1, 2}) {
      CpuMatmul mm;
      mm.set_options(threads, /*quantize_activations=*/true);
      std::vector<float> together(static_cast<size_t>(n_rows * n_out));
      mm.run(q.w, x.data(), together.data(), n_rows, groups);
      int64_t row = 0;
      for (int64_t g : groups) {
        std::vector<float> alone(static_cast<size_t>(g * n_out));
        mm.run(q.w, x.data() + row * n_in, alone.data(), g);
        for (int64_t i = 0; i < g * n_out; ++i)
          ASSERT_EQ(together[static_cast<size_t>(row * n_out + i)], alone[static_cast<size_t>(i)])
              << type_name(t) << ", group at row " << row << " of " << g << " rows, " << threads << " threads";
        row += g;
      }
    }
  }
}

TEST(CpuRowGroups, GroupsThatDoNotAddUpAreRefused) {
  std::mt19937 rng(5);
  const QuantWeight q = quant_weight(TensorType::Q8_0, 4, 64, rng);
  CpuMatmul mm;
  std::vector<float> x(10 * 64, 0.5f), y(10 * 4);
  const std::vector<int64_t> groups = {20, 3};  // 23 rows for a call of 10
  EXPECT_THROW(mm.run(q.w, x.data(), y.data(), 10, groups), std::logic_error);
}

}  // namespace
}  // namespace scout::backend::cpu
