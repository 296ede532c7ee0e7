// libFuzzer entry point for the image loader (vision/image.h): any input must
// decode or be rejected with ImageError, never crash or allocate past the
// limits. A decoded image small enough is tiled too, both ways
// (vision/tiling.h, vision/tiling_meta.h). Also linked into image_fuzz_replay,
// which replays corpus-image/ in ordinary builds.
#include <cstddef>
#include <cstdint>
#include <span>

#include "vision/image.h"
#include "vision/tiling.h"
#include "vision/tiling_meta.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  for (const auto alpha : {scout::vision::Alpha::Drop, scout::vision::Alpha::OverWhite}) {
    try {
      const scout::vision::Image im = scout::vision::decode_image(bytes, "fuzz", alpha);
      if (int64_t{im.width} * im.height <= 4096) {
        scout::vision::tile_llamacpp(im, 28);
        scout::vision::tile_meta(im, 28);
      }
    } catch (const scout::vision::ImageError&) {
    }
  }
  return 0;
}
