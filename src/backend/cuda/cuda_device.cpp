// What the rest of scout asks about GPUs (backend/device.h): how many there
// are, their memory, and the backend on one.
#include <cuda_runtime_api.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "backend/cuda/cuda_backend.h"
#include "backend/device.h"

namespace scout::backend {

int cuda_device_count(std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    if (why) {
      // The runtime's words for "no driver at all" are about versions; say it plainly.
      *why = err == cudaErrorInsufficientDriver
                 ? "no usable CUDA device: no NVIDIA driver is loaded, or it is older than this build's CUDA runtime"
             : err == cudaErrorNoDevice ? "no CUDA device is visible"
                                        : std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    }
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device is visible";
  return n;
}

GpuMemory cuda_memory(int device) {
  if (device < 0 || device >= cuda_device_count()) return {};
  GpuMemory m;
  cudaDeviceProp prop{};
  int current = 0;
  cudaGetDevice(&current);  // put back after: a backend may be using it
  const bool ok = cudaGetDeviceProperties(&prop, device) == cudaSuccess && cudaSetDevice(device) == cudaSuccess &&
                  cudaMemGetInfo(&m.free, &m.total) == cudaSuccess;
  cudaSetDevice(current);
  if (!ok) {
    cudaGetLastError();
    return {};
  }
  m.name = prop.name;
  return m;
}

std::unique_ptr<Backend> make_cuda_backend(const ComputeOptions& o, int device) {
  std::string why;
  const int n = cuda_device_count(&why);
  if (n == 0) throw std::runtime_error(why);
  if (device < 0 || device >= n)
    throw std::runtime_error("CUDA device " + std::to_string(device) + " of " + std::to_string(n));
  return std::make_unique<cuda::CudaBackend>(o, device);
}

}  // namespace scout::backend
