#include "cli/vision_flags.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "cli/command.h"
#include "vision/tiling.h"
#include "vision/vision_encoder.h"

namespace scout::cli {

void add_vision_flags(CLI::App* cmd, VisionFlags& f) {
  cmd->add_option("--mmproj", f.mmproj, "vision projector GGUF (mmproj) for --image");
  cmd->add_option("--image", f.images,
                  "an image (PNG, JPEG, BMP, GIF, PPM) for the prompt; repeatable. Images go first in the user turn, "
                  "or where the prompt has <__media__> markers");
}

std::vector<std::vector<float>> encode_images(const Model& model, const VisionFlags& f, int threads) {
  if (!f.images.empty() && f.mmproj.empty()) throw UsageError("--image needs --mmproj FILE (the vision projector)");
  if (f.mmproj.empty()) return {};
  const auto t0 = std::chrono::steady_clock::now();
  vision::VisionEncoder enc(f.mmproj, model.shared_backend(), {threads, true});
  if (enc.hparams().out_width != model.hparams().d_model)
    throw std::runtime_error(fmt::format("{}: the projector's output width {} is not the text model's width {}", f.mmproj,
                                         enc.hparams().out_width, model.hparams().d_model));
  std::vector<std::vector<float>> rows;
  size_t tiles = 0;
  for (const std::string& path : f.images) {
    const vision::Tiles t = vision::tile_llamacpp(vision::load_image(path), static_cast<int>(enc.hparams().image_size));
    tiles += t.tiles.size();
    rows.push_back(enc.encode(t.tiles, vision::TokenOrder::ColumnMajor));
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!f.images.empty())
    spdlog::info("images: {} ({} tiles) encoded in {:.2f} s", f.images.size(), tiles, s);
  return rows;
}

}  // namespace scout::cli
