// Images for the vision encoder, decoded to 8-bit RGB by stb_image (Debian's
// libstb): the decoder llama.cpp uses, so a JPEG gives the same pixels bit
// for bit (other decoders differ by a few levels, which moves the image
// embeddings ten times more than any arithmetic does).
//
// Accepted: PNG, JPEG (baseline and progressive), BMP, GIF (first frame),
// 8-bit PPM/PGM. Anything else, a truncated or corrupt file, a zero-sized image or
// one too large to hold is an ImageError naming the file and the problem;
// the size is checked from the header, before any pixel is allocated.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace scout::vision {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel: R, G, B

  // A black image of that size.
  static Image blank(int width, int height) {
    Image im;
    im.width = width;
    im.height = height;
    im.rgb.assign(static_cast<size_t>(width) * height * 3, 0);
    return im;
  }

  uint8_t at(int x, int y, int c) const { return rgb[(static_cast<size_t>(y) * width + x) * 3 + c]; }
  uint8_t& at(int x, int y, int c) { return rgb[(static_cast<size_t>(y) * width + x) * 3 + c]; }
};

// What an alpha channel does: Drop keeps the stored colours (llama.cpp reads
// every image as RGB); OverWhite composites over white (Hugging Face's
// processor, used with Meta's layout).
enum class Alpha { Drop, OverWhite };

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Limits checked before decoding: a side of at most kMaxImageSide pixels and
// at most kMaxImagePixels pixels in all (a 100000 x 100000 header is refused
// without allocating anything).
constexpr int64_t kMaxImageSide = 32768;
constexpr int64_t kMaxImagePixels = int64_t{1} << 27;  // 134 M pixels, 512 MiB as RGBA
constexpr size_t kMaxImageFileBytes = size_t{1} << 30;

// `name` is what errors call the image (a path, "line 3's image 1").
Image decode_image(std::span<const uint8_t> bytes, const std::string& name, Alpha alpha = Alpha::Drop);
Image load_image(const std::string& path, Alpha alpha = Alpha::Drop);

// The format named by the file's first bytes ("png", "jpeg", ...), or "" when none scout reads.
std::string sniff_image_format(std::span<const uint8_t> bytes);

}  // namespace scout::vision
