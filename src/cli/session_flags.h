// The session settings the generating subcommands (run, chat, batch) share:
// one place for their flags, the default context rule and the mapping to
// runtime::SessionOptions.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "gguf/file_bytes.h"
#include "runtime/session.h"

namespace scout::cli {

struct SessionFlags {
  std::string ctx;            // empty: the model's context length, at most 8192
  uint32_t batch = 512;
  int threads = 0;
  std::string kv_type = "f16";
  bool exact = false;         // f32 dot products on dequantized weights
  std::string load = "auto";  // how the model file is brought into memory (--load)
  std::string device = "auto";

  runtime::SessionOptions options(uint64_t model_ctx) const;
  gguf::LoadMode load_mode() const { return *gguf::parse_load_mode(load); }
};

// Adds -t, -c, -b, --kv-type, --exact, --load and --device to cmd, bound to f (which
// must outlive the parse).
void add_session_flags(CLI::App* cmd, SessionFlags& f);

// --load auto|copy|map, for the commands without the other session flags.
void add_load_flag(CLI::App* cmd, std::string& mode);

// --device auto|cpu|cuda, likewise.
void add_device_flag(CLI::App* cmd, std::string& device);

}  // namespace scout::cli
