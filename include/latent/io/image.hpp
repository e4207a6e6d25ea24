// latent::io: PNG files and image grids, as torchvision.utils.make_grid / save_image.
//
//   auto fake = G->forward(z);                                   // (64, 1, 28, 28) in [-1, 1]
//   io::save_image("grid.png", fake, {.nrow = 8, .normalize = true, .value_range = {{-1, 1}}});
//   Tensor<float> grid = io::make_grid(fake, {.nrow = 8});       // (3, 242, 242)
//   io::write_png("raw.png", pixels, width, height, 3);          // uint8 rows, HWC
//
// PNG encoding is stb_image_write's (Debian libstb-dev, <stb/stb_image_write.h>),
// compiled into each translation unit as static functions (STB_IMAGE_WRITE_STATIC), so
// nothing needs linking and TUs never clash. A TU that includes stb_image_write.h itself
// must do so before this header (its declarations are then used, and the program must link
// an implementation, e.g. -lstb). Files are written atomically (temporary file, fsync,
// rename; io::detail::write_atomically).
//
// Images may live on any device: they are copied to the host (Tensor::to_vector).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "csv.hpp"  // detail::write_atomically_as
#include "safetensors.hpp"

#ifndef INCLUDE_STB_IMAGE_WRITE_H
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Weverything"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wuseless-cast"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma GCC diagnostic ignored "-Wmissing-declarations"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif  // INCLUDE_STB_IMAGE_WRITE_H

namespace latent::io {

// Writes 8-bit pixels (row-major, `channels` interleaved: 1 grey, 2 grey+alpha, 3 RGB,
// 4 RGBA) as a PNG file, atomically. Errors name the path.
inline void write_png(const std::filesystem::path& path, const uint8_t* pixels, int width, int height,
                      int channels) {
  const std::string target = path.string();
  LATENT_CHECK(pixels != nullptr, "write_png: '", target, "': no pixels (null pointer)");
  LATENT_CHECK(width > 0 && height > 0, "write_png: '", target, "': the size must be positive, got ", width, "x",
               height);
  LATENT_CHECK(channels >= 1 && channels <= 4, "write_png: '", target,
               "': expected 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels, got ", channels);
  LATENT_CHECK(static_cast<int64_t>(width) * channels <= std::numeric_limits<int>::max() / 2,
               "write_png: '", target, "': the image is too wide (", width, " pixels)");
  std::vector<uint8_t> png;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* bytes = static_cast<const uint8_t*>(data);
    out->insert(out->end(), bytes, bytes + size);
  };
  const int ok = stbi_write_png_to_func(append, &png, width, height, channels, pixels, width * channels);
  LATENT_CHECK(ok != 0 && !png.empty(), "write_png: '", target, "': PNG encoding failed (out of memory?)");
  detail::write_atomically_as("write_png", path, png.data(), png.size());
}

// make_grid's options: torchvision.utils.make_grid's arguments.
struct GridOptions {
  int64_t nrow = 8;                                        // images per row
  int64_t padding = 2;                                     // pixels around and between images
  bool normalize = false;                                  // shift to [0, 1] (by value_range or min/max)
  std::optional<std::pair<double, double>> value_range;    // (low, high) for normalize; else min/max
  bool scale_each = false;                                 // normalize: each image by its own min/max
  double pad_value = 0;                                    // the padding's value
};

// torchvision.utils.make_grid: images (N, C, H, W), one image (C, H, W) or (H, W) ->
// a grid (C', H', W'), where C' = 3 when C is 1 (grey replicated) and C otherwise,
// H' = ymaps * (H + padding) + padding, W' = xmaps * (W + padding) + padding, with
// xmaps = min(nrow, N) and ymaps = ceil(N / xmaps); images fill the grid row by row and
// the rest is pad_value. A single image (N = 1) is returned without padding.
// normalize: each value is clamped to [low, high] and mapped by (x - low) / max(high - low,
// 1e-5), in T's arithmetic as PyTorch does, where (low, high) is value_range, else the
// min and max of the whole batch (of each image with scale_each). The result lives on the
// images' device; the input is not changed.
template <typename T>
Tensor<T> make_grid(const Tensor<T>& images, const GridOptions& options = {}) {
  LATENT_CHECK(images.defined(), "make_grid: the images tensor is undefined");
  if (images.is_cuda()) return make_grid(images.detach().cpu(), options);  // grids are for files and screens
  const int rank = images.dim();
  LATENT_CHECK(rank >= 2 && rank <= 4, "make_grid: expected images (N, C, H, W), one image (C, H, W) or (H, W), got shape ",
               images.shape());
  LATENT_CHECK(options.nrow >= 1, "make_grid: nrow must be at least 1, got ", options.nrow);
  LATENT_CHECK(options.padding >= 0, "make_grid: padding must be non-negative, got ", options.padding);
  const Shape s = images.shape();
  const int64_t n = rank == 4 ? s[0] : 1;
  const int64_t c = rank == 2 ? 1 : s[rank - 3];
  const int64_t h = s[rank - 2], w = s[rank - 1];
  LATENT_CHECK(n >= 1, "make_grid: no images (shape ", s, ")");
  LATENT_CHECK(c >= 1 && h >= 1 && w >= 1, "make_grid: empty images (shape ", s, ")");
  const int64_t channels = c == 1 ? 3 : c;
  const int64_t plane = h * w, image_size = c * plane;
  std::vector<T> v = images.detach().to_vector();

  if (options.normalize) {
    if constexpr (std::is_floating_point_v<T>) {
      auto norm_range = [&](T* p, int64_t count) {
        double low, high;
        if (options.value_range) {
          low = options.value_range->first;
          high = options.value_range->second;
        } else {  // float(t.min()), float(t.max()) (NaN-propagating, as torch.min/max)
          T mn = p[0], mx = p[0];
          for (int64_t i = 0; i < count; ++i) {
            if (std::isnan(p[i]) || std::isnan(mn)) {
              mn = mx = std::numeric_limits<T>::quiet_NaN();
              break;
            }
            mn = std::min(mn, p[i]);
            mx = std::max(mx, p[i]);
          }
          low = static_cast<double>(mn);
          high = static_cast<double>(mx);
        }
        // norm_ip: img.clamp_(min=low, max=high); img.sub_(low).div_(max(high - low, 1e-5))
        const T lo = static_cast<T>(low), hi = static_cast<T>(high);
        const T div = static_cast<T>(std::max(high - low, 1e-5));  // Python max: NaN stays
        for (int64_t i = 0; i < count; ++i) {
          T x = p[i];
          if (x < lo) x = lo;  // NaN stays NaN
          if (x > hi) x = hi;
          x = x - lo;
          p[i] = x / div;
        }
      };
      if (options.scale_each) {
        for (int64_t k = 0; k < n; ++k) norm_range(v.data() + k * image_size, image_size);
      } else {
        norm_range(v.data(), n * image_size);
      }
    } else {
      LATENT_CHECK(false, "make_grid: normalize needs floating-point images, got ", dtype_name<T>());
    }
  }

  // Source element (image k, channel ch, y, x), with grey replicated to three channels.
  auto src = [&](int64_t k, int64_t ch, int64_t y, int64_t x) {
    return v[static_cast<size_t>(k * image_size + (c == 1 ? 0 : ch) * plane + y * w + x)];
  };
  if (n == 1) {  // tensor.squeeze(0): no padding
    std::vector<T> out(static_cast<size_t>(channels * plane));
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) out[static_cast<size_t>(ch * plane + y * w + x)] = src(0, ch, y, x);
    return from_vector(out, Shape{channels, h, w}, images.device());
  }
  const int64_t pad = options.padding;
  const int64_t xmaps = std::min(options.nrow, n);
  const int64_t ymaps = (n + xmaps - 1) / xmaps;
  const int64_t cell_h = h + pad, cell_w = w + pad;
  const int64_t grid_h = cell_h * ymaps + pad, grid_w = cell_w * xmaps + pad;
  std::vector<T> grid(static_cast<size_t>(channels * grid_h * grid_w), static_cast<T>(options.pad_value));
  for (int64_t k = 0; k < n; ++k) {
    const int64_t top = (k / xmaps) * cell_h + pad, left = (k % xmaps) * cell_w + pad;
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          grid[static_cast<size_t>((ch * grid_h + top + y) * grid_w + left + x)] = src(k, ch, y, x);
  }
  return from_vector(grid, Shape{channels, grid_h, grid_w}, images.device());
}

// 8-bit pixels, row-major, channels interleaved (HWC).
struct Image8 {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// An image (C, H, W) with C in {1, 3, 4}, or (H, W), with values in [0, 1], as 8-bit HWC
// pixels the way save_image converts: x * 255 + 0.5 (in T's arithmetic), clamped to
// [0, 255] and truncated (NaN -> 0).
template <typename T>
Image8 to_image8(const Tensor<T>& image, const char* op = "to_image8") {
  static_assert(std::is_floating_point_v<T>, "to_image8: images are floating point, in [0, 1]");
  LATENT_CHECK(image.defined(), op, ": the image tensor is undefined");
  LATENT_CHECK(image.dim() == 2 || image.dim() == 3, op, ": expected an image (C, H, W) or (H, W), got shape ",
               image.shape(), " (make_grid turns a batch into one image)");
  const Shape s = image.shape();
  const int64_t c = image.dim() == 2 ? 1 : s[0], h = s[image.dim() - 2], w = s[image.dim() - 1];
  LATENT_CHECK(c == 1 || c == 3 || c == 4, op, ": expected 1, 3 or 4 channels, got shape ", s);
  LATENT_CHECK(h >= 1 && w >= 1 && h <= std::numeric_limits<int>::max() && w <= std::numeric_limits<int>::max(), op,
               ": unsupported image size, shape ", s);
  const std::vector<T> v = image.detach().to_vector();
  Image8 out{static_cast<int>(w), static_cast<int>(h), static_cast<int>(c), {}};
  out.pixels.resize(static_cast<size_t>(c * h * w));
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < h * w; ++i) {
      T x = v[static_cast<size_t>(ch * h * w + i)];
      x = x * static_cast<T>(255);
      x = x + static_cast<T>(0.5);
      const T clamped = std::isnan(x) ? T(0) : std::min(std::max(x, T(0)), T(255));
      out.pixels[static_cast<size_t>(i * c + ch)] = static_cast<uint8_t>(clamped);
    }
  return out;
}

// torchvision.utils.save_image: make_grid(images, options), then each value x in [0, 1]
// becomes the byte clamp(x * 255 + 0.5, 0, 255) (truncated), written as an RGB (or RGBA)
// PNG. `images` may be a batch (N, C, H, W) or one image or grid (C, H, W) / (H, W).
template <typename T>
void save_image(const std::filesystem::path& path, const Tensor<T>& images, const GridOptions& options = {}) {
  Tensor<T> grid;
  try {
    grid = make_grid(images, options);
  } catch (const Error& e) {
    throw Error(latent::detail::str_cat("save_image: cannot write '", path.string(), "': ", e.what()));
  }
  const Image8 img = to_image8(grid, "save_image");
  write_png(path, img.pixels.data(), img.width, img.height, img.channels);
}

}  // namespace latent::io
