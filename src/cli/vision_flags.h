// --mmproj, --image and --vision-layout: images in the prompt, through the
// vision projector (run, chat, batch and bench share them).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "tokenizer/tokenizer.h"
#include "vision/image_embedding.h"
#include "vision/vision_encoder.h"

namespace scout::cli {

struct VisionFlags {
  std::string mmproj;
  std::vector<std::string> images;
  std::string layout = "llamacpp";

  bool any() const { return !mmproj.empty() || !images.empty(); }
  vision::VisionLayout vision_layout() const { return vision::parse_vision_layout(layout); }
};

// with_images: the command takes --image (run, bench); chat and batch name images elsewhere.
void add_vision_flags(CLI::App* cmd, VisionFlags& f, bool with_images = true);

// The projector at `path` on the model's backend, with `threads`; its output
// width must be the model's width (else a runtime_error naming the file).
std::unique_ptr<vision::VisionEncoder> open_projector(const Model& model, const std::string& path, int threads);

// The projector of --mmproj on the model's backend (null without --mmproj),
// checked against the model: its output width must be the model's width and
// the vocabulary must have the layout's image tokens. Throws one line naming
// the file: a UsageError for --image without --mmproj, a runtime_error else.
std::unique_ptr<vision::VisionEncoder> load_projector(const Model& model, const tokenizer::Tokenizer& tok,
                                                      const VisionFlags& f, int threads);

// Each --image, decoded, tiled and encoded for the layout (in order).
std::vector<vision::EncodedImage> encode_images(const vision::VisionEncoder* enc, const VisionFlags& f);

}  // namespace scout::cli
