// `scout bench --mmproj P --image F`: how long the vision projector takes to
// encode an image, per image and per tile, beside the text model's pp and tg.
// Decoding and tiling are done once, outside the timing (they are the same
// work for every run); each repetition times the encoder on all the tiles,
// after one warm-up.
#pragma once

#include <string>
#include <vector>

#include "bench/stats.h"
#include "vision/image_embedding.h"
#include "vision/vision_encoder.h"

namespace scout::bench {

struct ImageBenchResult {
  std::string image;   // the path as given
  int width = 0, height = 0;
  size_t tiles = 0;
  std::string layout;  // "llamacpp" or "meta"
  int threads = 0;
  std::vector<double> samples_ms;  // encoding all the tiles, per repetition
  Summary ms;
  double ms_per_tile() const { return tiles ? ms.mean / static_cast<double>(tiles) : 0.0; }
};

ImageBenchResult bench_image(const vision::VisionEncoder& enc, const std::string& path, vision::VisionLayout layout,
                             int threads, int repetitions);

}  // namespace scout::bench
