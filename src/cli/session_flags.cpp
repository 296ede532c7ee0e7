#include "cli/session_flags.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <vector>

#include "backend/kv_layout.h"
#include "cli/size_arg.h"

namespace scout::cli {

namespace {

uint64_t ctx_flag(const std::string& ctx, uint64_t model_ctx) {
  return ctx.empty() ? default_ctx(model_ctx) : parse_size_arg("--ctx-size", ctx);
}

}  // namespace

engine::SessionOptions SessionFlags::options(uint64_t model_ctx) const {
  engine::SessionOptions so;
  so.n_ctx = ctx_flag(ctx, model_ctx);
  so.n_batch = batch;
  so.n_threads = threads;
  so.kv_type = kv_type.kv_types();
  so.kv_dir = kv_dir;
  so.quantize_activations = !exact;
  return so;
}

std::unique_ptr<Model> SessionFlags::load_model(const std::string& path) const {
  RunShape shape;
  shape.ctx = ctx.empty() ? 0 : ctx_flag(ctx, 0);
  shape.kv_type = kv_type.types();
  shape.kv_dir = kv_dir;
  shape.batch = batch;
  return cli::load_model(path, load_mode(), device, shape);
}

void add_session_flags(CLI::App* cmd, SessionFlags& f) {
  cmd->add_option("-t,--threads", f.threads, "CPU threads (default: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("-c,--ctx-size", f.ctx, "context length: 4096, 128K, 1M (default: the model's, at most 8192)");
  cmd->add_option("-b,--batch-size", f.batch, "prompt tokens per forward pass")->check(CLI::Range(1u, 65536u));
  add_kv_type_flags(cmd, f.kv_type);
  cmd->add_option("--kv-dir", f.kv_dir,
                  "keep the KV cache in a file in DIR, mapped, so the context is bounded by disk rather than memory "
                  "(created sparse, removed at exit)");
  cmd->add_flag("--exact", f.exact,
                "multiply quantized weights in f32 (dequantized) instead of against 8-bit activations: slower, "
                "no activation rounding");
  add_load_flag(cmd, f.load);
  add_device_flags(cmd, f.device);
}

void add_load_flag(CLI::App* cmd, std::string& mode) {
  cmd->add_option("--load", mode,
                  "how the model file is brought into memory: copy (read onto huge pages: fastest), map (mmap: "
                  "no copy, shares the page cache), auto (copy when it fits in available memory)")
      ->check(CLI::IsMember({"auto", "copy", "map"}))
      ->capture_default_str();
}

backend::KvTypes KvTypeFlags::kv_types() const {
  const KvCacheTypes t = types();
  return {*backend::parse_kv_type(t.k), *backend::parse_kv_type(t.v)};
}

std::vector<std::string> kv_type_names() {
  std::vector<std::string> names;
  for (const backend::KvTypeTraits& t : backend::kKvTypes) names.emplace_back(t.name);
  return names;
}

void add_kv_type_flags(CLI::App* cmd, KvTypeFlags& f) {
  const std::vector<std::string> names = kv_type_names();
  const std::string list = fmt::format("{}", fmt::join(names, ", "));
  cmd->add_option("--cache-type-k", f.k, "-ctk T: KV cache type for K: " + list + " (default: --kv-type's)")
      ->check(CLI::IsMember(names));
  cmd->add_option("--cache-type-v", f.v, "-ctv T: KV cache type for V (default: --kv-type's)")->check(CLI::IsMember(names));
  cmd->add_option("--kv-type", f.both, "KV cache type for both K and V")->check(CLI::IsMember(names))->capture_default_str();
}

}  // namespace scout::cli
