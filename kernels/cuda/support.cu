// Error checking, the type list the kernels share, one-time kernel setup.
#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/internal.cuh"
#include "kernels/cuda/type_dispatch.cuh"

namespace scout::cuda {

void cuda_check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorName(err) + " (" +
                           cudaGetErrorString(err) + ")");
}

bool supports_type(TensorType t) {
  // The lambda captures so that it has no conversion to a function pointer,
  // which nvcc warns about (#445) for a template lambda.
  int found = 0;
  return try_dispatch_type(t, [&found]<TensorType T>() { ++found; });
}

bool has_q8_gemv(TensorType t) {
  switch (t) {
    case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q5_0: case TensorType::Q5_1:
    case TensorType::Q8_0: case TensorType::IQ4_NL: case TensorType::Q2_K: case TensorType::Q3_K:
    case TensorType::Q4_K: case TensorType::Q5_K: case TensorType::Q6_K: case TensorType::IQ4_XS:
      return true;
    default:
      return false;
  }
}

void init_kernels() {
  init_attention_kernels();
  init_gemm_kernels();
  init_topk_kernels();
}

}  // namespace scout::cuda
