#include "maker/mmproj_maker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "maker/config_fields.h"
#include "maker/random_values.h"
#include "gguf/writer.h"
#include "tensor/file_type.h"
#include "tensor/quant.h"

namespace scout::maker {

using nlohmann::json;

namespace {

// ---- Config -----------------------------------------------------------------------

const ConfigFields kFields{"mmproj config"};

// The reader (read_vision_hparams) refuses sizes of 0 or above 2^20.
constexpr uint64_t kMaxSize = 1u << 20;

uint32_t get_size(const json& v, const std::string& field) {
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
    kFields.fail(fmt::format("field '{}' must be a positive integer, got {}", field, ConfigFields::show(v)));
  const uint64_t x = v.get<uint64_t>();
  if (x == 0 || x > kMaxSize) kFields.fail(fmt::format("field '{}' = {} is out of range (1..{})", field, x, kMaxSize));
  return static_cast<uint32_t>(x);
}
std::array<float, 3> get_rgb(const json& v, const std::string& field) {
  if (!v.is_array() || v.size() != 3)
    kFields.fail(fmt::format("field '{}' must be an array of 3 numbers, got {}", field, ConfigFields::show(v)));
  std::array<float, 3> out{};
  for (size_t i = 0; i < 3; ++i) out[i] = kFields.get_float(v[i], fmt::format("{}[{}]", field, i));
  return out;
}

using Setter = std::function<void(const json&, MmprojConfig&)>;

const std::map<std::string, Setter>& setters() {
  using C = MmprojConfig;
  static const std::map<std::string, Setter> table = {
      {"name", [](const json& v, C& c) { c.name = kFields.get_string(v, "name"); }},
      {"image_size", [](const json& v, C& c) { c.hp.image_size = get_size(v, "image_size"); }},
      {"patch_size", [](const json& v, C& c) { c.hp.patch_size = get_size(v, "patch_size"); }},
      {"width", [](const json& v, C& c) { c.hp.width = get_size(v, "width"); }},
      {"ff", [](const json& v, C& c) { c.hp.ff = get_size(v, "ff"); }},
      {"n_layer", [](const json& v, C& c) { c.hp.n_layer = get_size(v, "n_layer"); }},
      {"n_head", [](const json& v, C& c) { c.hp.n_head = get_size(v, "n_head"); }},
      {"eps", [](const json& v, C& c) { c.hp.eps = kFields.get_float(v, "eps"); }},
      {"merge", [](const json& v, C& c) { c.hp.merge = get_size(v, "merge"); }},
      {"adapter", [](const json& v, C& c) { c.hp.adapter = get_size(v, "adapter"); }},
      {"out_width", [](const json& v, C& c) { c.hp.out_width = get_size(v, "out_width"); }},
      {"image_mean", [](const json& v, C& c) { c.hp.mean = get_rgb(v, "image_mean"); }},
      {"image_std", [](const json& v, C& c) { c.hp.std = get_rgb(v, "image_std"); }},
      {"weight_type", [](const json& v, C& c) { c.weight_type = kFields.get_type(v, "weight_type"); }},
  };
  return table;
}

std::string known_fields() {
  std::string s;
  for (const auto& [k, _] : setters()) s += (s.empty() ? "" : ", ") + k;
  return s;
}

// The checks read_vision_hparams makes, so that every file written reads back.
void validate(const MmprojConfig& c) {
  const vision::VisionHparams& h = c.hp;
  if (h.image_size % h.patch_size != 0)
    kFields.fail(fmt::format("image_size {} is not a multiple of patch_size {}", h.image_size, h.patch_size));
  if (h.grid() % h.merge != 0)
    kFields.fail(
        fmt::format("{} patches a side (image_size / patch_size) are not a multiple of merge {}", h.grid(), h.merge));
  if (h.width % h.n_head != 0) kFields.fail(fmt::format("width {} is not a multiple of n_head {}", h.width, h.n_head));
  if (h.head_dim() % 4 != 0)
    kFields.fail(fmt::format("head dimension {} (width {} / n_head {}) is not a multiple of 4 (2D RoPE)", h.head_dim(),
                             h.width, h.n_head));
  if (!(h.eps > 0.0f && h.eps < 1.0f)) kFields.fail(fmt::format("eps {} is not in (0, 1)", h.eps));
  for (size_t i = 0; i < 3; ++i) {
    if (!std::isfinite(h.mean[i])) kFields.fail("image_mean must be finite");
    if (!(h.std[i] > 0.0f) || !std::isfinite(h.std[i])) kFields.fail("image_std must be positive and finite");
  }
}

constexpr const char* kScoutPreset = R"({
  "name": "scout-vision-random",
  "image_size": 336, "patch_size": 14, "width": 1408, "ff": 5632, "n_layer": 34, "n_head": 16,
  "eps": 1e-5, "merge": 2, "adapter": 4096, "out_width": 5120,
  "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "weight_type": "f16"
})";
constexpr const char* kTinyPreset = R"({
  "name": "scout-vision-tiny",
  "image_size": 336, "patch_size": 14, "width": 128, "ff": 512, "n_layer": 3, "n_head": 4,
  "eps": 1e-5, "merge": 2, "adapter": 192, "out_width": 256,
  "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "weight_type": "f16"
})";

const std::vector<std::pair<std::string, const char*>>& presets() {
  static const std::vector<std::pair<std::string, const char*>> p = {{"scout", kScoutPreset}, {"tiny", kTinyPreset}};
  return p;
}

// ---- Tensors ----------------------------------------------------------------------

TensorType matrix_type(TensorType want, const std::string& name, uint64_t row_len) {
  if (row_len % type_traits(want).block_size == 0) return want;
  for (TensorType t : {TensorType::Q8_0, TensorType::F16, TensorType::F32}) {
    if (row_len % type_traits(t).block_size != 0) continue;
    spdlog::info("{}: row length {} is not a multiple of {}'s block size {}; using {}", name, row_len, type_name(want),
                 type_traits(want).block_size, type_name(t));
    return t;
  }
  return TensorType::F32;
}

void write_keys(gguf::GgufWriter& w, const MmprojConfig& c) {
  using gguf::Value;
  using gguf::ValueType;
  const vision::VisionHparams& h = c.hp;
  const std::string v = "clip.vision.";
  // The converter's order (shared/testdata/llama4-vision-tiny/*.gguf).
  w.set("general.architecture", Value::string("clip"));
  w.set("general.type", Value::string("mmproj"));
  w.set("general.name", Value::string(c.name));
  // The converter writes 0 for an all-F32 file, 1 for "mostly F16".
  if (auto ft = file_type_for(c.weight_type)) w.set("general.file_type", Value::u32(*ft));
  w.set("clip.has_vision_encoder", Value::boolean(true));
  w.set(v + "projection_dim", Value::u32(h.out_width));
  w.set(v + "image_size", Value::u32(h.image_size));
  w.set(v + "patch_size", Value::u32(h.patch_size));
  w.set(v + "embedding_length", Value::u32(h.width));
  w.set(v + "feed_forward_length", Value::u32(h.ff));
  w.set(v + "block_count", Value::u32(h.n_layer));
  w.set(v + "attention.head_count", Value::u32(h.n_head));
  w.set(v + "image_mean", Value::array(ValueType::FLOAT32, std::vector<float>(h.mean.begin(), h.mean.end())));
  w.set(v + "image_std", Value::array(ValueType::FLOAT32, std::vector<float>(h.std.begin(), h.std.end())));
  w.set("clip.projector_type", Value::string("llama4"));
  w.set(v + "attention.layer_norm_epsilon", Value::f32(h.eps));
  w.set(v + "projector.scale_factor", Value::u32(h.merge));
  w.set("clip.use_gelu", Value::boolean(true));
  w.set("general.quantization_version", Value::u32(2));
}

gguf::GgufWriter::Fill make_fill(const MmprojTensor& t, uint64_t seed, uint32_t width) {
  const uint64_t key = tensor_key(seed, t.name);
  float scale = 1.0f, offset = 0.0f;
  switch (t.init) {
    case MmprojInit::Matrix: scale = 1.0f / std::sqrt(static_cast<float>(t.ne[0])); break;
    case MmprojInit::Embedding: scale = 1.0f / std::sqrt(static_cast<float>(width)); break;
    case MmprojInit::NormWeight: scale = 0.1f; offset = 1.0f; break;
    case MmprojInit::Bias: scale = 0.01f; break;
  }
  const TensorType type = t.type;
  const uint64_t row_len = t.ne[0];
  return [=](uint8_t* dst, uint64_t nbytes) {
    fill_rows(type, row_len, dst, nbytes, [&](int64_t r, float* row) {
      const uint64_t first = static_cast<uint64_t>(r) * row_len;
      for (uint64_t i = 0; i < row_len; ++i) row[i] = offset + scale * normal_at(key, first + i);
    });
  };
}

}  // namespace

MmprojConfig parse_mmproj_config(const json& j) {
  if (!j.is_object()) kFields.fail("the config must be a JSON object");
  MmprojConfig c;
  const auto& table = setters();
  for (const auto& [k, v] : j.items()) {
    auto it = table.find(k);
    if (it == table.end()) kFields.fail(fmt::format("unknown field '{}' (known: {})", k, known_fields()));
    it->second(v, c);
  }
  validate(c);
  return c;
}

std::vector<std::string> mmproj_preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, _] : presets()) names.push_back(name);
  return names;
}

json mmproj_preset_json(const std::string& name) {
  for (const auto& [n, text] : presets())
    if (n == name) return json::parse(text);
  throw std::runtime_error(
      fmt::format("unknown mmproj preset '{}' (known: {})", name, fmt::join(mmproj_preset_names(), ", ")));
}

std::vector<MmprojTensor> plan_mmproj_tensors(const MmprojConfig& c) {
  namespace vn = vision::vnames;
  const vision::VisionHparams& h = c.hp;
  const uint64_t C = h.width, p = h.patch_size, F = h.ff, P = h.adapter;
  std::vector<MmprojTensor> out;
  auto matrix = [&](const std::string& name, uint64_t n_in, uint64_t n_out) {
    out.push_back({name, matrix_type(c.weight_type, name, n_in), {n_in, n_out}, MmprojInit::Matrix});
  };
  auto f32 = [&](const std::string& name, std::vector<uint64_t> ne, MmprojInit init) {
    out.push_back({name, TensorType::F32, std::move(ne), init});
  };
  auto norm = [&](const std::string& base, uint64_t n) {
    f32(base + ".weight", {n}, MmprojInit::NormWeight);
    f32(base + ".bias", {n}, MmprojInit::Bias);
  };
  matrix(std::string(vn::kPatchEmbd), 3 * p * p, C);
  f32(std::string(vn::kClassEmbd), {C}, MmprojInit::Embedding);
  f32(std::string(vn::kPositionEmbd), {C, h.n_positions()}, MmprojInit::Embedding);
  norm(std::string(vn::kPreLn), C);
  for (uint32_t il = 0; il < h.n_layer; ++il) {
    auto lin = [&](std::string_view base, uint64_t n_in, uint64_t n_out) {
      matrix(vn::layer(il, base, "weight"), n_in, n_out);
      f32(vn::layer(il, base, "bias"), {n_out}, MmprojInit::Bias);
    };
    norm("v.blk." + std::to_string(il) + "." + std::string(vn::kLn1), C);
    for (const auto m : {vn::kAttnQ, vn::kAttnK, vn::kAttnV, vn::kAttnOut}) lin(m, C, C);
    norm("v.blk." + std::to_string(il) + "." + std::string(vn::kLn2), C);
    lin(vn::kFfnUp, C, F);
    lin(vn::kFfnDown, F, C);
  }
  norm(std::string(vn::kPostLn), C);
  matrix(std::string(vn::kAdapter1), uint64_t{h.merge} * h.merge * C, P);
  matrix(std::string(vn::kAdapter2), P, P);
  matrix(std::string(vn::kProjector), P, h.out_width);
  return out;
}

void make_mmproj(const MmprojConfig& cfg, uint64_t seed, const std::string& out_path, bool no_data) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<MmprojTensor> plan = plan_mmproj_tensors(cfg);
  if (!no_data) {
    for (const MmprojTensor& t : plan)
      if (!can_quantize(t.type))
        throw std::runtime_error(fmt::format("{}: scout cannot generate {} data (choose another type, or --no-data)",
                                             t.name, type_name(t.type)));
  }
  gguf::GgufWriter w;
  write_keys(w, cfg);
  uint64_t n_params = 0, n_bytes = 0;
  for (const MmprojTensor& t : plan) {
    uint64_t n = 1;
    for (uint64_t x : t.ne) n *= x;
    n_params += n;
    n_bytes += row_bytes(t.type, n);
    w.add_tensor(t.name, t.type, t.ne, no_data ? gguf::GgufWriter::Fill{} : make_fill(t, seed, cfg.hp.width));
  }
  spdlog::info("writing {}: llama4 vision projector, {} layers, width {}, output width {}, {:.3f} B parameters, "
               "{:.2f} GiB of tensor data{}",
               out_path, cfg.hp.n_layer, cfg.hp.width, cfg.hp.out_width, static_cast<double>(n_params) * 1e-9,
               static_cast<double>(n_bytes) / (1ull << 30), no_data ? " (left as a hole: --no-data)" : "");
  w.write(out_path);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("wrote {} in {:.2f} s", out_path, s);
}

}  // namespace scout::maker
