// Which backend computes: the CPU, or an NVIDIA GPU through CUDA. `auto` is
// the command line's default; it will take the GPU when one is visible once
// the CUDA backend has been verified on one (device.cpp kAutoPicksCuda).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/backend.h"

namespace scout::runtime {

enum class Device { Auto, Cpu, Cuda };

// "auto", "cpu", "cuda"; nullopt for anything else.
std::optional<Device> parse_device(std::string_view name);

// How many CUDA devices are visible. 0 when there is none, no driver, or the
// binary was built without CUDA; *why then says which (when why is given).
int cuda_device_count(std::string* why = nullptr);

// The CUDA backend on GPU `device` (cuda_backend.cpp). Ops it has no kernel
// for (a weight type without a GPU decoder, rows that are not whole 32-element
// groups) run on an internal CPU backend made with n_threads and
// quantize_activations. exact (= !quantize_activations): every matmul takes
// the f32 GEMV kernel, none the TF32 tensor cores. Throws std::runtime_error,
// naming the reason, when no GPU can be used.
std::unique_ptr<Backend> make_cuda_backend(int n_threads, bool quantize_activations, int device = 0);

// Auto -> Cpu for now (see kAutoPicksCuda); Cuda -> Cuda, or std::runtime_error
// naming the reason when no GPU can be used.
Device resolve_device(Device device);

// The backend of resolve_device(device).
std::unique_ptr<Backend> make_backend(Device device, int n_threads, bool quantize_activations);

}  // namespace scout::runtime
