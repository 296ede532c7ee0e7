#include "cli/session_flags.h"

#include <algorithm>

#include "cli/size_arg.h"

namespace scout::cli {

runtime::SessionOptions session_options(const std::string& ctx, uint32_t batch, int threads,
                                        const std::string& kv_type, uint64_t model_ctx) {
  runtime::SessionOptions so;
  so.n_ctx = ctx.empty() ? std::min<uint64_t>(model_ctx ? model_ctx : 8192, 8192) : parse_size_arg("--ctx-size", ctx);
  so.n_batch = batch;
  so.n_threads = threads;
  so.kv_type = kv_type == "f32" ? runtime::KvType::F32 : runtime::KvType::F16;
  return so;
}

}  // namespace scout::cli
