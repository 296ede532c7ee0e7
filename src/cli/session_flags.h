// The session settings the generating subcommands (run, chat, batch) share:
// one place for their flags, the default context rule, the mapping to
// engine::SessionOptions, and loading the model where they compute.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "cli/device_flags.h"
#include "engine/session.h"
#include "gguf/file_bytes.h"
#include "models/model.h"

namespace scout::cli {

// The context when -c is not given: the model's, at most 8192.
inline uint64_t default_ctx(uint64_t model_ctx) { return std::min<uint64_t>(model_ctx ? model_ctx : 8192, 8192); }

struct SessionFlags {
  std::string ctx;            // empty: default_ctx
  uint32_t batch = 512;
  int threads = 0;
  std::string kv_type = "f16";
  bool exact = false;         // f32 dot products on dequantized weights
  std::string load = "auto";  // how the model file is brought into memory (--load)
  DeviceFlags device;

  engine::SessionOptions options(uint64_t model_ctx) const;
  gguf::LoadMode load_mode() const { return *gguf::parse_load_mode(load); }
  // load_model() with these flags' device, context, KV type and batch.
  std::unique_ptr<Model> load_model(const std::string& path) const;
};

// Adds -t, -c, -b, --kv-type, --exact, --load, --device, -ngl and --cpu-moe
// to cmd, bound to f (which must outlive the parse).
void add_session_flags(CLI::App* cmd, SessionFlags& f);

// --load auto|copy|map, for the commands without the other session flags.
void add_load_flag(CLI::App* cmd, std::string& mode);

// --kv-type, with the cache's types.
void add_kv_type_flag(CLI::App* cmd, std::string& kv_type);

}  // namespace scout::cli
