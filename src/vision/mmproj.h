// A Llama 4 vision projector ("mmproj" GGUF, arch `clip`, projector type
// `llama4`) as llama.cpp's converter writes it: the hyper-parameters, read
// and checked against the tensors' shapes (shared/docs/llama4-vision.md,
// "GGUF metadata" and "Tensors"). A file that is not such a projector, or
// whose keys and tensors disagree, is a GgufError naming the file and the
// key or tensor.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "gguf/reader.h"

namespace scout::vision {

// The vision tensors' names (GGUF), written once for the reader, the maker and info.
namespace vnames {
inline constexpr std::string_view kPatchEmbd = "v.patch_embd.weight";
inline constexpr std::string_view kClassEmbd = "v.class_embd";
inline constexpr std::string_view kPositionEmbd = "v.position_embd.weight";
inline constexpr std::string_view kPreLn = "v.pre_ln";
inline constexpr std::string_view kPostLn = "v.post_ln";
// Per layer "v.blk.N." + these + ".weight" / ".bias".
inline constexpr std::string_view kLn1 = "ln1";
inline constexpr std::string_view kLn2 = "ln2";
inline constexpr std::string_view kAttnQ = "attn_q";
inline constexpr std::string_view kAttnK = "attn_k";
inline constexpr std::string_view kAttnV = "attn_v";
inline constexpr std::string_view kAttnOut = "attn_out";
inline constexpr std::string_view kFfnUp = "ffn_up";
inline constexpr std::string_view kFfnDown = "ffn_down";
inline constexpr std::string_view kAdapter1 = "mm.model.mlp.1.weight";
inline constexpr std::string_view kAdapter2 = "mm.model.mlp.2.weight";
inline constexpr std::string_view kProjector = "mm.model.fc.weight";
inline std::string layer(uint32_t il, std::string_view base, std::string_view what) {
  return "v.blk." + std::to_string(il) + "." + std::string(base) + "." + std::string(what);
}
}  // namespace vnames

struct VisionHparams {
  uint32_t image_size = 336;   // tile side S
  uint32_t patch_size = 14;    // p
  uint32_t width = 1408;       // encoder width C
  uint32_t ff = 5632;          // encoder MLP width
  uint32_t n_layer = 34;
  uint32_t n_head = 16;
  float eps = 1e-5f;
  uint32_t merge = 2;          // pixel-shuffle r: r x r patches per token
  uint32_t adapter = 4096;     // P: the adapter MLP's width
  uint32_t out_width = 5120;   // the text model's d_model
  bool gelu = true;            // GELU (else quick-GELU, which llama4 never uses)
  std::array<float, 3> mean = {0.5f, 0.5f, 0.5f};
  std::array<float, 3> std = {0.5f, 0.5f, 0.5f};

  uint32_t grid() const { return image_size / patch_size; }          // G patches a side
  uint32_t n_patches() const { return grid() * grid(); }             // G^2
  uint32_t n_positions() const { return n_patches() + 1; }           // + CLS
  uint32_t head_dim() const { return width / n_head; }
  uint32_t tokens_per_tile() const { return n_patches() / (merge * merge); }  // 144
};

// Throws GgufError unless `file` is a Llama 4 projector with every tensor
// present in the shape its keys imply.
VisionHparams read_vision_hparams(const gguf::GgufFile& file);

// Whether the file says it is a projector (general.architecture = clip).
bool is_mmproj(const gguf::GgufFile& file);

}  // namespace scout::vision
