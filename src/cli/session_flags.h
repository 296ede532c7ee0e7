// The session settings the generating subcommands (run, chat, batch) share:
// one place for their flags, the default context rule, the mapping to
// engine::SessionOptions, and loading the model where they compute.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "backend/kv_layout.h"
#include "cli/device_flags.h"
#include "engine/session.h"
#include "gguf/file_bytes.h"
#include "models/model.h"

namespace scout::cli {

// The context when -c is not given: the model's, at most 8192.
inline uint64_t default_ctx(uint64_t model_ctx) { return std::min<uint64_t>(model_ctx ? model_ctx : 8192, 8192); }

// -ctk/--cache-type-k and -ctv/--cache-type-v (llama.cpp's), and --kv-type
// for both at once; -ctk / -ctv win over --kv-type.
struct KvTypeFlags {
  std::string both = "f16";
  std::string k, v;
  KvCacheTypes types() const { return {k.empty() ? both : k, v.empty() ? both : v}; }
  backend::KvTypes kv_types() const;
};

struct SessionFlags {
  std::string ctx;            // empty: default_ctx
  uint32_t batch = 512;
  int threads = 0;
  KvTypeFlags kv_type;
  std::string kv_dir;         // --kv-dir: the KV cache in a file there
  bool exact = false;         // f32 dot products on dequantized weights
  std::string load = "auto";  // how the model file is brought into memory (--load)
  DeviceFlags device;

  engine::SessionOptions options(uint64_t model_ctx) const;
  gguf::LoadMode load_mode() const { return *gguf::parse_load_mode(load); }
  // load_model() with these flags' device, context, KV type and batch.
  std::unique_ptr<Model> load_model(const std::string& path) const;
};

// Adds -t, -c, -b, -ctk, -ctv, --kv-type, --kv-dir, --exact, --load, --device, -ngl and --cpu-moe
// to cmd, bound to f (which must outlive the parse).
void add_session_flags(CLI::App* cmd, SessionFlags& f);

// The KV cache types' names, as the flags take them.
std::vector<std::string> kv_type_names();

// --load auto|copy|map, for the commands without the other session flags.
void add_load_flag(CLI::App* cmd, std::string& mode);

// -ctk, -ctv and --kv-type, with the cache's types.
void add_kv_type_flags(CLI::App* cmd, KvTypeFlags& f);

}  // namespace scout::cli
