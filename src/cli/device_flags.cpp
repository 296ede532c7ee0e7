#include "cli/device_flags.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <filesystem>
#include <optional>

#include "backend/device.h"
#include "cli/command.h"
#include "cli/session_flags.h"
#include "scout/model_info.h"

namespace scout::cli {

void add_device_flags(CLI::App* cmd, DeviceFlags& f) {
  cmd->add_option("--device", f.device,
                  "where to compute: cpu, cuda (an NVIDIA GPU; experimental, not yet verified on one), auto (the "
                  "CPU until the CUDA backend is verified)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_option("--n-gpu-layers", f.n_gpu_layers,
                  "-ngl N: with a GPU, only the first N layers' weights go to it; the rest stay in host memory and "
                  "are multiplied on the CPU (default: all)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_flag("--cpu-moe", f.cpu_moe,
                "with a GPU, keep the routed experts in host memory and run them on the CPU (the rest on the GPU)");
}

void check_placement_flags(const ModelInfo& info, const DeviceFlags& f) {
  if (f.n_gpu_layers > static_cast<int>(info.n_layer))
    throw UsageError(fmt::format("-ngl {}: the model has {} layers (omit -ngl to put all of them on the GPU)",
                                 f.n_gpu_layers, info.n_layer));
  if (f.cpu_moe && info.n_expert == 0)
    throw UsageError(fmt::format("--cpu-moe: {} is a dense model, it has no routed experts", info.path));
}

GpuPlacement gpu_placement(const DeviceFlags& f, uint64_t free_bytes) {
  GpuPlacement g;
  g.enabled = true;
  g.n_gpu_layers = f.n_gpu_layers;
  g.cpu_moe = f.cpu_moe;
  g.gpu_free_bytes = free_bytes;
  if (free_bytes == 0) {
    const backend::GpuMemory mem = backend::cuda_memory();
    g.gpu_free_bytes = mem.free;
    g.gpu_name = mem.name;
  }
  return g;
}

void check_host_memory(const ModelInfo& info, const RunShape& shape) {
  const uint64_t ctx = shape.ctx ? shape.ctx : default_ctx(info.context_length);
  const MemoryPlan plan = plan_memory(info, ctx, shape.kv_type, shape.batch);
  HostLimits lim;
  const std::optional<uint64_t> ram = gguf::mem_available();
  if (!ram) return;  // unknown here: nothing to check against
  lim.ram_available = *ram;
  lim.kv_dir = shape.kv_dir;
  if (!shape.kv_dir.empty()) {
    if (!std::filesystem::is_directory(shape.kv_dir))
      throw UsageError(fmt::format("--kv-dir {}: not a directory", shape.kv_dir));
    if (::access(shape.kv_dir.c_str(), W_OK) != 0) throw UsageError(fmt::format("--kv-dir {}: not writable", shape.kv_dir));
    std::error_code ec;
    const std::filesystem::space_info s = std::filesystem::space(shape.kv_dir, ec);
    if (ec) throw UsageError(fmt::format("--kv-dir {}: {}", shape.kv_dir, ec.message()));
    lim.disk_free = s.available;
  }
  if (const std::string why = host_plan_problem(info, plan, lim); !why.empty()) throw std::runtime_error(why);
}

std::unique_ptr<Model> load_model(const std::string& path, gguf::LoadMode mode, const DeviceFlags& f,
                                  const RunShape& shape) {
  // The header alone (mapped, nothing read) answers the flag checks and the plan.
  const ModelInfo info = inspect_model(path);
  check_placement_flags(info, f);
  const backend::Device device = backend::resolve_device(*backend::parse_device(f.device));
  LoadOptions lo;
  lo.mode = mode;
  if (device == backend::Device::Cuda) {
    const GpuPlacement g = gpu_placement(f);
    const uint64_t ctx = shape.ctx ? shape.ctx : default_ctx(info.context_length);
    const MemoryPlan plan = plan_memory(info, ctx, shape.kv_type, shape.batch, g);
    if (!plan.fits_gpu()) throw std::runtime_error(gpu_plan_problem(info, plan));
    lo.placement.n_gpu_layers = f.n_gpu_layers;
    lo.placement.cpu_moe = f.cpu_moe;
  } else {
    if (f.n_gpu_layers >= 0 || f.cpu_moe) spdlog::warn("-ngl and --cpu-moe place weights on a GPU; on the CPU they change nothing");
    check_host_memory(info, shape);
  }
  lo.backend = backend::shared_backend(device);
  return Model::load(path, lo);
}

namespace {

// llama.cpp's single-dash long flags and scout's names for them.
constexpr std::pair<std::string_view, std::string_view> kFlagAliases[] = {
    {"-ngl", "--n-gpu-layers"}, {"-ctk", "--cache-type-k"}, {"-ctv", "--cache-type-v"}, {"-np", "--parallel"}};

}  // namespace

std::vector<std::string> expand_flag_aliases(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    for (const auto& [alias, name] : kFlagAliases) {
      if (a == alias) a = name;
      else if (a.starts_with(std::string(alias) + "=")) a = std::string(name) + a.substr(alias.size());
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace scout::cli
