#include "cli/vision_flags.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "cli/command.h"
#include "vision/media_prompt.h"

namespace scout::cli {

void add_vision_flags(CLI::App* cmd, VisionFlags& f, bool with_images) {
  cmd->add_option("--mmproj", f.mmproj, "vision projector GGUF (mmproj) for images");
  if (with_images)
    cmd->add_option("--image", f.images,
                    "an image (PNG, JPEG, BMP, GIF, PPM) for the prompt; repeatable. Images go first in the user turn, "
                    "or where the prompt has <__media__> markers");
  cmd->add_option("--vision-layout", f.layout,
                  "how images are tiled and framed: llamacpp (default; llama.cpp's, up to 3x3 tiles) or meta (Meta's "
                  "reference the model was trained with: up to 16 tiles, tile separators, row-major tokens)")
      ->check(CLI::IsMember({"llamacpp", "meta"}));
}

std::unique_ptr<vision::VisionEncoder> open_projector(const Model& model, const std::string& path, int threads) {
  auto enc = std::make_unique<vision::VisionEncoder>(path, model.shared_backend(), backend::ComputeOptions{threads});
  if (enc->hparams().out_width != model.hparams().d_model)
    throw std::runtime_error(fmt::format("{}: the projector's output width {} is not the text model's width {}", path,
                                         enc->hparams().out_width, model.hparams().d_model));
  return enc;
}

std::unique_ptr<vision::VisionEncoder> load_projector(const Model& model, const tokenizer::Tokenizer& tok,
                                                      const VisionFlags& f, int threads) {
  if (!f.images.empty() && f.mmproj.empty()) throw UsageError("--image needs --mmproj FILE (the vision projector)");
  if (f.mmproj.empty()) return nullptr;
  std::unique_ptr<vision::VisionEncoder> enc = open_projector(model, f.mmproj, threads);
  const bool meta = f.vision_layout() == vision::VisionLayout::Meta;
  std::vector<std::string> needed = {"<|image_start|>", "<|image_end|>"};
  if (meta) needed.insert(needed.end(), {"<|image|>", "<|tile_x_separator|>", "<|tile_y_separator|>"});
  for (const std::string& name : needed) {
    if (vision::special_token_id(tok, name) < 0)
      throw std::runtime_error(fmt::format("{}: the text model's vocabulary has no {} token: it does not take images{}",
                                           model.file().path(), name, meta ? " in Meta's layout" : ""));
  }
  return enc;
}

std::vector<vision::EncodedImage> encode_images(const vision::VisionEncoder* enc, const VisionFlags& f) {
  if (!enc || f.images.empty()) return {};
  const auto t0 = std::chrono::steady_clock::now();
  const vision::VisionLayout layout = f.vision_layout();
  std::vector<vision::EncodedImage> out;
  size_t tiles = 0;
  for (const std::string& path : f.images) {
    out.push_back(vision::encode_image_at(*enc, path, path, layout));
    tiles += out.back().n_tiles;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("images: {} ({} tiles) encoded in {:.2f} s", f.images.size(), tiles, s);
  return out;
}

}  // namespace scout::cli
