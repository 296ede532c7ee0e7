#include "vision/mmproj.h"

#include <fmt/format.h>

#include <vector>

namespace scout::vision {

namespace {

[[noreturn]] void fail(const gguf::GgufFile& f, const std::string& what) {
  throw gguf::GgufError(fmt::format("{}: {}", f.path(), what));
}

uint32_t key_u32(const gguf::GgufFile& f, const std::string& key, std::optional<uint32_t> fallback = std::nullopt) {
  const std::optional<uint64_t> v = f.get_uint(key);
  if (!v) {
    if (fallback) return *fallback;
    fail(f, fmt::format("missing key {}", key));
  }
  if (*v == 0 || *v > (1u << 20)) fail(f, fmt::format("key {} = {} is out of range", key, *v));
  return static_cast<uint32_t>(*v);
}

std::array<float, 3> key_rgb(const gguf::GgufFile& f, const std::string& key, std::array<float, 3> fallback) {
  const gguf::Value* v = f.find(key);
  if (!v) return fallback;
  if (!v->is_array() || v->array_size() != 3) fail(f, fmt::format("key {} must be an array of 3 numbers", key));
  std::array<float, 3> out{};
  for (size_t i = 0; i < 3; ++i) out[i] = static_cast<float>(v->float_at(i));
  return out;
}

}  // namespace

bool is_mmproj(const gguf::GgufFile& file) {
  const std::optional<std::string> arch = file.get_string("general.architecture");
  return arch && *arch == "clip";
}

VisionHparams read_vision_hparams(const gguf::GgufFile& f) {
  if (!is_mmproj(f)) fail(f, "not a vision projector (general.architecture is not 'clip')");
  if (f.get_bool("clip.has_vision_encoder") == false) fail(f, "the projector has no vision encoder");
  std::optional<std::string> type = f.get_string("clip.projector_type");
  if (!type) type = f.get_string("clip.vision.projector_type");
  if (!type) fail(f, "missing key clip.projector_type");
  if (*type != "llama4") fail(f, fmt::format("projector type '{}' is not supported (scout reads llama4)", *type));

  VisionHparams h;
  const std::string v = "clip.vision.";
  h.image_size = key_u32(f, v + "image_size");
  h.patch_size = key_u32(f, v + "patch_size");
  h.width = key_u32(f, v + "embedding_length");
  h.ff = key_u32(f, v + "feed_forward_length");
  h.n_layer = key_u32(f, v + "block_count");
  h.n_head = key_u32(f, v + "attention.head_count");
  h.merge = key_u32(f, v + "projector.scale_factor", 1u);
  const std::optional<double> eps = f.get_float(v + "attention.layer_norm_epsilon");
  h.eps = eps ? static_cast<float>(*eps) : 1e-5f;
  if (!(h.eps > 0.0f && h.eps < 1.0f)) fail(f, fmt::format("key {}attention.layer_norm_epsilon = {} is out of range", v, h.eps));
  h.gelu = f.get_bool("clip.use_gelu").value_or(false);
  if (!h.gelu) fail(f, "clip.use_gelu is not set: quick-GELU projectors are not Llama 4's");
  h.mean = key_rgb(f, v + "image_mean", h.mean);
  h.std = key_rgb(f, v + "image_std", h.std);
  for (const float s : h.std)
    if (!(s > 0.0f)) fail(f, "clip.vision.image_std must be positive");

  if (h.image_size % h.patch_size != 0)
    fail(f, fmt::format("image size {} is not a multiple of the patch size {}", h.image_size, h.patch_size));
  if (h.grid() % h.merge != 0)
    fail(f, fmt::format("{} patches a side do not merge by {}", h.grid(), h.merge));
  if (h.width % h.n_head != 0 || h.head_dim() % 4 != 0)
    fail(f, fmt::format("width {} over {} heads is not a head dimension divisible by 4 (2D RoPE)", h.width, h.n_head));

  // Shapes: the adapter and output widths come from the tensors, as llama.cpp reads them.
  const uint64_t C = h.width, p = h.patch_size;
  f.require_tensor(vnames::kPatchEmbd, {3 * p * p, C});
  f.require_tensor(vnames::kClassEmbd, {C});
  f.require_tensor(vnames::kPositionEmbd, {C, h.n_positions()});
  for (const auto ln : {vnames::kPreLn, vnames::kPostLn}) {
    f.require_tensor(std::string(ln) + ".weight", {C});
    f.require_tensor(std::string(ln) + ".bias", {C});
  }
  for (uint32_t il = 0; il < h.n_layer; ++il) {
    for (const auto ln : {vnames::kLn1, vnames::kLn2}) {
      f.require_tensor(vnames::layer(il, ln, "weight"), {C});
      f.require_tensor(vnames::layer(il, ln, "bias"), {C});
    }
    for (const auto m : {vnames::kAttnQ, vnames::kAttnK, vnames::kAttnV, vnames::kAttnOut}) {
      f.require_tensor(vnames::layer(il, m, "weight"), {C, C});
      f.require_tensor(vnames::layer(il, m, "bias"), {C});
    }
    f.require_tensor(vnames::layer(il, vnames::kFfnUp, "weight"), {C, h.ff});
    f.require_tensor(vnames::layer(il, vnames::kFfnUp, "bias"), {h.ff});
    f.require_tensor(vnames::layer(il, vnames::kFfnDown, "weight"), {h.ff, C});
    f.require_tensor(vnames::layer(il, vnames::kFfnDown, "bias"), {C});
  }
  const gguf::TensorInfo* a1 = f.find_tensor(vnames::kAdapter1);
  if (!a1) fail(f, fmt::format("missing tensor {}", vnames::kAdapter1));
  h.adapter = static_cast<uint32_t>(a1->ne[1]);
  f.require_tensor(vnames::kAdapter1, {uint64_t{h.merge} * h.merge * C, h.adapter});
  f.require_tensor(vnames::kAdapter2, {h.adapter, h.adapter});
  const gguf::TensorInfo* fc = f.find_tensor(vnames::kProjector);
  if (!fc) fail(f, fmt::format("missing tensor {}", vnames::kProjector));
  h.out_width = static_cast<uint32_t>(fc->ne[1]);
  f.require_tensor(vnames::kProjector, {h.adapter, h.out_width});
  return h;
}

}  // namespace scout::vision
