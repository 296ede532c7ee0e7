#include "vision/image.h"

#include <stb/stb_image.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <fstream>
#include <iterator>
#include <memory>

namespace scout::vision {

namespace {

bool starts_with(std::span<const uint8_t> b, std::initializer_list<uint8_t> magic) {
  return b.size() >= magic.size() && std::equal(magic.begin(), magic.end(), b.begin());
}

uint32_t le32(std::span<const uint8_t> b, size_t at) {
  return uint32_t{b[at]} | uint32_t{b[at + 1]} << 8 | uint32_t{b[at + 2]} << 16 | uint32_t{b[at + 3]} << 24;
}

uint32_t be16(std::span<const uint8_t> b, size_t at) { return uint32_t{b[at]} << 8 | b[at + 1]; }
uint32_t be32(std::span<const uint8_t> b, size_t at) { return be16(b, at) << 16 | be16(b, at + 2); }
uint32_t le16(std::span<const uint8_t> b, size_t at) { return uint32_t{b[at]} | uint32_t{b[at + 1]} << 8; }

// The size a header declares, read here so that the limits are checked
// before stb_image allocates anything (its own checks end in a generic
// "unknown image type"). Zero when the header does not say.
struct Size {
  int64_t width = 0;
  int64_t height = 0;
  int64_t pixel_bytes = 0;  // PPM: where the pixels start
  int64_t channels = 0;     // PPM: 3 (P6) or 1 (P5)
  int64_t max_value = 0;    // PPM
  bool known = false;       // whether the header was read
};

// PPM/PGM: "P6", then width, height and maxval as decimal numbers separated
// by whitespace or #-comments, then one whitespace byte and the pixels.
Size pnm_size(std::span<const uint8_t> b) {
  Size sz;
  sz.channels = b[1] == '6' ? 3 : 1;
  size_t at = 2;
  int64_t v[3] = {0, 0, 0};
  for (int64_t& x : v) {
    while (at < b.size() && (std::isspace(b[at]) || b[at] == '#')) {
      if (b[at] == '#')
        while (at < b.size() && b[at] != '\n') ++at;
      else
        ++at;
    }
    if (at >= b.size() || !std::isdigit(b[at])) return {};
    while (at < b.size() && std::isdigit(b[at]) && x < (int64_t{1} << 40)) x = x * 10 + (b[at++] - '0');
  }
  sz.width = v[0];
  sz.height = v[1];
  sz.max_value = v[2];
  sz.pixel_bytes = static_cast<int64_t>(at) + 1;
  sz.known = true;
  return sz;
}

Size declared_size(const std::string& format, std::span<const uint8_t> b) {
  Size sz;
  auto size = [](int64_t w, int64_t h) {
    Size s;
    s.width = w;
    s.height = h;
    s.known = true;
    return s;
  };
  if (format == "png" && b.size() >= 24) return size(be32(b, 16), be32(b, 20));
  if (format == "gif" && b.size() >= 10) return size(le16(b, 6), le16(b, 8));
  if (format == "bmp" && b.size() >= 26) {
    if (le32(b, 14) == 12) return size(le16(b, 18), le16(b, 20));
    const auto h = static_cast<int32_t>(le32(b, 22));
    return size(static_cast<int32_t>(le32(b, 18)), h < 0 ? -int64_t{h} : h);
  }
  if (format == "ppm") return pnm_size(b);
  if (format == "jpeg") {
    // Walk the marker segments to the frame header (SOF0..SOF15 but DHT, JPG, DAC).
    size_t at = 2;
    while (at + 9 < b.size()) {
      if (b[at] != 0xFF) return sz;
      const uint8_t m = b[at + 1];
      if (m == 0xFF) {
        ++at;
        continue;
      }
      if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) return size(be16(b, at + 7), be16(b, at + 5));
      at += 2 + be16(b, at + 2);
    }
  }
  return sz;
}

// Walks a JPEG's marker segments to the end-of-image marker. Besides
// truncation (no EOI: stb_image would decode zeros), it checks each Huffman
// table's code count: libstb-dev's stb_image 2.27 writes past a 257-entry
// array for a table of more than 256 codes (fixed upstream in 2.28).
std::string jpeg_problem(std::span<const uint8_t> b) {
  size_t at = 2;
  bool scanned = false;
  while (at + 1 < b.size()) {
    if (b[at] != 0xFF) {  // stray bytes between segments: stb_image skips them too
      ++at;
      continue;
    }
    const uint8_t m = b[at + 1];
    if (m == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (m == 0xD9) return scanned ? "" : "no image data (end of image before any scan)";
    if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) {
      at += 2;
      continue;
    }
    if (at + 4 > b.size()) break;
    const size_t len = be16(b, at + 2), end = at + 2 + len;
    if (m == 0xC4) {
      // Every table as stb_image reads them, also one running past the end of the file.
      for (size_t p = at + 4; p < std::min(end, b.size());) {
        size_t codes = 0;
        for (size_t i = 1; i <= 16 && p + i < b.size(); ++i) codes += b[p + i];
        if (codes > 256) return fmt::format("corrupt (a Huffman table of {} codes, at most 256)", codes);
        p += 17 + codes;
      }
    }
    if (len < 2 || end > b.size()) break;
    at = end;
    if (m == 0xDA) {
      // Entropy-coded data: an FF in it is followed by 00 (a stuffed byte) or a restart marker.
      scanned = true;
      while (at + 1 < b.size() && !(b[at] == 0xFF && b[at + 1] != 0x00 && !(b[at + 1] >= 0xD0 && b[at + 1] <= 0xD7))) ++at;
    }
  }
  return "truncated (no end-of-image marker)";
}

// Why a file is incomplete, or unsafe to hand to stb_image: its readers fill
// missing bytes with zeros instead of failing (and skip checksums), so a
// cut-off file would come out as a silently grey or black image, and some
// malformed headers make version 2.27 write out of bounds. "" when sound.
std::string structure_problem(const std::string& format, std::span<const uint8_t> b) {
  if (format == "jpeg") return jpeg_problem(b);
  if (format == "bmp") {
    if (b.size() < 34) return "truncated (header)";
    const uint32_t offset = le32(b, 10), header = le32(b, 14);
    if (header < 40) return "";  // OS/2 headers: stb checks them itself
    const auto w = static_cast<int32_t>(le32(b, 18)), h = static_cast<int32_t>(le32(b, 22));
    const uint32_t bpp = uint32_t{b[28]} | uint32_t{b[29]} << 8, compression = le32(b, 30);
    if (compression != 0 && compression != 3) return "";  // run-length coded: no fixed size
    const uint64_t stride = (static_cast<uint64_t>(std::max(w, 0)) * bpp + 31) / 32 * 4;
    const uint64_t need = offset + stride * static_cast<uint64_t>(h < 0 ? -static_cast<int64_t>(h) : h);
    if (need > b.size()) return fmt::format("truncated ({} bytes, the pixels need {})", b.size(), need);
    return "";
  }
  if (format == "png") {
    // Every chunk must fit in the file (stb_image grows its buffer to a
    // chunk's declared length before reading it: a few hundred bytes could
    // claim gigabytes), up to the IEND chunk that closes a complete PNG.
    for (size_t at = 8; at + 12 <= b.size();) {
      const uint32_t len = be32(b, at);
      if (len > b.size() - at - 12)
        return fmt::format("truncated (a chunk of {} bytes with {} left)", len, b.size() - at - 12);
      if (std::equal(b.begin() + static_cast<std::ptrdiff_t>(at) + 4, b.begin() + static_cast<std::ptrdiff_t>(at) + 8,
                     "IEND"))
        return "";
      at += 12 + len;
    }
    return "truncated (no IEND chunk)";
  }
  if (format == "gif") {
    if (b.back() != 0x3B) return "truncated (no GIF trailer)";
  }
  if (format == "ppm") {
    const Size sz = pnm_size(b);
    // (stb_image's own header parser overflows an int on longer numbers.)
    if (!sz.known) return "corrupt header";
    if (sz.max_value < 1 || sz.max_value > 65535) return fmt::format("corrupt (maximum value {})", sz.max_value);
    // libstb-dev's stb_image 2.27 overruns its buffer converting 16-bit PNM to RGB.
    if (sz.max_value > 255) return fmt::format("16-bit PPM/PGM (maximum value {}) is not supported", sz.max_value);
    const int64_t need = sz.pixel_bytes + sz.width * sz.height * sz.channels;
    if (need > static_cast<int64_t>(b.size())) return fmt::format("truncated ({} bytes, the pixels need {})", b.size(), need);
  }
  return "";
}

}  // namespace

std::string sniff_image_format(std::span<const uint8_t> b) {
  if (starts_with(b, {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A})) return "png";
  if (starts_with(b, {0xFF, 0xD8, 0xFF})) return "jpeg";
  if (starts_with(b, {'B', 'M'})) return "bmp";
  if (starts_with(b, {'G', 'I', 'F', '8'})) return "gif";
  if (starts_with(b, {'P', '6'}) || starts_with(b, {'P', '5'})) return "ppm";
  return "";
}

Image decode_image(std::span<const uint8_t> bytes, const std::string& name, Alpha alpha) {
  auto fail = [&](const std::string& why) { return ImageError(fmt::format("{}: {}", name, why)); };
  if (bytes.empty()) throw fail("empty file");
  if (bytes.size() > kMaxImageFileBytes || bytes.size() > static_cast<size_t>(INT_MAX))
    throw fail(fmt::format("{} bytes is too large for an image file", bytes.size()));
  const std::string format = sniff_image_format(bytes);
  if (format.empty()) throw fail("not an image format scout reads (PNG, JPEG, BMP, GIF, PPM)");

  const Size sz = declared_size(format, bytes);
  if (sz.known && (sz.width <= 0 || sz.height <= 0))
    throw fail(fmt::format("zero-sized image ({}x{})", sz.width, sz.height));
  if (sz.width > kMaxImageSide || sz.height > kMaxImageSide || sz.width * sz.height > kMaxImagePixels)
    throw fail(fmt::format("{}x{} is too large (at most {} pixels a side and {} in all)", sz.width, sz.height,
                           kMaxImageSide, kMaxImagePixels));
  if (const std::string why = structure_problem(format, bytes); !why.empty()) throw fail(fmt::format("{}: {}", format, why));
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &channels))
    throw fail(fmt::format("corrupt {} header ({})", format, stbi_failure_reason()));
  if (w <= 0 || h <= 0) throw fail(fmt::format("zero-sized image ({}x{})", w, h));
  if (w > kMaxImageSide || h > kMaxImageSide || int64_t{w} * h > kMaxImagePixels)
    throw fail(fmt::format("{}x{} is too large (at most {} pixels a side and {} in all)", w, h, kMaxImageSide,
                           kMaxImagePixels));

  const int want = alpha == Alpha::Drop ? 3 : 4;
  int dw = 0, dh = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(bytes.data(), len, &dw, &dh, &channels, want),
                                               stbi_image_free);
  if (!px) throw fail(fmt::format("corrupt {} ({})", format, stbi_failure_reason()));
  if (dw != w || dh != h) throw fail(fmt::format("corrupt {} (header says {}x{}, data {}x{})", format, w, h, dw, dh));

  Image im;
  im.width = w;
  im.height = h;
  const size_t n = static_cast<size_t>(w) * static_cast<size_t>(h);
  if (want == 3) {
    im.rgb.assign(px.get(), px.get() + n * 3);
    return im;
  }
  // Over white: c' = (c a + 255 (255 - a)) / 255, rounded.
  im.rgb.resize(n * 3);
  const stbi_uc* s = px.get();
  for (size_t i = 0; i < n; ++i, s += 4) {
    const unsigned a = s[3];
    for (int c = 0; c < 3; ++c) im.rgb[i * 3 + c] = static_cast<uint8_t>((s[c] * a + 255 * (255 - a) + 127) / 255);
  }
  return im;
}

Image load_image(const std::string& path, Alpha alpha) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw ImageError(fmt::format("{}: cannot open", path));
  const std::streamoff size = f.tellg();
  if (size < 0) throw ImageError(fmt::format("{}: cannot read", path));
  if (static_cast<uint64_t>(size) > kMaxImageFileBytes)
    throw ImageError(fmt::format("{}: {} bytes is too large for an image file", path, size));
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  f.seekg(0);
  if (!f.read(reinterpret_cast<char*>(bytes.data()), size)) throw ImageError(fmt::format("{}: cannot read", path));
  return decode_image(bytes, path, alpha);
}

}  // namespace scout::vision
