// `scout info` on a vision projector (mmproj): the encoder's shapes, the
// tiling, what a tile becomes in the text model, and the parameters.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/human.h"
#include "cli/info_projector.h"
#include "vision/mmproj.h"

namespace scout::cli {

void print_projector_info(const gguf::GgufFile& f, bool json, bool with_tensors) {
  const std::string& path = f.path();
  const vision::VisionHparams h = vision::read_vision_hparams(f);
  uint64_t params = 0, bytes = 0;
  for (const gguf::TensorInfo& t : f.tensors()) {
    params += t.n_elements();
    bytes += t.nbytes;
  }
  const uint32_t tiles_llamacpp = 3 * 3 + 1, tiles_meta = 16 + 1;  // grid tiles plus the overview
  if (json) {
    nlohmann::json j = {{"file", path},
                        {"kind", "vision projector"},
                        {"projector_type", "llama4"},
                        {"image_size", h.image_size},
                        {"patch_size", h.patch_size},
                        {"patches_per_side", h.grid()},
                        {"positions", h.n_positions()},
                        {"encoder", {{"layers", h.n_layer}, {"width", h.width}, {"heads", h.n_head},
                                     {"head_dim", h.head_dim()}, {"ff", h.ff}, {"eps", h.eps}}},
                        {"merge", h.merge},
                        {"tokens_per_tile", h.tokens_per_tile()},
                        {"adapter_width", h.adapter},
                        {"output_width", h.out_width},
                        {"max_tiles", {{"llamacpp", tiles_llamacpp}, {"meta", tiles_meta}}},
                        {"image_mean", h.mean},
                        {"image_std", h.std},
                        {"parameters", params},
                        {"bytes", bytes}};
    if (with_tensors) {
      nlohmann::json ts = nlohmann::json::array();
      for (const gguf::TensorInfo& t : f.tensors())
        ts.push_back({{"name", t.name}, {"type", type_name(t.type)}, {"shape", t.shape_string()}, {"bytes", t.nbytes}});
      j["tensors"] = ts;
    }
    fmt::print("{}\n", j.dump(2));
    std::fflush(stdout);
    return;
  }
  auto line = [](std::string_view k, const std::string& v) { fmt::print("  {:<24} {}\n", k, v); };
  fmt::print("file: {}\n", path);
  line("size", human_bytes(f.file_size()));
  line("kind", "vision projector (llama4)");
  fmt::print("\nimage:\n");
  line("tile", fmt::format("{}x{} pixels, patches of {} ({} x {}), {} positions with CLS", h.image_size, h.image_size,
                           h.patch_size, h.grid(), h.grid(), h.n_positions()));
  line("tiles per image", fmt::format("up to {} (llama.cpp layout: 3x3 grid + overview), {} (Meta: 16 + global)",
                                      tiles_llamacpp, tiles_meta));
  line("normalisation", fmt::format("mean [{}], std [{}]", fmt::join(h.mean, ", "), fmt::join(h.std, ", ")));
  fmt::print("\nencoder:\n");
  line("layers", std::to_string(h.n_layer));
  line("width", std::to_string(h.width));
  line("heads", fmt::format("{} x {} (2D RoPE)", h.n_head, h.head_dim()));
  line("MLP width", fmt::format("{} (GELU)", h.ff));
  fmt::print("\nprojection:\n");
  line("pixel shuffle", fmt::format("{} x {} patches per token: {} tokens per tile of width {}", h.merge, h.merge,
                                    h.tokens_per_tile(), h.merge * h.merge * h.width));
  line("adapter", fmt::format("{} -> {} -> {} (GELU)", h.merge * h.merge * h.width, h.adapter, h.adapter));
  line("output width", fmt::format("{} (the text model's d_model)", h.out_width));
  line("parameters", fmt::format("{} ({})", human_count(params), human_bytes(bytes)));
  if (with_tensors) {
    fmt::print("\ntensors ({}):\n", f.tensors().size());
    for (const gguf::TensorInfo& t : f.tensors())
      fmt::print("  {:<36} {:<8} {:<24} {:>12}\n", t.name, type_name(t.type), t.shape_string(), t.nbytes);
  }
  std::fflush(stdout);
}

}  // namespace scout::cli
