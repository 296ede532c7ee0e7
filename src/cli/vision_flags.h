// --mmproj and --image: images in the prompt, through the vision projector.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "models/model.h"

namespace scout::cli {

struct VisionFlags {
  std::string mmproj;
  std::vector<std::string> images;

  bool any() const { return !mmproj.empty() || !images.empty(); }
};

void add_vision_flags(CLI::App* cmd, VisionFlags& f);

// Each image's rows for the text model ([rows][d_model] embeddings: every
// tile's 144, the grid row-major, then the overview), encoded by the
// projector on the model's backend with `threads`. Throws (one line naming
// the file) for an --image without --mmproj, a projector whose output width
// is not the model's, or an image that cannot be read.
std::vector<std::vector<float>> encode_images(const Model& model, const VisionFlags& f, int threads);

}  // namespace scout::cli
