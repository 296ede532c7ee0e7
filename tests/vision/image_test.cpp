// Image decoding: the oracle's JPEG pixels, every accepted format, alpha, and
// one ImageError (never a crash) for each kind of bad file.
#include "vision/image.h"

#include <gtest/gtest.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "test_util.h"

namespace scout::vision {
namespace {

// A small image with every channel varying, w x h x n bytes.
std::vector<uint8_t> pattern(int w, int h, int n) {
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * n);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 37 + i / 7) & 0xFF);
  return px;
}

// stb_image_write's output as bytes.
std::vector<uint8_t> encode(int (*write)(stbi_write_func*, void*, int, int, int, const void*), int w, int h, int n,
                            const std::vector<uint8_t>& px) {
  std::vector<uint8_t> out;
  write([](void* ctx, void* data, int size) {
    auto* o = static_cast<std::vector<uint8_t>*>(ctx);
    o->insert(o->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  }, &out, w, h, n, px.data());
  return out;
}
int write_png(stbi_write_func* f, void* c, int w, int h, int n, const void* d) { return stbi_write_png_to_func(f, c, w, h, n, d, 0); }
int write_bmp(stbi_write_func* f, void* c, int w, int h, int n, const void* d) { return stbi_write_bmp_to_func(f, c, w, h, n, d); }
int write_jpg(stbi_write_func* f, void* c, int w, int h, int n, const void* d) { return stbi_write_jpg_to_func(f, c, w, h, n, d, 90); }

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    decode_image(bytes, "img");
  } catch (const ImageError& e) {
    return e.what();
  }
  return "";
}

TEST(Image, JpegPixelsAreTheOraclesDecodersBitForBit) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  const Image jpg = load_image(test::vision_oracle_dir() + "images/photo-400x380.jpg");
  const Image png = load_image(test::vision_oracle_dir() + "images/photo-400x380.decoded.png");
  ASSERT_EQ(jpg.width, 400);
  ASSERT_EQ(jpg.height, 380);
  ASSERT_EQ(png.width, 400);
  EXPECT_EQ(jpg.rgb, png.rgb);
}

TEST(Image, ReadsPngBmpPpmGifAndJpeg) {
  const int w = 13, h = 7;
  const std::vector<uint8_t> px = pattern(w, h, 3);
  for (auto* write : {write_png, write_bmp}) {
    const Image im = decode_image(encode(write, w, h, 3, px), "img");
    EXPECT_EQ(im.width, w);
    EXPECT_EQ(im.height, h);
    EXPECT_EQ(im.rgb, px);
  }
  const Image jpg = decode_image(encode(write_jpg, w, h, 3, px), "img");  // lossy: only the size
  EXPECT_EQ(jpg.width, w);
  EXPECT_EQ(jpg.rgb.size(), px.size());

  std::string ppm = "P6\n13 7\n255\n";
  ppm.append(px.begin(), px.end());
  EXPECT_EQ(decode_image({reinterpret_cast<const uint8_t*>(ppm.data()), ppm.size()}, "img").rgb, px);

  // A 2 x 1 GIF: palette (red, blue), pixels 0 1, then the trailer.
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 2, 0, 1, 0, 0x80, 0, 0, 255, 0, 0, 0, 0, 255,
                                    0x2C, 0, 0, 0, 0, 2, 0, 1, 0, 0, 2, 2, 0x44, 0x0A, 0, 0x3B};
  const Image g = decode_image(gif, "img");
  ASSERT_EQ(g.width, 2);
  EXPECT_EQ(g.rgb, (std::vector<uint8_t>{255, 0, 0, 0, 0, 255}));
}

TEST(Image, GreyscaleBecomesRgb) {
  const std::vector<uint8_t> grey = {0, 100, 200, 255};
  const Image im = decode_image(encode(write_png, 2, 2, 1, grey), "img");
  EXPECT_EQ(im.rgb, (std::vector<uint8_t>{0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255}));
}

TEST(Image, AlphaIsDroppedOrCompositedOverWhite) {
  // Red at alpha 0, green at 128, blue opaque.
  const std::vector<uint8_t> rgba = {255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255};
  const std::vector<uint8_t> png = encode(write_png, 3, 1, 4, rgba);
  EXPECT_EQ(decode_image(png, "img", Alpha::Drop).rgb, (std::vector<uint8_t>{255, 0, 0, 0, 255, 0, 0, 0, 255}));
  // c' = (c a + 255 (255 - a)) / 255: alpha 0 is white, 128 half way.
  EXPECT_EQ(decode_image(png, "img", Alpha::OverWhite).rgb,
            (std::vector<uint8_t>{255, 255, 255, 127, 255, 127, 0, 0, 255}));
}

TEST(Image, BadFilesAreOneErrorNamingTheProblem) {
  const std::vector<uint8_t> px = pattern(40, 30, 3);
  const std::vector<uint8_t> png = encode(write_png, 40, 30, 3, px), jpg = encode(write_jpg, 40, 30, 3, px),
                             bmp = encode(write_bmp, 40, 30, 3, px);
  EXPECT_NE(error_of({}).find("empty"), std::string::npos);
  EXPECT_NE(error_of({'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'}).find("not an image format"), std::string::npos);
  for (const auto* full : {&png, &jpg, &bmp}) {
    for (const size_t keep : {size_t{3}, full->size() / 2, full->size() - 3}) {
      const std::vector<uint8_t> cut(full->begin(), full->begin() + static_cast<long>(keep));
      const std::string e = error_of(cut);
      EXPECT_NE(e.find("img: "), std::string::npos) << keep << " of " << full->size() << " bytes decoded";
    }
  }
  // Corrupt bytes inside the compressed data.
  std::vector<uint8_t> bad = png;
  for (size_t i = 60; i < bad.size() - 20; i += 7) bad[i] ^= 0x5A;
  EXPECT_NE(error_of(bad), "");
  std::string ppm = "P6\n13 7\n255\n" + std::string(20, 'x');
  EXPECT_NE(error_of(std::vector<uint8_t>(ppm.begin(), ppm.end())), "");
  ppm = "P5 2 2 2522222222222222\n" + std::string(8, 'x');  // (overflowed stb_image's int, found by image_fuzz)
  EXPECT_NE(error_of(std::vector<uint8_t>(ppm.begin(), ppm.end())).find("maximum value"), std::string::npos);
}

// Debian's stb_image 2.27 writes past an array for a Huffman table of more
// than 256 codes (found by image_fuzz; fixed upstream in 2.28): such a file
// must be refused before stb_image sees it.
TEST(Image, OversizedHuffmanTablesAreRefused) {
  const std::vector<uint8_t> jpg = encode(write_jpg, 16, 16, 3, pattern(16, 16, 3));
  std::vector<uint8_t> dht = {0xFF, 0xC4, 0x01, 0x3F, 0x00};  // length 2 + 1 + 16 + 300, DC table 0
  for (int i = 0; i < 14; ++i) dht.push_back(0);
  dht.push_back(45);
  dht.push_back(255);
  dht.insert(dht.end(), 300, 0x01);
  std::vector<uint8_t> bad(jpg.begin(), jpg.begin() + 2);  // SOI, then the bad table first
  bad.insert(bad.end(), dht.begin(), dht.end());
  bad.insert(bad.end(), jpg.begin() + 2, jpg.end());
  EXPECT_NE(error_of(bad).find("Huffman table of 300 codes"), std::string::npos) << error_of(bad);
  EXPECT_EQ(error_of(jpg), "");
}

// A chunk claiming more bytes than the file holds made stb_image grow its
// buffer to the claim (2 GiB from a 465-byte file, found by image_fuzz).
TEST(Image, PngChunksLongerThanTheFileAreRefused) {
  std::vector<uint8_t> png = encode(write_png, 8, 8, 3, pattern(8, 8, 3));
  const size_t idat = 8 + 25;  // after the signature and IHDR (12 + 13 bytes)
  ASSERT_EQ(std::string(png.begin() + idat + 4, png.begin() + idat + 8), "IDAT");
  for (int i = 0; i < 4; ++i) png[idat + i] = i == 0 ? 0x7F : 0xFF;  // a 2 GiB length
  EXPECT_NE(error_of(png).find("truncated (a chunk of"), std::string::npos) << error_of(png);
}

TEST(Image, HugeAndEmptyHeadersAreRefusedBeforeDecoding) {
  // A PNG signature and IHDR claiming 100000 x 100000 (CRC not checked by the
  // reader), with no pixel data at all: refused on the header alone.
  auto png_header = [](uint32_t w, uint32_t h) {
    std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (const uint32_t v : {w, h})
      for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
    for (const uint8_t x : {8, 2, 0, 0, 0, 0, 0, 0, 0}) b.push_back(x);  // depth, RGB, methods, CRC
    return b;
  };
  EXPECT_NE(error_of(png_header(100000, 100000)).find("too large"), std::string::npos);
  EXPECT_NE(error_of(png_header(30000, 30000)).find("too large"), std::string::npos);  // by pixel count
  EXPECT_NE(error_of(png_header(0, 10)).find("zero-sized"), std::string::npos);
}

TEST(Image, MissingFileNamesThePath) {
  try {
    load_image("/nonexistent/cat.png");
    FAIL();
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cat.png"), std::string::npos);
  }
}

}  // namespace
}  // namespace scout::vision
