// Where a command computes, and how a model is loaded there: --device,
// -ngl/--n-gpu-layers and --cpu-moe for every command that runs a model, and
// the one loading path that checks them against the file and the GPU's memory
// before any weight is placed.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "gguf/file_bytes.h"
#include "models/model.h"
#include "scout/model_info.h"

namespace scout::cli {

struct DeviceFlags {
  std::string device = "auto";
  int n_gpu_layers = -1;  // -ngl: -1 every layer
  bool cpu_moe = false;
};

// Adds --device, -ngl/--n-gpu-layers and --cpu-moe to cmd, bound to f (which must outlive the parse).
void add_device_flags(CLI::App* cmd, DeviceFlags& f);

// What the run will hold beside the weights, for the GPU memory check.
struct RunShape {
  uint64_t ctx = 0;  // 0: the default (session_flags.h default_ctx)
  KvCacheTypes kv_type;
  uint32_t batch = 512;
  std::string kv_dir;  // --kv-dir: the KV cache on disk
};

// -ngl beyond the model's layer count and --cpu-moe on a model without
// routed experts are UsageErrors naming the problem.
void check_placement_flags(const ModelInfo& info, const DeviceFlags& f);

// The placement the flags ask for, planned against `free_bytes` of GPU
// memory, or (0) the visible GPU's free memory and name.
GpuPlacement gpu_placement(const DeviceFlags& f, uint64_t free_bytes = 0);

// On the CPU: the plan's KV cache and activations must fit the available
// memory (or, with shape.kv_dir, the KV cache that disk): a
// std::runtime_error naming the bytes and what would fit otherwise.
void check_host_memory(const ModelInfo& info, const RunShape& shape);

// Loads path for running on the flags' device: -ngl beyond the layer count
// and --cpu-moe on a model without routed experts are UsageErrors; --device
// cuda without a usable GPU, or a plan that does not fit its memory (naming
// the bytes, suggesting --cpu-moe / -ngl), are std::runtime_errors. The
// weights go to the process's backend for that device, shared by every model
// and session.
std::unique_ptr<Model> load_model(const std::string& path, gguf::LoadMode mode, const DeviceFlags& f,
                                  const RunShape& shape);

// llama.cpp's single-dash long flags (-ngl N, -ctk T, -ctv T) as scout's long ones, so the
// command lines users know work; argv otherwise unchanged.
std::vector<std::string> expand_flag_aliases(int argc, char** argv);

}  // namespace scout::cli
