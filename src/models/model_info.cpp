#include "scout/model_info.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string_view>

#include "backend/kv_layout.h"
#include "gguf/reader.h"
#include "gguf/tensor_names.h"
#include "models/model.h"
#include "models/registry.h"
#include "tensor/file_type.h"
#include "tokenizer/tokenizer.h"

namespace scout {

const char* param_group_name(ParamGroup g) {
  switch (g) {
    case ParamGroup::Embedding: return "token embedding";
    case ParamGroup::Attention: return "attention";
    case ParamGroup::Router: return "router";
    case ParamGroup::RoutedExperts: return "routed experts";
    case ParamGroup::SharedExpert: return "shared expert";
    case ParamGroup::DenseFfn: return "dense FFN";
    case ParamGroup::Norms: return "norms";
    case ParamGroup::OutputHead: return "output head";
    case ParamGroup::Other: return "other";
  }
  return "other";
}

namespace {

ParamGroup classify(std::string_view name) {
  using namespace names;
  const std::string_view role = role_of(name);
  if (role == kTokenEmbd) return ParamGroup::Embedding;
  if (role == kOutput) return ParamGroup::OutputHead;
  if (role.ends_with("_norm") || role == kRopeFreqs) return ParamGroup::Norms;
  if (role.starts_with("attn_")) return ParamGroup::Attention;
  if (role == kRouter) return ParamGroup::Router;
  if (role == kGateExps || role == kUpExps || role == kDownExps) return ParamGroup::RoutedExperts;
  if (role == kGateShexp || role == kUpShexp || role == kDownShexp) return ParamGroup::SharedExpert;
  if (role.starts_with("ffn_")) return ParamGroup::DenseFfn;
  return ParamGroup::Other;
}

void count_params(ModelInfo& info, const gguf::GgufFile& file) {
  std::map<ParamGroup, ParamGroupCount> groups;
  std::map<std::string, uint64_t> per_type;
  for (const gguf::TensorInfo& t : file.tensors()) {
    TensorSummary s;
    s.name = t.name;
    s.type = std::string(type_name(t.type));
    s.shape.assign(t.ne.begin(), t.ne.begin() + t.n_dims);
    s.n_elements = t.n_elements();
    s.bytes = t.nbytes;
    s.group = classify(t.name);
    info.tensors.push_back(s);
    per_type[s.type]++;

    ParamGroupCount& g = groups[s.group];
    g.group = s.group;
    g.params += s.n_elements;
    g.bytes += s.bytes;
    switch (s.group) {
      case ParamGroup::Embedding:
        // A token reads one row of the table, unless the head is tied to it.
        if (info.tied_output) {
          g.active_params += s.n_elements;
          g.active_bytes += s.bytes;
        } else {
          g.active_params += t.ne[0];
          g.active_bytes += s.bytes / std::max<uint64_t>(t.n_rows(), 1);
        }
        break;
      case ParamGroup::RoutedExperts:
        // Experts are stacked on the last axis; a token uses n_expert_used of them.
        if (info.n_expert > 0) {
          g.active_params += s.n_elements / info.n_expert * info.n_expert_used;
          g.active_bytes += s.bytes / info.n_expert * info.n_expert_used;
        }
        break;
      default:
        g.active_params += s.n_elements;
        g.active_bytes += s.bytes;
    }
  }
  for (auto& [group, g] : groups) {
    info.total_params += g.params;
    info.total_bytes += g.bytes;
    info.active_params += g.active_params;
    info.active_bytes += g.active_bytes;
    info.groups.push_back(g);
  }
  for (auto& [type, n] : per_type) info.tensors_per_type.emplace_back(type, n);
}

void read_tokenizer(ModelInfo& info, const gguf::GgufFile& file) {
  info.tok_model = file.get_string("tokenizer.ggml.model").value_or("");
  info.tok_pre = file.get_string("tokenizer.ggml.pre").value_or("");
  const gguf::Value* tokens = file.find("tokenizer.ggml.tokens");
  const std::vector<std::string>* names = nullptr;
  if (tokens && tokens->is_array() && tokens->array_type() == gguf::ValueType::STRING) {
    names = &tokens->strings();
    info.tok_vocab = names->size();
  }
  if (const gguf::Value* merges = file.find("tokenizer.ggml.merges"); merges && merges->is_array())
    info.tok_merges = merges->array_size();
  if (const gguf::Value* types = file.find("tokenizer.ggml.token_type"); types && types->is_array()) {
    for (size_t i = 0; i < types->array_size(); ++i)
      if (types->int_at(i) == 3) info.tok_special++;  // 3 = control
  }
  auto token_text = [&](int64_t id) {
    return names && id >= 0 && static_cast<uint64_t>(id) < names->size() ? (*names)[id] : std::string();
  };
  if (auto bos = file.get_uint("tokenizer.ggml.bos_token_id")) info.bos_id = static_cast<int64_t>(*bos);
  if (auto eos = file.get_uint("tokenizer.ggml.eos_token_id")) info.eos_id = static_cast<int64_t>(*eos);
  info.bos_text = token_text(info.bos_id);
  info.eos_text = token_text(info.eos_id);
  info.add_bos = tokenizer::file_adds_bos(file);  // the tokenizer's own rule
  info.has_chat_template = file.find("tokenizer.chat_template") != nullptr;
}

}  // namespace

ModelInfo inspect_model(const std::string& path) { return inspect_model(gguf::GgufFile::open(path)); }

ModelInfo inspect_model(const gguf::GgufFile& file) {
  const Hparams hp = read_hparams(file);

  ModelInfo info;
  info.path = file.path();
  info.file_bytes = file.file_size();
  info.gguf_version = file.version();
  info.name = file.get_string("general.name").value_or("");
  if (auto ft = file.get_uint("general.file_type")) info.file_type = file_type_name(static_cast<uint32_t>(*ft));
  for (const auto& [key, value] : file.metadata()) info.metadata.emplace_back(key, value.to_display());

  info.arch = hp.arch_name;
  info.n_layer = hp.n_layer;
  info.d_model = hp.d_model;
  info.n_head = hp.n_head;
  info.n_head_kv = hp.n_head_kv;
  info.head_dim_k = hp.head_dim_k;
  info.head_dim_v = hp.head_dim_v;
  info.rope_dim = hp.rope_dim;
  info.dense_ff = hp.dense_ff;
  info.expert_ff = hp.expert_ff;
  info.n_expert = hp.n_expert;
  info.n_expert_used = hp.n_expert_used;
  info.moe_layer_step = hp.moe_layer_step;
  info.nope_period = hp.nope_period;
  info.chunk_size = hp.chunk_size;
  info.n_vocab = hp.n_vocab;
  info.context_length = hp.context_length;
  info.rope_base = hp.rope_base;
  info.norm_eps = hp.norm_eps;
  info.shared_expert = hp.shared_expert;
  info.qk_norm = hp.qk_norm;
  info.tied_output = file.find_tensor(names::tensor_name(names::kOutput)) == nullptr;
  info.rope_freqs = file.find_tensor(names::tensor_name(names::kRopeFreqs)) != nullptr;
  info.activation_bytes_per_row = Activations::bytes_per_row(hp);
  for (uint32_t il = 0; il < hp.n_layer; ++il)
    info.layers.push_back({hp.is_moe_layer(il), hp.uses_rope(il), hp.is_chunked(il)});

  read_tokenizer(info, file);
  count_params(info, file);
  return info;
}

namespace {

// The CUDA context, kernel workspaces and recorded decode steps: kept free on
// the GPU beyond what the plan counts.
constexpr uint64_t kGpuReserveBytes = uint64_t{768} << 20;

}  // namespace

MemoryPlan plan_memory(const ModelInfo& info, uint64_t ctx, const KvCacheTypes& kv_type, uint32_t batch,
                       const GpuPlacement& gpu) {
  backend::KvLayout layout;
  for (const auto& [name, type] : {std::pair{&kv_type.k, &layout.types.k}, std::pair{&kv_type.v, &layout.types.v}}) {
    const auto t = backend::parse_kv_type(*name);
    if (!t) throw std::invalid_argument(fmt::format("unknown KV cache type '{}'", *name));
    *type = *t;
  }
  layout.n_head_kv = static_cast<int>(info.n_head_kv);
  layout.head_dim_k = static_cast<int>(info.head_dim_k);
  layout.head_dim_v = static_cast<int>(info.head_dim_v);
  if (const std::string why = layout.problem(); !why.empty()) throw std::invalid_argument(why);
  MemoryPlan plan;
  plan.ctx = ctx;
  plan.kv_type = kv_type;
  plan.batch = batch;
  plan.weight_bytes = info.total_bytes;
  const uint64_t per_position = layout.bytes_per_position();
  auto paged = [&](uint64_t positions) { return (positions + plan.kv_block - 1) / plan.kv_block * plan.kv_block; };
  for (const LayerKind& layer : info.layers) {
    if (layer.chunked) {
      plan.n_chunked_layers++;
      plan.kv_bytes_chunked += paged(std::min<uint64_t>(ctx, info.chunk_size)) * per_position;
    } else {
      plan.n_global_layers++;
      plan.kv_bytes_global += paged(ctx) * per_position;
    }
  }
  plan.kv_bytes = plan.kv_bytes_chunked + plan.kv_bytes_global;

  // The engine's activation buffers for one batch (models/model.cpp's table)
  // and one row of f32 logits.
  const uint64_t b = std::min<uint64_t>(batch, std::max<uint64_t>(ctx, 1));
  plan.scratch_bytes = b * info.activation_bytes_per_row + uint64_t{4} * info.n_vocab;

  plan.gpu = gpu;
  if (gpu.enabled) {
    Placement p;
    p.n_gpu_layers = gpu.n_gpu_layers;
    p.cpu_moe = gpu.cpu_moe;
    for (const TensorSummary& t : info.tensors) (p.keeps_on_host(t.name) ? plan.host_weight_bytes : plan.gpu_weight_bytes) += t.bytes;
    plan.gpu_layers = gpu.n_gpu_layers < 0 ? info.n_layer : std::min<uint32_t>(info.n_layer, gpu.n_gpu_layers);
    plan.gpu_reserve_bytes = kGpuReserveBytes;
  }
  return plan;
}

std::string gpu_plan_problem(const ModelInfo& info, const MemoryPlan& plan) {
  const GpuPlacement& g = plan.gpu;
  auto gib = [](uint64_t b) { return fmt::format("{:.2f} GiB", static_cast<double>(b) / 1073741824.0); };
  std::string msg = fmt::format(
      "the model does not fit the GPU{}: it needs {} (weights {}, KV cache {} at ctx {}, activations {}, reserve {}) "
      "and {} is free",
      g.gpu_name.empty() ? "" : " (" + g.gpu_name + ")", gib(plan.gpu_total_bytes()), gib(plan.gpu_weight_bytes),
      gib(plan.kv_bytes), plan.ctx, gib(plan.scratch_bytes), gib(plan.gpu_reserve_bytes), gib(g.gpu_free_bytes));
  // What would fit: the routed experts on the CPU first, then fewer GPU layers.
  auto fits = [&](int ngl, bool cpu_moe) {
    GpuPlacement t = g;
    t.n_gpu_layers = ngl;
    t.cpu_moe = cpu_moe;
    return plan_memory(info, plan.ctx, plan.kv_type, plan.batch, t).fits_gpu();
  };
  std::vector<std::string> ways;
  if (info.n_expert > 0 && !g.cpu_moe && fits(g.n_gpu_layers, true)) ways.push_back("--cpu-moe");
  for (const bool cpu_moe : {g.cpu_moe, true}) {
    if (cpu_moe && (info.n_expert == 0 || g.cpu_moe || !ways.empty())) continue;
    int best = -1;
    const int top = g.n_gpu_layers < 0 ? static_cast<int>(info.n_layer) : g.n_gpu_layers;
    for (int ngl = top - 1; ngl >= 0 && best < 0; --ngl)
      if (fits(ngl, cpu_moe)) best = ngl;
    if (best >= 0) ways.push_back(fmt::format("{}-ngl {}", cpu_moe && !g.cpu_moe ? "--cpu-moe " : "", best));
  }
  msg += ways.empty() ? "; even with every layer in host memory it does not fit: use --device cpu or a smaller -c"
                      : fmt::format("; try {}", fmt::join(ways, " or "));
  return msg;
}

std::string host_plan_problem(const ModelInfo& info, const MemoryPlan& plan, const HostLimits& lim) {
  auto gib = [](uint64_t b) { return fmt::format("{:.2f} GiB", static_cast<double>(b) / 1073741824.0); };
  const bool on_disk = !lim.kv_dir.empty();
  if (on_disk && plan.kv_bytes > lim.disk_free)
    return fmt::format("-c {} needs {} of KV cache ({}) and --kv-dir {} has {} free: use a smaller -c, a smaller KV type "
                       "(-ctk/-ctv q8_0 or q4_0) or a directory on a larger disk",
                       plan.ctx, gib(plan.kv_bytes), plan.kv_type.name(), lim.kv_dir, gib(lim.disk_free));
  const uint64_t resident = (on_disk ? 0 : plan.kv_bytes) + plan.scratch_bytes;
  if (resident <= lim.ram_available) return {};
  std::string msg = fmt::format(
      "-c {} needs {} of memory beside the weights (KV cache {} in {}, activations {}) and {} is available: use a smaller -c",
      plan.ctx, gib(resident), gib(plan.kv_bytes), plan.kv_type.name(), gib(plan.scratch_bytes), gib(lim.ram_available));
  for (const char* t : {"q8_0", "q4_0"}) {
    if (plan.kv_type.k == t && plan.kv_type.v == t) continue;
    try {
      const MemoryPlan smaller = plan_memory(info, plan.ctx, KvCacheTypes(t), plan.batch);
      msg += fmt::format(", -ctk {} -ctv {} ({} of KV cache{})", t, t, gib(smaller.kv_bytes),
                         smaller.kv_bytes + smaller.scratch_bytes <= lim.ram_available ? ": fits" : "");
    } catch (const std::invalid_argument&) {
      // a head dimension the quantized type cannot hold: not a suggestion
    }
  }
  return msg + ", or --kv-dir DIR (the KV cache in a file on disk, mapped)";
}

}  // namespace scout
