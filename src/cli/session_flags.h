// The session settings the generating subcommands (run, chat, batch) share:
// one place for the default context rule and the flag-to-option mapping.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/session.h"

namespace scout::cli {

// ctx empty: the model's context length, at most 8192. kv_type "f16" or "f32".
runtime::SessionOptions session_options(const std::string& ctx, uint32_t batch, int threads,
                                        const std::string& kv_type, uint64_t model_ctx);

}  // namespace scout::cli
