// Images named by OpenAI image_url values: base64 data: URIs and local paths.
#include "vision/image_source.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "test_util.h"

namespace scout::vision {
namespace {

std::string decoded(std::string_view text) {
  std::vector<uint8_t> out;
  if (!decode_base64(text, out)) return "<invalid>";
  return std::string(out.begin(), out.end());
}

TEST(ImageSource, Base64IsRfc4648Strict) {
  // RFC 4648's test vectors.
  EXPECT_EQ(decoded(""), "");
  EXPECT_EQ(decoded("Zg=="), "f");
  EXPECT_EQ(decoded("Zm8="), "fo");
  EXPECT_EQ(decoded("Zm9v"), "foo");
  EXPECT_EQ(decoded("Zm9vYg=="), "foob");
  EXPECT_EQ(decoded("Zm9vYmE="), "fooba");
  EXPECT_EQ(decoded("Zm9vYmFy"), "foobar");
  EXPECT_EQ(decoded("+/+/"), "\xfb\xff\xbf");
  // Not base64: a length that is not a multiple of 4, padding inside, a
  // character outside the alphabet, line breaks, url-safe characters.
  for (const char* bad : {"Zg=", "Zg", "Z===", "====", "Zg==Zm9v", "Zm=v", "Zm9*", "Zm9v\n", "Zm9v YmFy", "-_-_"})
    EXPECT_EQ(decoded(bad), "<invalid>") << bad;
}

TEST(ImageSource, DataUriGivesItsBytesOrNamesTheProblem) {
  EXPECT_EQ(decode_data_uri("data:image/png;base64,Zm9v", "x"), std::vector<uint8_t>({'f', 'o', 'o'}));
  EXPECT_EQ(decode_data_uri("DATA:;BASE64,Zm9v", "x"), std::vector<uint8_t>({'f', 'o', 'o'}));
  auto problem = [](const std::string& uri) {
    try {
      decode_data_uri(uri, "line 7, image 1");
    } catch (const ImageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(problem("data:image/png;base64").find("','"), std::string::npos);
  EXPECT_NE(problem("data:image/png,Zm9v").find("not base64"), std::string::npos);
  EXPECT_NE(problem("data:image/png;base64,Zm9").find("malformed"), std::string::npos);
  EXPECT_NE(problem("data:image/png;base64,").find("empty"), std::string::npos);
  EXPECT_NE(problem("photo.png").find("not a data: URI"), std::string::npos);
  EXPECT_EQ(problem("data:image/png;base64,").rfind("line 7, image 1: ", 0), 0u) << "errors name the image";
}

TEST(ImageSource, PathsResolveFromTheBaseFolderAndTheNetworkIsRefused) {
  EXPECT_EQ(resolve_image_path("img/a.png", "/data/jobs"), "/data/jobs/img/a.png");
  EXPECT_EQ(resolve_image_path("../a.png", "/data/jobs"), "/data/a.png");
  EXPECT_EQ(resolve_image_path("/abs/a.png", "/data/jobs"), "/abs/a.png");
  EXPECT_EQ(resolve_image_path("file:///abs/a.png", "/data/jobs"), "/abs/a.png");
  EXPECT_EQ(resolve_image_path("a.png", ""), "a.png");
  EXPECT_THROW(resolve_image_path("https://example.com/a.png", "/data"), ImageError);
  EXPECT_THROW(resolve_image_path("", "/data"), ImageError);
}

TEST(ImageSource, DataUriAndFileDecodeToTheSamePixels) {
  // A 2 x 1 PPM: red, blue.
  const std::string ppm = std::string("P6\n2 1\n255\n") + std::string("\xff\x00\x00\x00\x00\xff", 6);
  test::TempDir dir;
  {
    std::ofstream f(dir.path("two.ppm"), std::ios::binary);
    f << ppm;
  }
  // The PPM's 17 bytes in base64 (as base64(1) writes them).
  const std::string uri = "data:image/x-portable-pixmap;base64,UDYKMiAxCjI1NQr/AAAAAP8=";
  const Image a = load_image_url(uri, "image 1"), b = load_image_url(dir.path("two.ppm"), "image 1");
  ASSERT_EQ(a.width, 2);
  ASSERT_EQ(a.height, 1);
  EXPECT_EQ(a.rgb, b.rgb);
  EXPECT_EQ(a.rgb, std::vector<uint8_t>({255, 0, 0, 0, 0, 255}));
  // A data: URI whose bytes are not an image names the image.
  try {
    load_image_url("data:image/png;base64,Zm9v", "line 2, image 1");
    ADD_FAILURE() << "no error";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("line 2, image 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace scout::vision
