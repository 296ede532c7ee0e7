#include "runtime/device.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace scout::runtime {

std::optional<Device> parse_device(std::string_view name) {
  if (name == "auto") return Device::Auto;
  if (name == "cpu") return Device::Cpu;
  if (name == "cuda") return Device::Cuda;
  return std::nullopt;
}

Device resolve_device(Device device) {
  if (device == Device::Cpu) return Device::Cpu;
  std::string why;
  if (cuda_device_count(&why) > 0) return Device::Cuda;
  if (device == Device::Cuda) throw std::runtime_error("--device cuda: " + why);
  spdlog::debug("computing on the CPU ({})", why);
  return Device::Cpu;
}

std::unique_ptr<Backend> make_backend(Device device, int n_threads, bool quantize_activations) {
  if (resolve_device(device) == Device::Cuda) return make_cuda_backend(n_threads, quantize_activations);
  return make_cpu_backend(n_threads, quantize_activations);
}

}  // namespace scout::runtime
