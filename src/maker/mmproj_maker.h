// Writes random-weight Llama 4 vision projectors ("mmproj" GGUF, arch `clip`,
// projector type `llama4`) with the keys, key order, tensor names, shapes and
// types llama.cpp's converter writes (shared/docs/llama4-vision.md). Like the
// text maker (model_maker.h), every value depends only on (seed, tensor name,
// element index): files are byte-identical across runs and thread counts.
//
// Values: matrices ~ N(0, 1/fan_in) (activations keep unit scale through the
// 34 layers and the adapter), class and position embeddings ~ N(0, 1/C),
// LayerNorm weights 1 + 0.1 N(0,1), biases 0.01 N(0,1). 1-D tensors and the
// position embeddings are F32; matrices take the chosen type, falling back to
// q8_0, f16, f32 when a row does not fit its block (v.patch_embd's 588, as
// the converter falls back to f16).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tensor/types.h"
#include "vision/mmproj.h"

namespace scout::maker {

struct MmprojConfig {
  std::string name = "scout-vision-random";
  vision::VisionHparams hp;  // all of its fields are written; gelu is always true
  TensorType weight_type = TensorType::F16;
};

// Parses and validates JSON with the fields name, image_size, patch_size,
// width, ff, n_layer, n_head, eps, merge, adapter, out_width, image_mean,
// image_std, weight_type (missing ones keep the Scout values); an unknown
// field, a wrong type or a shape the reader would refuse is a
// std::runtime_error "mmproj config: ..." naming the field.
MmprojConfig parse_mmproj_config(const nlohmann::json& j);
// Built-in shapes: "scout" (Llama 4 Scout / Maverick's encoder) and "tiny"
// (shared/testdata/llama4-vision-tiny's). Throws listing the known names.
nlohmann::json mmproj_preset_json(const std::string& name);
std::vector<std::string> mmproj_preset_names();

enum class MmprojInit {
  Matrix,     // normal / sqrt(ne[0])
  Embedding,  // class and position embeddings: normal / sqrt(width)
  NormWeight, // 1 + 0.1 normal
  Bias,       // 0.01 normal
};

struct MmprojTensor {
  std::string name;
  TensorType type;
  std::vector<uint64_t> ne;  // ne[0] is the row length
  MmprojInit init;
};

// The tensors in the converter's file order, with their final types.
std::vector<MmprojTensor> plan_mmproj_tensors(const MmprojConfig& cfg);

// Writes the projector. With no_data the tensor data is left as a hole.
void make_mmproj(const MmprojConfig& cfg, uint64_t seed, const std::string& out_path, bool no_data = false);

}  // namespace scout::maker
