#include "backend/device.h"

#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#include <stdexcept>

#include "backend/profiling_backend.h"

namespace scout::backend {

std::optional<Device> parse_device(std::string_view name) {
  if (name == "auto") return Device::Auto;
  if (name == "cpu") return Device::Cpu;
  if (name == "cuda") return Device::Cuda;
  return std::nullopt;
}

const char* device_name(Device d) {
  switch (d) {
    case Device::Auto: return "auto";
    case Device::Cpu: return "cpu";
    case Device::Cuda: return "cuda";
  }
  return "?";
}

namespace {

// Whether `auto` takes a visible GPU. Not yet: the CUDA backend has never run
// on a GPU (none has been lent to this project so far), so it is opt-in with
// --device cuda until its tests have passed on one. Then this becomes true.
constexpr bool kAutoPicksCuda = false;

}  // namespace

Device resolve_device(Device device) {
  if (device == Device::Cpu) return Device::Cpu;
  std::string why;
  const bool gpu = cuda_device_count(&why) > 0;
  if (device == Device::Cuda) {
    if (!gpu) throw std::runtime_error("--device cuda: " + why);
    return Device::Cuda;
  }
  if (gpu && kAutoPicksCuda) return Device::Cuda;
  if (gpu) spdlog::info("a GPU is visible; the CUDA backend is not yet verified, so it runs only with --device cuda");
  return Device::Cpu;
}

std::shared_ptr<Backend> shared_backend(Device device) {
  static std::mutex mu;
  static std::map<Device, std::weak_ptr<Backend>> made;
  const Device d = resolve_device(device);
  std::lock_guard lock(mu);
  if (auto be = made[d].lock()) return be;
  std::shared_ptr<Backend> be = d == Device::Cuda ? make_cuda_backend({}) : make_cpu_backend({});
  if (profiling_requested()) be = make_profiling_backend(std::move(be));
  made[d] = be;
  return be;
}

}  // namespace scout::backend
