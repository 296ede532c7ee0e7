// Where an image comes from in a request: an OpenAI `image_url` is either a
// data: URI with the file's bytes in base64 ("data:image/png;base64,iVBOR..."),
// or, for scout's batch files, a local path (relative paths resolved against
// the input file's folder). Remote http(s) URLs are refused: scout reads no
// network.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vision/image.h"

namespace scout::vision {

bool is_data_uri(std::string_view url);

// The bytes of a base64 data: URI (any media type; "data:[type][;params];base64,DATA").
// Throws ImageError naming `name` and what is wrong: not base64, a bad
// character, wrong padding, or more than kMaxImageFileBytes.
std::vector<uint8_t> decode_data_uri(std::string_view uri, const std::string& name);

// Strict base64 (RFC 4648, standard alphabet, '=' padding required; no
// whitespace). False when `text` is not that. Written here rather than
// taking a library for it: the device build carries no extra packages.
bool decode_base64(std::string_view text, std::vector<uint8_t>& out);

// A local path as a batch line gives it: "file://" stripped, relative paths
// taken from base_dir. http(s) and other schemes are an ImageError.
std::string resolve_image_path(std::string_view url, const std::string& base_dir);

// The image a url names, decoded: a data: URI's bytes, else the file at the
// path. `name` is what errors call it ("line 3, image 1").
Image load_image_url(const std::string& url, const std::string& name, Alpha alpha = Alpha::Drop);

}  // namespace scout::vision
