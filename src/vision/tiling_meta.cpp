// Meta's tiling and Pillow's bilinear resize (see tiling_meta.h).
//
// Checked against the sources (public code search), not from memory:
//   - meta-llama/llama-models models/llama4/preprocess.py,
//     VariableSizeImageTransform: find_supported_resolutions (chunk counts
//     descending, sorted factors, dict grouped by height / width in insertion
//     order), get_best_fit (torch.where(scale_w > scale_h, scale_h, scale_w) on
//     int tensors divided by ints -> float32; scales >= 1 -> min, else max of
//     scales < 1; exact == on the scale, then argmin of the area), and
//     resize_without_distortion / get_max_res_without_distortion (target =
//     min(max(side, S), canvas side); Python floats, math.floor; F.resize to
//     (max(h, 1), max(w, 1)) with InterpolationMode.BILINEAR), _pad (paste at
//     (0, 0) on black RGB), _split (row-major tiles); __call__ passes
//     max_upscaling_size = S and returns ar = (tiles down, tiles across).
//   - llama-models models/llama4/chat_format.py: max_num_chunks = 16; the global
//     tile (ResizeNormalizeImageTransform: tv.Resize((S, S)), bilinear default)
//     is appended only when image_tiles.shape[0] > 1.
//   - torchvision transforms/_functional_pil.py resize: img.resize(size[::-1],
//     interpolation); Pillow Image.py resize: same size -> copy, RGB goes
//     straight to the C resampler, reducing_gap defaults to None.
//   - python-pillow/Pillow src/libImaging/Resample.c: bilinear_filter, support
//     1; precompute_coeffs (scale = (double)(in1 - in0) / outSize, filterscale =
//     max(scale, 1), support * filterscale, center = in0 + (xx + 0.5) * scale,
//     xmin/xmax = (int)(center -/+ support + 0.5) clamped, weight =
//     filter((x + xmin - center + 0.5) * (1 / filterscale)), divided by their
//     sum when non-zero); normalize_coeffs_8bpc (PRECISION_BITS = 32 - 8 - 2 =
//     22, (int)(+-0.5 + k * 2^22)); the 8bpc passes (accumulator starts at
//     1 << 21, clip8 = table lookup of ss >> 22, i.e. clamp to 0..255);
//     ImagingResampleInner (horizontal only when the width changes, on the
//     source rows the vertical pass uses, then vertical only when the height
//     changes).
// Pillow is built without fused multiply-adds (baseline x86-64 wheels); scout
// builds with -march=native, so CMakeLists.txt compiles this file with
// -ffp-contract=off: a fused a * b + c would move some fixed-point weights by one.
#include "vision/tiling_meta.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <utility>

namespace scout::vision {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// One pass's weights, as Pillow's precompute_coeffs + normalize_coeffs_8bpc:
// for output sample i, `count[i]` fixed-point weights k[i * ksize + j] of the
// input samples first[i] + j.
struct Coeffs {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> k;
};

Coeffs precompute_coeffs(int in_size, int out_size) {
  // The box is (0, 0, w, h) as floats: in0 = 0, in1 - in0 = in_size exactly.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;  // bilinear support 1
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<size_t>(out_size));
  c.count.resize(static_cast<size_t>(out_size));
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(static_cast<size_t>(c.ksize));
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = 0.0 + (xx + 0.5) * scale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[static_cast<size_t>(x)] = bilinear_filter((x + xmin - center + 0.5) * ss);
      ww += w[static_cast<size_t>(x)];
    }
    int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      double v = w[static_cast<size_t>(x)];
      if (ww != 0.0) v /= ww;
      // Rounded away from zero, as normalize_coeffs_8bpc.
      k[x] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                   : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.first[static_cast<size_t>(xx)] = xmin;
    c.count[static_cast<size_t>(xx)] = std::max(xmax, 0);
  }
  return c;
}

uint8_t clip8(int32_t ss) {
  return static_cast<uint8_t>(std::clamp(ss >> kPrecisionBits, 0, 255));
}

// Pillow's horizontal 8bpc pass on source rows [row0, row0 + rows).
Image resample_horizontal(const Image& src, int width, int row0, int rows, const Coeffs& c) {
  Image out = Image::blank(width, rows);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* in = &src.rgb[static_cast<size_t>(row0 + y) * src.width * 3];
    uint8_t* o = &out.rgb[static_cast<size_t>(y) * width * 3];
    for (int xx = 0; xx < width; ++xx) {
      const int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
      const uint8_t* p = in + static_cast<size_t>(c.first[static_cast<size_t>(xx)]) * 3;
      int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < c.count[static_cast<size_t>(xx)]; ++x) {
        s0 += p[x * 3 + 0] * k[x];
        s1 += p[x * 3 + 1] * k[x];
        s2 += p[x * 3 + 2] * k[x];
      }
      o[xx * 3 + 0] = clip8(s0);
      o[xx * 3 + 1] = clip8(s1);
      o[xx * 3 + 2] = clip8(s2);
    }
  }
  return out;
}

// Pillow's vertical 8bpc pass; the coefficients' first rows are relative to
// src's row 0 less `row0` (src may hold only the rows the pass reads).
Image resample_vertical(const Image& src, int height, int row0, const Coeffs& c) {
  Image out = Image::blank(src.width, height);
  const size_t stride = static_cast<size_t>(src.width) * 3;
  for (int yy = 0; yy < height; ++yy) {
    const int32_t* k = &c.k[static_cast<size_t>(yy) * c.ksize];
    const uint8_t* base = &src.rgb[static_cast<size_t>(c.first[static_cast<size_t>(yy)] - row0) * stride];
    uint8_t* o = &out.rgb[static_cast<size_t>(yy) * stride];
    for (size_t i = 0; i < stride; ++i) {
      int32_t s = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < c.count[static_cast<size_t>(yy)]; ++y) s += base[static_cast<size_t>(y) * stride + i] * k[y];
      o[i] = clip8(s);
    }
  }
  return out;
}

}  // namespace

std::vector<Canvas> meta_supported_canvases(int tile_size, int max_tiles) {
  // Groups keyed by the reduced ratio f : n/f (equal Python float keys are
  // exactly equal fractions), kept in the order first seen.
  std::vector<std::pair<std::pair<int, int>, std::vector<std::pair<int, int>>>> groups;
  for (int n = max_tiles; n >= 1; --n)
    for (int f = 1; f <= n; ++f) {
      if (n % f != 0) continue;
      const int g = std::gcd(f, n / f);
      const std::pair<int, int> key{f / g, n / f / g};
      auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& e) { return e.first == key; });
      if (it == groups.end()) it = groups.insert(groups.end(), {key, {}});
      it->second.emplace_back(f, n / f);
    }
  std::vector<Canvas> out;
  for (const auto& [key, pairs] : groups)
    for (const auto& [a, b] : pairs) out.push_back({a * tile_size, b * tile_size});  // first element = width
  return out;
}

Canvas best_canvas_meta(int width, int height, int tile_size, int max_tiles) {
  const std::vector<Canvas> canvases = meta_supported_canvases(tile_size, max_tiles);
  std::vector<float> scales;
  for (const Canvas& c : canvases) {
    const float sw = static_cast<float>(c.width) / static_cast<float>(width);
    const float sh = static_cast<float>(c.height) / static_cast<float>(height);
    scales.push_back(sw > sh ? sh : sw);
  }
  bool any_up = false;
  float up = 0.0f, down = 0.0f;
  for (const float s : scales) {
    if (s >= 1.0f) {
      up = any_up ? std::min(up, s) : s;
      any_up = true;
    } else {
      down = std::max(down, s);
    }
  }
  const float selected = any_up ? up : down;
  Canvas best;
  int64_t best_area = -1;
  for (size_t i = 0; i < canvases.size(); ++i) {
    const int64_t area = int64_t{canvases[i].width} * canvases[i].height;
    if (scales[i] == selected && (best_area < 0 || area < best_area)) {
      best = canvases[i];
      best_area = area;
    }
  }
  return best;
}

Canvas meta_fit_size(int width, int height, Canvas canvas, int tile_size) {
  // resize_without_distortion: never upscale a side past max(side, S).
  const int tw = std::min(std::max(width, tile_size), canvas.width);
  const int th = std::min(std::max(height, tile_size), canvas.height);
  // get_max_res_without_distortion, in Python floats.
  const double scale_w = static_cast<double>(tw) / width;
  const double scale_h = static_cast<double>(th) / height;
  int nw, nh;
  if (scale_w < scale_h) {
    nw = tw;
    nh = std::min(static_cast<int>(std::floor(height * scale_w)), th);
  } else {
    nh = th;
    nw = std::min(static_cast<int>(std::floor(width * scale_h)), tw);
  }
  return {std::max(nw, 1), std::max(nh, 1)};
}

Image resize_bilinear_pil(const Image& src, int width, int height) {
  if (width <= 0 || height <= 0 || src.width <= 0 || src.height <= 0)
    throw std::invalid_argument("resize_bilinear_pil: sizes must be positive");
  const bool horizontal = width != src.width, vertical = height != src.height;
  if (!horizontal && !vertical) return src;
  const Coeffs cv = precompute_coeffs(src.height, height);
  // The source rows the vertical pass reads (all of them when it is skipped).
  const int row0 = vertical ? cv.first.front() : 0;
  const int row1 = vertical ? cv.first.back() + cv.count.back() : src.height;
  if (!horizontal) return resample_vertical(src, height, 0, cv);
  const Image tmp = resample_horizontal(src, width, row0, row1 - row0, precompute_coeffs(src.width, width));
  return vertical ? resample_vertical(tmp, height, row0, cv) : tmp;
}

Tiles tile_meta(const Image& image, int S, int max_tiles) {
  const Canvas c = best_canvas_meta(image.width, image.height, S, max_tiles);
  const Canvas fit = meta_fit_size(image.width, image.height, c, S);
  // Pasted at the top left of a black canvas (padded right and bottom); then cut row-major.
  Tiles t = cut_into_tiles(resize_bilinear_pil(image, fit.width, fit.height), c, 0, 0, S);
  if (t.tiles.size() > 1) t.tiles.push_back(resize_bilinear_pil(image, S, S));  // the global tile, stretched
  return t;
}

}  // namespace scout::vision
