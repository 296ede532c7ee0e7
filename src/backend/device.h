// Which backend computes: the CPU, or an NVIDIA GPU through CUDA. `auto` is
// the command line's default; it will take the GPU when one is visible once
// the CUDA backend has been verified on one (device.cpp kAutoPicksCuda).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "backend/backend.h"

namespace scout::backend {

enum class Device { Auto, Cpu, Cuda };

// "auto", "cpu", "cuda"; nullopt for anything else.
std::optional<Device> parse_device(std::string_view name);
const char* device_name(Device d);

// How many CUDA devices are visible. 0 when there is none, no driver, or the
// binary was built without CUDA; *why then says which (when why is given).
int cuda_device_count(std::string* why = nullptr);

// Free and total bytes of GPU `device`'s memory (0, 0 without one).
struct GpuMemory {
  size_t free = 0, total = 0;
  std::string name;
};
GpuMemory cuda_memory(int device = 0);

// The CUDA backend on GPU `device` (cuda/cuda_backend.cpp). Weights left in
// host memory (Backend::place_weight's keep_on_host) are multiplied on the CPU
// with the given options. Throws std::runtime_error, naming the reason, when
// no GPU can be used.
std::unique_ptr<Backend> make_cuda_backend(const ComputeOptions& o, int device = 0);

// Auto -> Cpu for now (see kAutoPicksCuda); Cuda -> Cuda, or std::runtime_error
// naming the reason when no GPU can be used.
Device resolve_device(Device device);

// The process's backend for resolve_device(device): made on first use and
// shared by every model loaded on that device, so weights are placed once and
// every session, bench row and server slot computes on the same one. Wrapped
// in the profiling backend when SCOUT_PROFILE is set.
std::shared_ptr<Backend> shared_backend(Device device);

}  // namespace scout::backend
