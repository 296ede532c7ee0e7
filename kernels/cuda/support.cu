// Error checking and the type list the kernels share.
#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_kernels.h"
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

}  // namespace scout::cuda
