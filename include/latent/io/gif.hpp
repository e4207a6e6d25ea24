// latent::io: animated GIFs, e.g. a DDPM sampling run, one frame every few steps.
//
//   io::GifWriter gif("sampling.gif", 242, 242, /*delay_centiseconds=*/8);   // loops forever
//   for (int t = T - 1; t >= 0; --t) {
//     x = scheduler.step(eps, t, x);
//     if (t % 20 == 0)
//       gif.add_frame(io::make_grid(x, {.nrow = 8, .normalize = true, .value_range = {{-1, 1}}}));
//   }
//   gif.close();   // writes the file (the destructor does it too, without throwing)
//
// Encoding is giflib 5's (Debian libgif-dev, link -lgif; CMake's GIF::GIF): a GIF89a
// stream with a global 256-grey palette, the NETSCAPE2.0 application extension when
// looping, and before every frame a graphics control extension carrying its delay (in
// hundredths of a second; browsers show delays under 2 as 10). Grey frames (one channel,
// or RGB with R = G = B everywhere, as make_grid makes of grey images) are stored exactly
// with the grey palette. Other RGB frames get a local 256-colour palette: giflib's
// median cut (GifQuantizeBuffer, deprecated upstream but present in giflib 5.x except
// 5.2.0) chooses the colour groups, each drawn as the mean colour of its pixels (so frames
// of up to a few hundred distinct colours come out exact or nearly); where GifQuantizeBuffer
// is missing, or when LATENT_GIF_NO_QUANTIZE is defined, a fixed 6x7x6 colour cube (252
// colours) is used instead.
//
// Atomicity: the stream is encoded into memory and written by close(), through a temporary
// file renamed over the target (io::detail::write_atomically), so a reader never sees half
// a GIF and an interrupted run leaves the previous file. The constructor checks that the
// target's directory exists and is writable, so a bad path fails before a long run.
#pragma once
#include <gif_lib.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "csv.hpp"  // detail::write_atomically_as
#include "image.hpp"

#if !defined(LATENT_GIF_NO_QUANTIZE) && GIFLIB_MAJOR == 5 && GIFLIB_MINOR == 2 && GIFLIB_RELEASE == 0
#define LATENT_GIF_NO_QUANTIZE  // giflib 5.2.0 moved GifQuantizeBuffer out of the library
#endif

namespace latent::io {

namespace detail {

// The fixed 6 x 7 x 6 colour cube (252 colours): index = 42 r + 6 g + b, each channel
// rounded to the nearest of its evenly spaced levels (0 and 255 included).
inline void gif_color_cube(const uint8_t* pixels, int channels, std::vector<GifPixelType>& index,
                           std::array<GifColorType, 256>& colors) {
  colors = {};
  for (int r = 0; r < 6; ++r)
    for (int g = 0; g < 7; ++g)
      for (int b = 0; b < 6; ++b)
        colors[static_cast<size_t>(42 * r + 6 * g + b)] = {static_cast<GifByteType>((r * 255 + 2) / 5),
                                                           static_cast<GifByteType>((g * 255 + 3) / 6),
                                                           static_cast<GifByteType>((b * 255 + 2) / 5)};
  const size_t stride = static_cast<size_t>(channels);
  for (size_t i = 0; i < index.size(); ++i) {
    const uint8_t* p = pixels + i * stride;
    const int r = (p[0] * 5 + 127) / 255, g = (p[1] * 6 + 127) / 255, b = (p[2] * 5 + 127) / 255;
    index[i] = static_cast<GifPixelType>(42 * r + 6 * g + b);
  }
}

#if !defined(LATENT_GIF_NO_QUANTIZE)
// giflib's median cut (GifQuantizeBuffer) assigns the indices; its palette (5-bit colours
// shifted up, so white is 248) is replaced by the mean 8-bit colour of each index's pixels,
// which makes images of few colours exact. False when giflib fails.
inline bool gif_median_cut(const uint8_t* pixels, int channels, int width, int height,
                           std::vector<GifPixelType>& index, std::array<GifColorType, 256>& colors) {
  const size_t n = index.size(), stride = static_cast<size_t>(channels);
  std::vector<GifByteType> r(n), g(n), b(n);
  for (size_t i = 0; i < n; ++i) {
    r[i] = pixels[i * stride];
    g[i] = pixels[i * stride + 1];
    b[i] = pixels[i * stride + 2];
  }
  int size = 256;
  colors = {};
  if (GifQuantizeBuffer(static_cast<unsigned>(width), static_cast<unsigned>(height), &size, r.data(), g.data(),
                        b.data(), index.data(), colors.data()) != GIF_OK)
    return false;
  std::array<uint64_t, 256 * 3> sum{};
  std::array<uint64_t, 256> count{};
  for (size_t i = 0; i < n; ++i) {
    const size_t k = index[i];
    sum[3 * k] += r[i];
    sum[3 * k + 1] += g[i];
    sum[3 * k + 2] += b[i];
    ++count[k];
  }
  for (size_t k = 0; k < 256; ++k)
    if (count[k] > 0)
      colors[k] = {static_cast<GifByteType>((sum[3 * k] + count[k] / 2) / count[k]),
                   static_cast<GifByteType>((sum[3 * k + 1] + count[k] / 2) / count[k]),
                   static_cast<GifByteType>((sum[3 * k + 2] + count[k] / 2) / count[k])};
  return true;
}
#endif

}  // namespace detail

class GifWriter {
 public:
  GifWriter(std::filesystem::path path, int width, int height, int delay_centiseconds, bool loop = true)
      : path_(std::move(path)), width_(width), height_(height), delay_(delay_centiseconds) {
    namespace fs = std::filesystem;
    const std::string target = path_.string();
    LATENT_CHECK(width > 0 && height > 0 && width <= 65535 && height <= 65535, "GifWriter: '", target,
                 "': the size must be 1..65535 pixels each way, got ", width, "x", height);
    LATENT_CHECK(delay_centiseconds >= 0 && delay_centiseconds <= 65535, "GifWriter: '", target,
                 "': the frame delay must be 0..65535 hundredths of a second, got ", delay_centiseconds);
    LATENT_CHECK(path_.has_filename(), "GifWriter: '", target, "' names no file");
    const fs::path dir = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
    std::error_code ec;
    LATENT_CHECK(fs::is_directory(dir, ec), "GifWriter: cannot write '", target, "': the directory '", dir.string(),
                 "' does not exist");
    LATENT_CHECK(!fs::is_directory(path_, ec), "GifWriter: cannot write '", target, "': it is a directory");
#if defined(__unix__) || defined(__APPLE__)
    LATENT_CHECK(::access(dir.c_str(), W_OK) == 0, "GifWriter: cannot write '", target, "': the directory '",
                 dir.string(), "' is not writable");
#endif
    int err = 0;
    gif_ = EGifOpen(&bytes_, &GifWriter::write_bytes, &err);
    LATENT_CHECK(gif_ != nullptr, "GifWriter: '", target, "': giflib: ", gif_error(err));
    EGifSetGifVersion(gif_, true);
    std::array<GifColorType, 256> grey;
    for (int i = 0; i < 256; ++i) grey[i] = {static_cast<GifByteType>(i), static_cast<GifByteType>(i), static_cast<GifByteType>(i)};
    ColorMapObject* map = GifMakeMapObject(256, grey.data());
    const bool ok = map != nullptr && EGifPutScreenDesc(gif_, width, height, 8, 0, map) == GIF_OK;
    GifFreeMapObject(map);
    if (!ok) fail("writing the screen descriptor");
    if (loop) {  // NETSCAPE2.0: sub-block id 1, loop count 0 = forever (little-endian)
      static const GifByteType app[] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'};
      static const GifByteType count[] = {1, 0, 0};
      if (EGifPutExtensionLeader(gif_, APPLICATION_EXT_FUNC_CODE) != GIF_OK ||
          EGifPutExtensionBlock(gif_, sizeof app, app) != GIF_OK ||
          EGifPutExtensionBlock(gif_, sizeof count, count) != GIF_OK || EGifPutExtensionTrailer(gif_) != GIF_OK)
        fail("writing the loop extension");
    }
  }
  GifWriter(const GifWriter&) = delete;
  GifWriter& operator=(const GifWriter&) = delete;
  // Closes (writes the file) if close() was not called; errors are swallowed.
  ~GifWriter() {
    try {
      close();
    } catch (...) {
    }
    release();
  }

  // One frame of width x height pixels, row-major: 1 channel (grey), 3 (RGB) or 4 (RGBA,
  // alpha ignored).
  void add_frame(const uint8_t* pixels, int channels) {
    const std::string target = path_.string();
    LATENT_CHECK(gif_ != nullptr && !closed_, "GifWriter::add_frame: '", target, "' is already closed");
    LATENT_CHECK(pixels != nullptr, "GifWriter::add_frame: '", target, "': no pixels (null pointer)");
    LATENT_CHECK(channels == 1 || channels == 3 || channels == 4, "GifWriter::add_frame: '", target,
                 "': expected 1 (grey), 3 (RGB) or 4 (RGBA) channels, got ", channels);
    const size_t n = static_cast<size_t>(width_) * static_cast<size_t>(height_);
    std::vector<GifPixelType> index(n);
    bool grey = true;
    if (channels == 1) {
      std::memcpy(index.data(), pixels, n);
    } else {
      for (size_t i = 0; i < n && grey; ++i) {
        const uint8_t* p = pixels + i * static_cast<size_t>(channels);
        grey = p[0] == p[1] && p[1] == p[2];
        index[i] = p[0];
      }
    }
    ColorMapObject* local = grey ? nullptr : quantize(pixels, channels, index);
    GraphicsControlBlock gcb{};
    gcb.DisposalMode = DISPOSE_DO_NOT;
    gcb.UserInputFlag = false;
    gcb.DelayTime = delay_;
    gcb.TransparentColor = NO_TRANSPARENT_COLOR;
    GifByteType ext[4];
    const size_t ext_len = EGifGCBToExtension(&gcb, ext);
    if (local == nullptr && gif_->Image.ColorMap != nullptr) {
      // giflib 5's EGifPutImageDesc drops (leaks) the previous frame's local palette when
      // this frame has none: free it first.
      GifFreeMapObject(gif_->Image.ColorMap);
      gif_->Image.ColorMap = nullptr;
    }
    bool ok = EGifPutExtension(gif_, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(ext_len), ext) == GIF_OK;
    ok = ok && EGifPutImageDesc(gif_, 0, 0, width_, height_, false, local) == GIF_OK;
    GifFreeMapObject(local);
    for (int y = 0; ok && y < height_; ++y)
      ok = EGifPutLine(gif_, index.data() + static_cast<size_t>(y) * static_cast<size_t>(width_), width_) == GIF_OK;
    if (!ok) fail(latent::detail::str_cat("writing frame ", frames_));
    ++frames_;
  }

  // One image (C, H, W) with C in {1, 3, 4} or (H, W), values in [0, 1] (as save_image
  // converts them), e.g. a make_grid result. Its size must be the writer's.
  template <typename T>
  void add_frame(const Tensor<T>& image) {
    const Image8 img = to_image8(image, "GifWriter::add_frame");
    LATENT_CHECK(img.width == width_ && img.height == height_, "GifWriter::add_frame: '", path_.string(),
                 "' is ", width_, "x", height_, " (width x height), but the image is ", img.width, "x", img.height,
                 " (shape ", image.shape(), ")");
    add_frame(img.pixels.data(), img.channels);
  }

  // Ends the stream and writes the file atomically. Throws when no frame was added (and
  // writes nothing). Later calls do nothing; a failed write may be retried.
  void close() {
    if (closed_) return;
    const std::string target = path_.string();
    if (gif_ != nullptr) {
      int err = 0;
      const int rc = EGifCloseFile(gif_, &err);  // writes the trailer, frees the handle
      gif_ = nullptr;
      if (rc != GIF_OK) {
        closed_ = true;
        throw Error(latent::detail::str_cat("GifWriter: cannot write '", target, "': giflib: ", gif_error(err)));
      }
    }
    if (frames_ == 0) {
      closed_ = true;
      throw Error(latent::detail::str_cat("GifWriter: '", target, "': no frames were added; nothing written"));
    }
    detail::write_atomically_as("GifWriter", path_, bytes_.data(), bytes_.size());
    closed_ = true;
    bytes_ = {};
  }

  int frames() const { return frames_; }
  int width() const { return width_; }
  int height() const { return height_; }
  bool closed() const { return closed_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  static int write_bytes(GifFileType* gif, const GifByteType* data, int len) {
    try {
      auto* out = static_cast<std::vector<uint8_t>*>(gif->UserData);
      out->insert(out->end(), data, data + len);
      return len;
    } catch (...) {  // never through giflib's C frames
      return 0;
    }
  }
  static std::string gif_error(int code) {
    const char* s = GifErrorString(code);
    return s ? std::string(s) : latent::detail::str_cat("error ", code);
  }
  [[noreturn]] void fail(const std::string& what) {
    const int code = gif_ ? gif_->Error : 0;
    release();
    closed_ = true;
    throw Error(latent::detail::str_cat("GifWriter: cannot write '", path_.string(), "': giflib failed ", what, ": ",
                                        gif_error(code)));
  }
  void release() {
    if (gif_ != nullptr) {
      int err = 0;
      EGifCloseFile(gif_, &err);
      gif_ = nullptr;
    }
  }

  // Maps RGB(A) pixels to palette indices; returns the local palette (caller frees).
  ColorMapObject* quantize(const uint8_t* pixels, int channels, std::vector<GifPixelType>& index) const {
    std::array<GifColorType, 256> colors{};
#if !defined(LATENT_GIF_NO_QUANTIZE)
    if (detail::gif_median_cut(pixels, channels, width_, height_, index, colors)) return make_map(colors);
#endif
    detail::gif_color_cube(pixels, channels, index, colors);
    return make_map(colors);
  }
  ColorMapObject* make_map(const std::array<GifColorType, 256>& colors) const {
    ColorMapObject* map = GifMakeMapObject(256, colors.data());
    LATENT_CHECK(map != nullptr, "GifWriter::add_frame: '", path_.string(), "': out of memory for a palette");
    return map;
  }

  std::filesystem::path path_;
  int width_, height_, delay_;
  GifFileType* gif_ = nullptr;
  std::vector<uint8_t> bytes_;
  int frames_ = 0;
  bool closed_ = false;
};

}  // namespace latent::io
