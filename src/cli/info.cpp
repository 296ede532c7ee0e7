// `scout info`: what a GGUF file holds and what running it costs.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "backend/device.h"
#include "cli/command.h"
#include "cli/human.h"
#include "cli/info_projector.h"
#include "cli/session_flags.h"
#include "cli/size_arg.h"
#include "gguf/reader.h"
#include "scout/model_info.h"
#include "vision/mmproj.h"

namespace scout::cli {

namespace {

struct InfoOptions {
  std::string model;
  std::string ctx;
  KvTypeFlags kv_type;
  uint32_t batch = 512;
  DeviceFlags device;
  std::string gpu_mem;  // plan against this much GPU memory instead of the visible GPU's
  bool tensors = false;
  bool metadata = false;
  bool json = false;
};

// One character per layer: attention kind, then FFN kind, e.g. "cM cM cM GM".
std::string layer_pattern(const ModelInfo& info) {
  std::string out;
  for (size_t i = 0; i < info.layers.size(); ++i) {
    const LayerKind& l = info.layers[i];
    if (i) out += ' ';
    out += l.chunked ? 'c' : l.rope ? 'r' : 'G';
    out += l.moe ? 'M' : 'D';
  }
  return out;
}

std::string list_layers(const ModelInfo& info, bool (*pick)(const LayerKind&)) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < info.layers.size(); ++i)
    if (pick(info.layers[i])) ids.push_back(std::to_string(i));
  if (ids.empty()) return "none";
  if (ids.size() == info.layers.size()) return fmt::format("all {}", ids.size());
  return fmt::format("{} ({})", ids.size(), fmt::join(ids, ", "));
}

nlohmann::json to_json(const ModelInfo& info, const MemoryPlan& plan, bool with_tensors, bool with_metadata) {
  using nlohmann::json;
  json j;
  j["file"] = {{"path", info.path}, {"bytes", info.file_bytes}, {"gguf_version", info.gguf_version},
               {"name", info.name}, {"file_type", info.file_type}};
  j["hparams"] = {
      {"arch", info.arch}, {"n_layer", info.n_layer}, {"d_model", info.d_model}, {"n_head", info.n_head},
      {"n_head_kv", info.n_head_kv}, {"head_dim_k", info.head_dim_k}, {"head_dim_v", info.head_dim_v},
      {"rope_dim", info.rope_dim}, {"dense_ff", info.dense_ff}, {"expert_ff", info.expert_ff},
      {"n_expert", info.n_expert}, {"n_expert_used", info.n_expert_used}, {"moe_layer_step", info.moe_layer_step},
      {"nope_period", info.nope_period}, {"chunk_size", info.chunk_size}, {"n_vocab", info.n_vocab},
      {"context_length", info.context_length}, {"rope_base", info.rope_base}, {"norm_eps", info.norm_eps},
      {"shared_expert", info.shared_expert}, {"qk_norm", info.qk_norm}, {"tied_output", info.tied_output},
      {"rope_freqs", info.rope_freqs}};
  json layers = json::array();
  for (const LayerKind& l : info.layers) layers.push_back({{"moe", l.moe}, {"rope", l.rope}, {"chunked", l.chunked}});
  j["layers"] = layers;
  j["tokenizer"] = {{"model", info.tok_model}, {"pre", info.tok_pre}, {"vocab_size", info.tok_vocab},
                    {"merges", info.tok_merges}, {"special_tokens", info.tok_special}, {"bos_id", info.bos_id},
                    {"bos", info.bos_text}, {"eos_id", info.eos_id}, {"eos", info.eos_text},
                    {"add_bos", info.add_bos}, {"chat_template", info.has_chat_template}};
  json groups = json::array();
  for (const ParamGroupCount& g : info.groups)
    groups.push_back({{"group", param_group_name(g.group)}, {"params", g.params}, {"bytes", g.bytes},
                      {"active_params", g.active_params}, {"active_bytes", g.active_bytes}});
  json types = json::object();
  for (const auto& [type, n] : info.tensors_per_type) types[type] = n;
  j["params"] = {{"total", info.total_params}, {"total_bytes", info.total_bytes}, {"active", info.active_params},
                 {"active_bytes", info.active_bytes}, {"groups", groups}, {"tensors_per_type", types}};
  j["memory"] = {{"ctx", plan.ctx}, {"kv_type", plan.kv_type.name()}, {"kv_type_k", plan.kv_type.k}, {"kv_type_v", plan.kv_type.v}, {"kv_block", plan.kv_block},
                 {"weights_bytes", plan.weight_bytes}, {"kv_bytes", plan.kv_bytes},
                 {"kv_bytes_chunked_layers", plan.kv_bytes_chunked}, {"kv_bytes_global_layers", plan.kv_bytes_global},
                 {"chunked_layers", plan.n_chunked_layers}, {"global_layers", plan.n_global_layers},
                 {"scratch_bytes", plan.scratch_bytes}, {"batch", plan.batch}, {"total_bytes", plan.total_bytes()}};
  if (plan.gpu.enabled)
    j["gpu_plan"] = {{"gpu", plan.gpu.gpu_name}, {"gpu_free_bytes", plan.gpu.gpu_free_bytes},
                     {"n_gpu_layers", plan.gpu_layers}, {"cpu_moe", plan.gpu.cpu_moe},
                     {"gpu_weight_bytes", plan.gpu_weight_bytes}, {"host_weight_bytes", plan.host_weight_bytes},
                     {"kv_bytes", plan.kv_bytes}, {"scratch_bytes", plan.scratch_bytes},
                     {"reserve_bytes", plan.gpu_reserve_bytes}, {"gpu_total_bytes", plan.gpu_total_bytes()},
                     {"fits", plan.fits_gpu()}};
  if (with_tensors) {
    json tensors = json::array();
    for (const TensorSummary& t : info.tensors)
      tensors.push_back({{"name", t.name}, {"type", t.type}, {"shape", t.shape}, {"bytes", t.bytes},
                         {"group", param_group_name(t.group)}});
    j["tensors"] = tensors;
  }
  if (with_metadata) {
    json meta = json::object();
    for (const auto& [k, v] : info.metadata) meta[k] = v;
    j["metadata"] = meta;
  }
  return j;
}

// What goes where on a GPU, and whether it fits.
void print_gpu_plan(const ModelInfo& info, const MemoryPlan& plan) {
  auto line = [](const std::string& label, const std::string& value) { fmt::print("  {:<24} {}\n", label, value); };
  const GpuPlacement& g = plan.gpu;
  fmt::print("\nGPU plan ({}, {} free):\n", g.gpu_name.empty() ? "given memory" : g.gpu_name,
             human_bytes(g.gpu_free_bytes));
  line("layers on the GPU", fmt::format("{} of {}{}", plan.gpu_layers, info.n_layer,
                                        plan.gpu_layers < info.n_layer ? " (the rest multiplied on the CPU)" : ""));
  if (info.n_expert > 0)
    line("routed experts", g.cpu_moe ? "host memory, run on the CPU (--cpu-moe)" : "GPU (where their layer is)");
  line("weights on the GPU", human_bytes(plan.gpu_weight_bytes));
  line("weights in host memory", human_bytes(plan.host_weight_bytes));
  line("KV cache", human_bytes(plan.kv_bytes) + " (GPU)");
  line("activations", human_bytes(plan.scratch_bytes) + " (GPU)");
  line("reserve", human_bytes(plan.gpu_reserve_bytes) + " (CUDA context, workspaces)");
  line("GPU total", human_bytes(plan.gpu_total_bytes()));
  line("fits", plan.fits_gpu() ? "yes" : "no: " + gpu_plan_problem(info, plan));
}

void print_text(const ModelInfo& info, const MemoryPlan& plan, const InfoOptions& opt) {
  auto line = [](const std::string& label, const std::string& value) { fmt::print("  {:<24} {}\n", label, value); };
  fmt::print("file: {}\n", info.path);
  line("size", human_bytes(info.file_bytes));
  line("gguf version", std::to_string(info.gguf_version));
  if (!info.name.empty()) line("name", info.name);
  if (!info.file_type.empty()) line("file type", info.file_type);

  fmt::print("\narchitecture: {}\n", info.arch);
  line("layers", std::to_string(info.n_layer));
  line("d_model", std::to_string(info.d_model));
  line("heads / kv heads", fmt::format("{} / {} (GQA group {})", info.n_head, info.n_head_kv, info.n_head / info.n_head_kv));
  line("head dim (k / v)", fmt::format("{} / {}", info.head_dim_k, info.head_dim_v));
  line("rope", fmt::format("base {}, {} dims{}", info.rope_base, info.rope_dim, info.rope_freqs ? ", frequency factors" : ""));
  line("rms norm eps", fmt::format("{:g}", info.norm_eps));
  line("context length", std::to_string(info.context_length));
  line("vocab", std::to_string(info.n_vocab));
  if (info.n_expert > 0) {
    line("experts", fmt::format("{} routed, top-{}{}, width {}", info.n_expert, info.n_expert_used,
                                info.shared_expert ? " + 1 shared" : "", info.expert_ff));
    line("MoE layer step", std::to_string(info.moe_layer_step));
  }
  line("dense FFN width", std::to_string(info.dense_ff));
  line("MoE layers", list_layers(info, [](const LayerKind& l) { return l.moe; }));
  line("NoPE (global) layers", list_layers(info, [](const LayerKind& l) { return !l.rope; }));
  line("chunked attention", info.chunk_size ? fmt::format("chunk {}, layers: {}", info.chunk_size,
                                                          list_layers(info, [](const LayerKind& l) { return l.chunked; }))
                                            : "off");
  if (info.arch == "llama4") line("QK norm", info.qk_norm ? "on RoPE layers" : "off");
  line("output head", info.tied_output ? "tied to token embedding" : "output.weight");
  line("layer kinds", layer_pattern(info));
  fmt::print("  {:<24} (c chunked RoPE, r RoPE, G global NoPE; M MoE, D dense FFN)\n", "");

  fmt::print("\ntokenizer: {}{}\n", info.tok_model.empty() ? "none" : info.tok_model,
             info.tok_pre.empty() ? "" : " (pre-tokenizer " + info.tok_pre + ")");
  line("tokens / merges", fmt::format("{} / {}", info.tok_vocab, info.tok_merges));
  line("special (control)", std::to_string(info.tok_special));
  line("bos / eos", fmt::format("{} {} / {} {}", info.bos_id, info.bos_text, info.eos_id, info.eos_text));
  line("add bos", info.add_bos ? "yes" : "no");
  line("chat template", info.has_chat_template ? "in file" : "none");

  fmt::print("\nparameters: {} total ({}), {} active per token ({} read per token)\n", human_count(info.total_params),
             human_bytes(info.total_bytes), human_count(info.active_params), human_bytes(info.active_bytes));
  fmt::print("  {:<18} {:>12} {:>12} {:>12} {:>12}\n", "group", "params", "bytes", "active", "active bytes");
  for (const ParamGroupCount& g : info.groups)
    fmt::print("  {:<18} {:>12} {:>12} {:>12} {:>12}\n", param_group_name(g.group), human_count(g.params),
               human_bytes(g.bytes), human_count(g.active_params), human_bytes(g.active_bytes));
  std::vector<std::string> types;
  for (const auto& [type, n] : info.tensors_per_type) types.push_back(fmt::format("{} {}", n, type));
  line("tensors by type", fmt::format("{}", fmt::join(types, ", ")));

  fmt::print("\nmemory at ctx {} (KV {} in pages of {}, batch {}):\n", plan.ctx, plan.kv_type.name(), plan.kv_block, plan.batch);
  line("weights (mapped)", human_bytes(plan.weight_bytes));
  line("KV cache", human_bytes(plan.kv_bytes));
  line("  chunked layers", fmt::format("{} ({} layers, at most one chunk each)", human_bytes(plan.kv_bytes_chunked), plan.n_chunked_layers));
  line("  global layers", fmt::format("{} ({} layers, whole context)", human_bytes(plan.kv_bytes_global), plan.n_global_layers));
  line("scratch (estimate)", human_bytes(plan.scratch_bytes));
  line("total", human_bytes(plan.total_bytes()));
  if (plan.gpu.enabled) print_gpu_plan(info, plan);

  if (opt.metadata) {
    fmt::print("\nmetadata ({} keys):\n", info.metadata.size());
    for (const auto& [k, v] : info.metadata) fmt::print("  {} = {}\n", k, v);
  }
  if (opt.tensors) {
    fmt::print("\ntensors ({}):\n  {:<36} {:<8} {:<24} {:>12}\n", info.tensors.size(), "name", "type", "shape", "bytes");
    for (const TensorSummary& t : info.tensors)
      fmt::print("  {:<36} {:<8} {:<24} {:>12}\n", t.name, t.type, fmt::format("[{}]", fmt::join(t.shape, ", ")), t.bytes);
  }
}

// --device cuda: the placement to plan, against --gpu-mem or the visible GPU.
GpuPlacement planned_placement(const ModelInfo& info, const InfoOptions& o) {
  if (o.device.device != "cuda") {
    if (!o.gpu_mem.empty() || o.device.n_gpu_layers >= 0 || o.device.cpu_moe)
      throw UsageError("--gpu-mem, -ngl and --cpu-moe plan a GPU run: add --device cuda");
    return {};
  }
  check_placement_flags(info, o.device);
  if (!o.gpu_mem.empty()) return gpu_placement(o.device, parse_size_arg("--gpu-mem", o.gpu_mem));
  std::string why;
  if (backend::cuda_device_count(&why) == 0)
    throw std::runtime_error("--device cuda: " + why + " (give --gpu-mem SIZE to plan for a GPU that is not here)");
  return gpu_placement(o.device);
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto opt = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a GGUF model (hyper-parameters, layer kinds, tokenizer, parameter counts, memory plan) or a vision projector");
  cmd->add_option("-m,--model", opt->model, "GGUF file (default: the embedded default model)");
  cmd->add_option("-c,--ctx", opt->ctx, "context length for the memory plan: 8192, 128K, 1M, 10M (default: the model's, at most 8192)");
  add_kv_type_flags(cmd, opt->kv_type);
  cmd->add_option("-b,--batch-size", opt->batch, "prompt batch size for the scratch estimate")->check(CLI::Range(1u, 1u << 20));
  cmd->add_flag("--tensors", opt->tensors, "list every tensor: name, type, shape, bytes");
  cmd->add_flag("--metadata", opt->metadata, "list every metadata key");
  cmd->add_flag("--json", opt->json, "print one JSON object instead of text");
  add_device_flags(cmd, opt->device);
  cmd->add_option("--gpu-mem", opt->gpu_mem,
                  "with --device cuda: plan for a GPU with this much free memory (80G, 141G) instead of the visible one");
  cmd->callback([opt] {
    const std::string path = opt->model.empty() ? default_model_path() : opt->model;
    const gguf::GgufFile file = gguf::GgufFile::open(path, gguf::LoadMode::Map);  // the header only is read
    if (vision::is_mmproj(file)) return print_projector_info(file, opt->json, opt->tensors);
    const ModelInfo info = inspect_model(file);
    const uint64_t ctx = opt->ctx.empty() ? default_ctx(info.context_length) : parse_size_arg("--ctx", opt->ctx);
    const MemoryPlan plan = plan_memory(info, ctx, opt->kv_type.types(), opt->batch, planned_placement(info, *opt));
    if (opt->json) fmt::print("{}\n", to_json(info, plan, opt->tensors, opt->metadata).dump(2));
    else print_text(info, plan, *opt);
    std::fflush(stdout);
  });
}

}  // namespace scout::cli
