#include "bench/image_bench.h"

#include <spdlog/spdlog.h>

#include <chrono>


namespace scout::bench {

ImageBenchResult bench_image(const vision::VisionEncoder& enc, const std::string& path, vision::VisionLayout layout,
                             int threads, int repetitions) {
  const vision::Image image = vision::load_image(path, vision::alpha_for(layout));
  const vision::Tiles t = tile_image(image, static_cast<int>(enc.hparams().image_size), layout);
  const vision::TokenOrder order = token_order(layout);

  ImageBenchResult r;
  r.image = path;
  r.width = image.width;
  r.height = image.height;
  r.tiles = t.tiles.size();
  r.layout = layout == vision::VisionLayout::Meta ? "meta" : "llamacpp";
  r.threads = threads;
  enc.encode(t.tiles, order);  // warm-up: first touches of the weights and scratch
  for (int i = 0; i < repetitions; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    enc.encode(t.tiles, order);
    r.samples_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  r.ms = summarize(r.samples_ms);
  spdlog::info("bench: image {} ({} tiles, {} threads): {:.1f} ms, {:.1f} ms a tile", path, r.tiles, threads, r.ms.mean,
               r.ms_per_tile());
  return r;
}

}  // namespace scout::bench
