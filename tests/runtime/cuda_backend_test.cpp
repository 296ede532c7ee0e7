// The CUDA backend against the CPU backend, op by op and over whole forward
// passes, on every weight type the GPU decodes. These need a GPU and skip
// themselves, saying why, when none is visible (CI has none); the device
// selection tests run everywhere.
//
// Tolerances: the f32 GEMV kernel and the CPU's exact path differ only in
// summation order, so a dot product of n terms agrees within a few ulp of
// sum |w x|; TF32 rounds both operands to 10-bit mantissas (relative 2^-11
// each), so there the bound is 2e-3 of sum |w x|.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "models/model.h"
#include "runtime/device.h"
#include "runtime/kv_cache.h"
#include "runtime/session.h"
#include "tensor/dequant.h"
#include "tensor/quant.h"
#include "test_util.h"

namespace scout::runtime {
namespace {

bool have_gpu(std::string* why) { return cuda_device_count(why) > 0; }

#define SKIP_WITHOUT_GPU()                      \
  do {                                          \
    std::string why_;                           \
    if (!have_gpu(&why_)) GTEST_SKIP() << why_; \
  } while (0)

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// A weight matrix of random values stored as `type`, kept alive with its view.
struct TestWeight {
  std::vector<uint8_t> bytes;
  WeightView view;
};

TestWeight make_weight(TensorType type, int64_t n_out, int64_t n_in, uint32_t seed) {
  TestWeight w;
  const std::vector<float> values = random_floats(static_cast<size_t>(n_out * n_in), seed, 0.5f);
  const size_t rb = row_bytes(type, static_cast<uint64_t>(n_in));
  w.bytes.resize(rb * n_out);
  for (int64_t r = 0; r < n_out; ++r) {
    if (type == TensorType::F32)
      std::memcpy(w.bytes.data() + r * rb, values.data() + r * n_in, rb);
    else
      quantize_row(type, values.data() + r * n_in, w.bytes.data() + r * rb, n_in);
  }
  w.view.name = "test";
  w.view.type = type;
  w.view.n_in = n_in;
  w.view.n_out = n_out;
  w.view.row_bytes = rb;
  w.view.data = w.bytes.data();
  return w;
}

// max over outputs of |a - b| / sum_i |w_oi x_ti|: the error relative to the
// dot product's own magnitude.
double matmul_rel_err(const WeightView& w, const std::vector<float>& x, const std::vector<float>& a,
                      const std::vector<float>& b, int64_t n_rows) {
  std::vector<float> row(static_cast<size_t>(w.n_in));
  double worst = 0;
  for (int64_t o = 0; o < w.n_out; ++o) {
    dequantize_row(w.type, w.row(o), row.data(), w.n_in);
    for (int64_t t = 0; t < n_rows; ++t) {
      double mag = 0;
      for (int64_t i = 0; i < w.n_in; ++i) mag += std::abs(static_cast<double>(row[i]) * x[t * w.n_in + i]);
      const size_t k = static_cast<size_t>(t * w.n_out + o);
      worst = std::max(worst, std::abs(static_cast<double>(a[k]) - b[k]) / std::max(mag, 1e-30));
    }
  }
  return worst;
}

const std::vector<TensorType> kGpuTypes = {
    TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
    TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K, TensorType::Q3_K,
    TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS};

class CudaMatmul : public ::testing::TestWithParam<TensorType> {};

// Every type, row counts on both sides of the GEMV/GEMM switch and on tile
// edges, output counts that are not multiples of a tile or a warp group.
TEST_P(CudaMatmul, MatchesCpuExact) {
  SKIP_WITHOUT_GPU();
  const TensorType type = GetParam();
  const int64_t block = type_traits(type).block_size;
  for (const int64_t n_in : {std::max<int64_t>(block, 32) * 1, std::max<int64_t>(block, 32) * 3, int64_t{1024}}) {
    for (const int64_t n_out : {1, 37, 130}) {
      const TestWeight w = make_weight(type, n_out, n_in, 11);
      auto gpu = make_cuda_backend(1, true), gpu_exact = make_cuda_backend(1, false), cpu = make_cpu_backend(1, false);
      for (const int64_t n_rows : {1, 3, 8, 9, 64, 67}) {
        const std::vector<float> x = random_floats(static_cast<size_t>(n_rows * n_in), 5);
        std::vector<float> want(static_cast<size_t>(n_rows * n_out)), got(want.size()), got_exact(want.size());
        cpu->matmul(w.view, x.data(), want.data(), n_rows);
        gpu->matmul(w.view, x.data(), got.data(), n_rows);
        gpu_exact->matmul(w.view, x.data(), got_exact.data(), n_rows);
        const bool tf32 = n_rows > 8;
        EXPECT_LT(matmul_rel_err(w.view, x, got, want, n_rows), tf32 ? 2e-3 : 1e-5)
            << type_name(type) << " " << n_out << "x" << n_in << " rows " << n_rows;
        EXPECT_LT(matmul_rel_err(w.view, x, got_exact, want, n_rows), 1e-5)
            << "exact " << type_name(type) << " " << n_out << "x" << n_in << " rows " << n_rows;
      }
    }
  }
}

TEST_P(CudaMatmul, GetRowsIsTheDequantizedRow) {
  SKIP_WITHOUT_GPU();
  const TensorType type = GetParam();
  const TestWeight w = make_weight(type, 50, std::max<int64_t>(type_traits(type).block_size, 32) * 2, 3);
  const std::vector<int32_t> ids = {0, 49, 7, 7, 23};
  auto gpu = make_cuda_backend(1, true), cpu = make_cpu_backend(1, true);
  std::vector<float> want(ids.size() * w.view.n_in), got(want.size());
  cpu->get_rows(w.view, ids.data(), static_cast<int64_t>(ids.size()), want.data());
  gpu->get_rows(w.view, ids.data(), static_cast<int64_t>(ids.size()), got.data());
  EXPECT_EQ(got, want) << type_name(type);  // decoding is exact on both sides
}

INSTANTIATE_TEST_SUITE_P(Types, CudaMatmul, ::testing::ValuesIn(kGpuTypes),
                         [](const ::testing::TestParamInfo<TensorType>& i) { return std::string(type_name(i.param)); });

TEST(CudaOps, ElementwiseMatchCpu) {
  SKIP_WITHOUT_GPU();
  auto gpu = make_cuda_backend(1, true), cpu = make_cpu_backend(1, true);
  const int64_t rows = 5, n = 200;  // n not a multiple of a block of threads
  const std::vector<float> x = random_floats(rows * n, 1), up = random_floats(rows * n, 2);
  const std::vector<float> norm_w = random_floats(n, 3);
  auto close = [](const std::vector<float>& a, const std::vector<float>& b, double tol) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])) / (1 + std::abs(b[i])));
    return m < tol;
  };
  for (const float* wt : {norm_w.data(), static_cast<const float*>(nullptr)}) {
    std::vector<float> a(x.size()), b(x.size());
    cpu->rmsnorm(x.data(), wt, a.data(), rows, n, 1e-5f);
    gpu->rmsnorm(x.data(), wt, b.data(), rows, n, 1e-5f);
    EXPECT_TRUE(close(b, a, 1e-5)) << "rmsnorm";
  }
  {
    const int heads = 4, hd = 50, rope_dim = 32;  // part of each head left alone
    std::vector<float> cs(rows * rope_dim);
    for (int64_t t = 0; t < rows; ++t)
      for (int i = 0; i < rope_dim / 2; ++i) {
        cs[(t * rope_dim / 2 + i) * 2] = std::cos(0.3f * t * (i + 1));
        cs[(t * rope_dim / 2 + i) * 2 + 1] = std::sin(0.3f * t * (i + 1));
      }
    std::vector<float> a(x.begin(), x.begin() + rows * heads * hd), b = a;
    cpu->rope(a.data(), rows, heads, hd, rope_dim, cs.data());
    gpu->rope(b.data(), rows, heads, hd, rope_dim, cs.data());
    EXPECT_TRUE(close(b, a, 1e-6)) << "rope";
  }
  {
    const std::vector<float> f = {0.5f, 2.0f, -1.0f, 3.0f, 0.0f};
    std::vector<float> a = x, b = x;
    cpu->scale_rows(a.data(), f.data(), rows, n);
    gpu->scale_rows(b.data(), f.data(), rows, n);
    EXPECT_EQ(b, a) << "scale_rows";
    cpu->add(a.data(), up.data(), rows * n);
    gpu->add(b.data(), up.data(), rows * n);
    EXPECT_EQ(b, a) << "add";
  }
  {
    std::vector<float> a(x.size()), b(x.size());
    cpu->swiglu(x.data(), up.data(), a.data(), rows * n);
    gpu->swiglu(x.data(), up.data(), b.data(), rows * n);
    EXPECT_TRUE(close(b, a, 1e-5)) << "swiglu";
    a = x, b = x;
    cpu->softmax(a.data(), rows, n);
    gpu->softmax(b.data(), rows, n);
    EXPECT_TRUE(close(b, a, 1e-5)) << "softmax";
  }
}

// Attention over a paged cache of small blocks: several blocks, a query batch
// in the middle of the sequence, GQA, chunked and global, f16 and f32.
TEST(CudaOps, AttentionMatchesCpu) {
  SKIP_WITHOUT_GPU();
  auto gpu = make_cuda_backend(1, true), cpu = make_cpu_backend(1, true);
  for (const KvType type : {KvType::F16, KvType::F32})
    for (const uint32_t chunk : {0u, 24u}) {
      KvCacheConfig c;
      c.n_layer = 1;
      c.n_head_kv = 2;
      c.head_dim_k = c.head_dim_v = 80;
      c.layer_chunk = {chunk};
      c.type = type;
      c.block_size = 16;
      KvCache kv(c);
      AttentionParams p;
      p.n_head = 10;
      p.n_head_kv = 2;
      p.head_dim_k = p.head_dim_v = 80;
      p.scale = 1.0f / std::sqrt(80.0f);
      p.chunk_size = chunk;
      // Positions 0..69 in batches that stop at chunk boundaries; attention on the last one.
      int64_t pos0 = 0;
      for (const int64_t n : {24, 24, 22}) {
        kv.append(0, n);
        const std::vector<float> k = random_floats(n * 2 * 80, 10 + pos0), v = random_floats(n * 2 * 80, 20 + pos0);
        kv.store(0, 0, pos0, n, k.data(), v.data());
        if (pos0 + n == 70) {
          const std::vector<float> q = random_floats(n * 10 * 80, 30);
          std::vector<int32_t> pos(n);
          for (int64_t t = 0; t < n; ++t) pos[t] = static_cast<int32_t>(pos0 + t);
          std::vector<float> a(n * 10 * 80), b(a.size());
          cpu->attention(q.data(), pos.data(), n, kv.view(0, 0), p, a.data());
          gpu->attention(q.data(), pos.data(), n, kv.view(0, 0), p, b.data());
          double m = 0;
          for (size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])));
          EXPECT_LT(m, 1e-5) << (type == KvType::F16 ? "f16" : "f32") << " chunk " << chunk;
        }
        pos0 += n;
      }
    }
}

// Whole forward passes on maker-written models: CUDA logits against the CPU's
// exact path, per weight type.
TEST(CudaForward, LogitsMatchCpuOnEveryWeightType) {
  SKIP_WITHOUT_GPU();
  for (const char* wt : {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_K", "q5_K", "q6_K", "q2_K", "iq4_xs"}) {
    test::TempDir dir;
    const std::string path = dir.path("m.gguf");
    const nlohmann::json cfg = {{"arch", "llama4"}, {"n_layer", 4}, {"d_model", 256}, {"n_head", 4}, {"n_head_kv", 2},
                                {"head_dim", 64}, {"n_expert", 4}, {"n_expert_used", 1}, {"expert_ff", 256},
                                {"dense_ff", 512}, {"chunk_size", 32}, {"context_length", 4096}, {"weight_type", wt},
                                {"vocab", {{"builtin", true}}}};
    maker::make_model(maker::parse_model_config(cfg), 3, path);
    const auto model = Model::load(path);
    const std::vector<int32_t> tokens = test::random_tokens(80, model->hparams().n_vocab, 9);
    SessionOptions cpu_o, gpu_o;
    cpu_o.quantize_activations = false;
    gpu_o.quantize_activations = false;
    gpu_o.device = Device::Cuda;
    Session cpu(*model, cpu_o), gpu(*model, gpu_o);
    const std::vector<float> a = cpu.eval(tokens, true), b = gpu.eval(tokens, true);
    ASSERT_EQ(a.size(), b.size());
    double m = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])));
      scale = std::max(scale, static_cast<double>(std::abs(a[i])));
    }
    // Summation order only (f32 everywhere, f16 KV on both sides): 1e-4 of the logit range.
    EXPECT_LT(m, 1e-4 * std::max(1.0, scale)) << wt;
  }
}

// Device selection, on any machine.
TEST(DeviceSelection, NamesAndResolution) {
  EXPECT_EQ(parse_device("cpu"), Device::Cpu);
  EXPECT_EQ(parse_device("cuda"), Device::Cuda);
  EXPECT_EQ(parse_device("auto"), Device::Auto);
  EXPECT_FALSE(parse_device("gpu").has_value());
  EXPECT_EQ(resolve_device(Device::Cpu), Device::Cpu);
  std::string why;
  const bool gpu = cuda_device_count(&why) > 0;
  // auto stays on the CPU until the CUDA backend is verified on a GPU (device.cpp).
  EXPECT_EQ(resolve_device(Device::Auto), Device::Cpu);
  EXPECT_EQ(make_backend(Device::Auto, 1, true)->name(), "cpu");
  if (gpu) {
    EXPECT_EQ(make_backend(Device::Cuda, 1, true)->name(), "cuda");
  } else {
    EXPECT_FALSE(why.empty());
    try {
      resolve_device(Device::Cuda);
      ADD_FAILURE() << "--device cuda without a GPU must throw";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("--device cuda"), std::string::npos) << e.what();
    }
  }
}

TEST(DeviceSelection, CommandLine) {
  const test::CommandResult bad = test::run_scout({"run", "-p", "hi", "-n", "2", "--device", "gpu"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--device"), std::string::npos) << bad.err;
  const test::CommandResult cpu = test::run_scout({"run", "-p", "hi", "-n", "2", "--device", "cpu"});
  EXPECT_EQ(cpu.exit_code, 0) << cpu.err;
  const test::CommandResult cuda = test::run_scout({"run", "-p", "hi", "-n", "2", "--device", "cuda"});
  if (cuda_device_count() > 0) {
    EXPECT_EQ(cuda.exit_code, 0) << cuda.err;
    EXPECT_FALSE(cuda.out.empty());
  } else {
    EXPECT_NE(cuda.exit_code, 0);
    EXPECT_NE(cuda.err.find("--device cuda"), std::string::npos) << cuda.err;
  }
}

}  // namespace
}  // namespace scout::runtime
