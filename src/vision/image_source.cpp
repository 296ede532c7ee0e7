#include "vision/image_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>

namespace scout::vision {

namespace {

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// The 6-bit value of each base64 character; -1 for anything else.
constexpr std::array<int8_t, 256> base64_values() {
  std::array<int8_t, 256> v{};
  for (size_t i = 0; i < v.size(); ++i) v[i] = -1;
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < alphabet.size(); ++i) v[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return v;
}

}  // namespace

bool is_data_uri(std::string_view url) { return starts_with_nocase(url, "data:"); }

bool decode_base64(std::string_view text, std::vector<uint8_t>& out) {
  static constexpr std::array<int8_t, 256> kValue = base64_values();
  out.clear();
  if (text.size() % 4 != 0) return false;
  out.reserve(text.size() / 4 * 3);
  for (size_t at = 0; at < text.size(); at += 4) {
    const bool last = at + 4 == text.size();
    // Padding only at the very end: "xx==" or "xxx=".
    const size_t pad = last ? (text[at + 3] == '=') + (text[at + 3] == '=' && text[at + 2] == '=') : 0;
    uint32_t group = 0;
    for (size_t k = 0; k < 4; ++k) {
      const int8_t v = k >= 4 - pad ? 0 : kValue[static_cast<unsigned char>(text[at + k])];
      if (v < 0) return false;
      group = group << 6 | static_cast<uint32_t>(v);
    }
    out.push_back(static_cast<uint8_t>(group >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>(group >> 8));
    if (pad < 1) out.push_back(static_cast<uint8_t>(group));
  }
  return true;
}

std::vector<uint8_t> decode_data_uri(std::string_view uri, const std::string& name) {
  if (!is_data_uri(uri)) throw ImageError(name + ": not a data: URI");
  const size_t comma = uri.find(',');
  if (comma == std::string_view::npos) throw ImageError(name + ": a data: URI without ',' before its data");
  const std::string_view header = uri.substr(5, comma - 5), data = uri.substr(comma + 1);
  if (header.size() < 7 || !starts_with_nocase(header.substr(header.size() - 7), ";base64"))
    throw ImageError(name + ": the data: URI is not base64 (\";base64,\" expected)");
  if (data.size() / 4 * 3 > kMaxImageFileBytes)
    throw ImageError(fmt::format("{}: the data: URI holds over {} MiB", name, kMaxImageFileBytes >> 20));
  std::vector<uint8_t> bytes;
  if (!decode_base64(data, bytes)) throw ImageError(name + ": the data: URI's base64 is malformed");
  if (bytes.empty()) throw ImageError(name + ": the data: URI is empty");
  return bytes;
}

std::string resolve_image_path(std::string_view url, const std::string& base_dir) {
  std::string_view path = url;
  if (starts_with_nocase(path, "file://")) path.remove_prefix(7);
  else if (path.find("://") != std::string_view::npos)
    throw ImageError(fmt::format("{}: only data: URIs and local paths are read (scout fetches nothing from the network)",
                                 url.substr(0, std::min<size_t>(url.size(), 80))));
  if (path.empty()) throw ImageError("an empty image path");
  std::filesystem::path p{std::string(path)};
  if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
  return p.lexically_normal().string();
}

Image load_image_url(const std::string& url, const std::string& name, Alpha alpha) {
  if (is_data_uri(url)) return decode_image(decode_data_uri(url, name), name, alpha);
  return load_image(url, alpha);
}

}  // namespace scout::vision
