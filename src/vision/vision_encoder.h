// The Llama 4 vision encoder, adapter and projector (an mmproj GGUF), on a
// backend: 336 x 336 RGB tiles in, 144 embeddings of the text model's width
// per tile out (shared/docs/llama4-vision.md, "Vision encoder", "Pixel
// shuffle, adapter, projector"). The weights are placed once, at load, like
// a text model's; tiles go through the encoder together, in batches.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.h"
#include "gguf/reader.h"
#include "models/transformer_weights.h"
#include "vision/image.h"
#include "vision/mmproj.h"

namespace scout::vision {

// The order of a tile's 144 tokens after the pixel shuffle: llama.cpp's is
// column-major (t = c2 * 12 + r2), Meta's row-major (t = r2 * 12 + c2).
enum class TokenOrder { ColumnMajor, RowMajor };

// Called for the first tile of a batch after each stage, with its rows
// (row-major, cols wide): "patch_conv", "pos_embed", "pre_ln", "layer_out-N",
// "pixel_shuffle", "adapter_mlp", "projected" (the names of the oracle's dumps).
using StageObserver = std::function<void(std::string_view stage, const std::vector<float>& rows, int64_t cols)>;

class VisionEncoder {
 public:
  // Loads and checks the projector; its weights are placed on `be`. Encoding
  // computes with `compute`'s threads (0: all cores), always in f32
  // (quantized weights dequantized, activations not rounded to 8 bits).
  VisionEncoder(const std::string& path, std::shared_ptr<backend::Backend> be, backend::ComputeOptions compute = {});
  ~VisionEncoder();
  VisionEncoder(const VisionEncoder&) = delete;
  VisionEncoder& operator=(const VisionEncoder&) = delete;

  const VisionHparams& hparams() const { return hp_; }
  const gguf::GgufFile& file() const { return file_; }
  backend::Backend& backend() const { return *be_; }

  // Embeddings of the tiles in order: [tiles * tokens_per_tile][out_width], row-major.
  std::vector<float> encode(const std::vector<Image>& tiles, TokenOrder order,
                            const StageObserver& observe = nullptr) const;

  // The encoder's input for one tile: 577 rows of 3 p^2 normalised pixels
  // (patch-major; the last row, CLS's place, zero).
  std::vector<float> patch_rows(const Image& tile) const;

 private:
  struct Layer {
    backend::Tensor ln1_w, ln1_b, ln2_w, ln2_b;
    backend::Weight wq, wk, wv, wo, up, down;
    backend::Tensor bq, bk, bv, bo, b_up, b_down;
  };
  void encode_batch(const std::vector<Image>& tiles, size_t first, size_t n, TokenOrder order, float* out,
                    const StageObserver& observe) const;

  gguf::GgufFile file_;
  VisionHparams hp_;
  std::shared_ptr<backend::Backend> be_;
  backend::ComputeOptions compute_;
  PlacedStorage storage_;
  backend::Weight patch_embd_, adapter1_, adapter2_, projector_;
  backend::Tensor pre_ln_w_, pre_ln_b_, post_ln_w_, post_ln_b_;
  std::vector<Layer> layers_;
  // Host tables placed as constants: positions + CLS, and the 2D RoPE rotations.
  std::vector<float> pos_cls_host_, rope_host_;
  backend::Buffer pos_cls_, rope_;
};

}  // namespace scout::vision
