#include "cli/session_flags.h"

#include <algorithm>

#include "cli/size_arg.h"

namespace scout::cli {

runtime::SessionOptions SessionFlags::options(uint64_t model_ctx) const {
  runtime::SessionOptions so;
  so.n_ctx = ctx.empty() ? std::min<uint64_t>(model_ctx ? model_ctx : 8192, 8192) : parse_size_arg("--ctx-size", ctx);
  so.n_batch = batch;
  so.n_threads = threads;
  so.kv_type = kv_type == "f32" ? runtime::KvType::F32 : runtime::KvType::F16;
  so.quantize_activations = !exact;
  so.device = *runtime::parse_device(device);
  return so;
}

void add_session_flags(CLI::App* cmd, SessionFlags& f) {
  cmd->add_option("-t,--threads", f.threads, "CPU threads (default: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("-c,--ctx-size", f.ctx, "context length: 4096, 128K, 1M (default: the model's, at most 8192)");
  cmd->add_option("-b,--batch-size", f.batch, "prompt tokens per forward pass")->check(CLI::Range(1u, 65536u));
  cmd->add_option("--kv-type", f.kv_type, "KV cache element type")->check(CLI::IsMember({"f16", "f32"}));
  cmd->add_flag("--exact", f.exact,
                "multiply quantized weights in f32 (dequantized) instead of against 8-bit activations: slower, "
                "no activation rounding");
  add_load_flag(cmd, f.load);
  add_device_flag(cmd, f.device);
}

void add_load_flag(CLI::App* cmd, std::string& mode) {
  cmd->add_option("--load", mode,
                  "how the model file is brought into memory: copy (read onto huge pages: fastest), map (mmap: "
                  "no copy, shares the page cache), auto (copy when it fits in available memory)")
      ->check(CLI::IsMember({"auto", "copy", "map"}))
      ->capture_default_str();
}

void add_device_flag(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device,
                  "where to compute: cpu, cuda (an NVIDIA GPU; experimental, not yet verified on one), auto (the "
                  "CPU until the CUDA backend is verified)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
}

}  // namespace scout::cli
