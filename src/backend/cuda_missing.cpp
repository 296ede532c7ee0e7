// Builds without CUDA (no nvcc, or -DSCOUT_CUDA=OFF): no GPU is ever visible.
#include <stdexcept>

#include "backend/device.h"

namespace scout::backend {

int cuda_device_count(std::string* why) {
  if (why) *why = "this scout was built without CUDA (configure with nvcc on the PATH, or -DSCOUT_CUDA=ON)";
  return 0;
}

GpuMemory cuda_memory(int) { return {}; }

std::unique_ptr<Backend> make_cuda_backend(const ComputeOptions&, int) {
  std::string why;
  cuda_device_count(&why);
  throw std::runtime_error(why);
}

}  // namespace scout::backend
