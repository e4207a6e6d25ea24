// Visual output (io/image.hpp, gif.hpp, plot.hpp, csv.hpp, progress.hpp): PNGs read back
// exactly, make_grid/save_image as torchvision computes them, GIFs read back with giflib,
// plots, CSV logs and progress lines.
#include <gif_lib.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <latent/io.hpp>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "helpers.hpp"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#endif
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// GCC 12's -Wextra flags designated initializers that leave out members, which is how the
// option structs are meant to be used ({.nrow = 8, .normalize = true}).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif

using namespace latent;
using Catch::Matchers::Contains;
using latent::testing::TempDir;
namespace fs = std::filesystem;

namespace {

struct Png {
  int w = 0, h = 0, c = 0;
  std::vector<uint8_t> px;
  const uint8_t* at(int x, int y) const { return px.data() + (static_cast<size_t>(y) * w + x) * c; }
};

// Reads a PNG with stb_image, in its own channel count.
Png read_png(const fs::path& path) {
  Png p;
  unsigned char* data = stbi_load(path.string().c_str(), &p.w, &p.h, &p.c, 0);
  REQUIRE(data != nullptr);
  p.px.assign(data, data + static_cast<size_t>(p.w) * p.h * p.c);
  stbi_image_free(data);
  return p;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A (n, c, h, w) float tensor holding 0, 1, 2, ... (row-major) times `scale`.
Tensor<float> ramp(int64_t n, int64_t c, int64_t h, int64_t w, float scale = 1) {
  std::vector<float> v(static_cast<size_t>(n * c * h * w));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * scale;
  return from_vector(v, Shape{n, c, h, w});
}

const char* kMissingDir = "/nonexistent_latent_dir_for_tests";

}  // namespace

TEST_CASE("write_png writes pixels that read back exactly, atomically", "[io][image]") {
  TempDir dir;
  for (int channels : {1, 2, 3, 4}) {
    const int w = 5, h = 3;
    std::vector<uint8_t> px(static_cast<size_t>(w * h * channels));
    for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
    const fs::path path = dir.path / ("img" + std::to_string(channels) + ".png");
    io::write_png(path, px.data(), w, h, channels);
    const Png back = read_png(path);
    REQUIRE(back.w == w);
    REQUIRE(back.h == h);
    REQUIRE(back.c == channels);
    REQUIRE(back.px == px);
  }
  // Overwrites in place; no temporary files are left behind.
  std::vector<uint8_t> grey(4, 200);
  io::write_png(dir.path / "img1.png", grey.data(), 2, 2, 1);
  REQUIRE(read_png(dir.path / "img1.png").px == grey);
  REQUIRE(dir.listing() == std::vector<std::string>{"img1.png", "img2.png", "img3.png", "img4.png"});

  REQUIRE_ERROR(io::write_png(dir.path / "x.png", grey.data(), 2, 2, 5), Contains("channels"));
  REQUIRE_ERROR(io::write_png(dir.path / "x.png", grey.data(), 0, 2, 1), Contains("size must be positive"));
  const std::string bad = std::string(kMissingDir) + "/a.png";
  REQUIRE_ERROR(io::write_png(bad, grey.data(), 2, 2, 1), Contains("write_png: cannot write '" + bad + "'"));
}

TEST_CASE("make_grid lays images out as torchvision.utils.make_grid", "[io][image]") {
  SECTION("shape for N=10, nrow=8, padding=2 on 28x28 grey images") {
    auto grid = io::make_grid(ramp(10, 1, 28, 28));
    REQUIRE(grid.shape() == Shape{3, 62, 242});
  }
  SECTION("a small grid, value by value (torchvision: arange(8).reshape(2,1,2,2), padding=1, pad_value=-1)") {
    auto grid = io::make_grid(ramp(2, 1, 2, 2), {.nrow = 8, .padding = 1, .pad_value = -1});
    REQUIRE(grid.shape() == Shape{3, 4, 7});
    const std::vector<float> channel = {-1, -1, -1, -1, -1, -1, -1,  //
                                        -1, 0,  1,  -1, 4,  5,  -1,  //
                                        -1, 2,  3,  -1, 6,  7,  -1,  //
                                        -1, -1, -1, -1, -1, -1, -1};
    std::vector<float> expected;
    for (int c = 0; c < 3; ++c) expected.insert(expected.end(), channel.begin(), channel.end());  // grey replicated
    REQUIRE(grid.to_vector() == expected);
  }
  SECTION("rows of nrow, the last row padded with pad_value") {
    // 5 RGB images 2x3, nrow=2, padding=2: xmaps=2, ymaps=3 -> (3, 3*(2+2)+2, 2*(3+2)+2).
    auto images = ramp(5, 3, 2, 3, 0.01f);
    auto grid = io::make_grid(images, {.nrow = 2, .padding = 2, .pad_value = 0.5});
    REQUIRE(grid.shape() == Shape{3, 14, 12});
    // Image k sits at top = (k / 2) * 4 + 2, left = (k % 2) * 5 + 2.
    for (int k = 0; k < 5; ++k)
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 2; ++y)
          for (int x = 0; x < 3; ++x)
            REQUIRE(grid.at({c, (k / 2) * 4 + 2 + y, (k % 2) * 5 + 2 + x}) == images.at({k, c, y, x}));
    REQUIRE(grid.at({0, 0, 0}) == 0.5f);
    REQUIRE(grid.at({2, 13, 11}) == 0.5f);
    REQUIRE(grid.at({1, 10, 7}) == 0.5f);  // the empty sixth cell
    REQUIRE(grid.at({1, 6, 5}) == 0.5f);   // between two images
  }
  SECTION("one image: no padding; (H, W) and (1, H, W) grey become three channels") {
    auto one = io::make_grid(ramp(1, 1, 4, 5));
    REQUIRE(one.shape() == Shape{3, 4, 5});
    REQUIRE(one.at({2, 3, 4}) == 19.0f);
    REQUIRE(io::make_grid(ramp(1, 1, 4, 5).reshape({4, 5})).shape() == Shape{3, 4, 5});
    REQUIRE(io::make_grid(ramp(1, 1, 4, 5).reshape({1, 4, 5})).shape() == Shape{3, 4, 5});
    REQUIRE(io::make_grid(ramp(1, 3, 4, 5).reshape({3, 4, 5})).shape() == Shape{3, 4, 5});
  }
  SECTION("normalize with value_range clamps and maps to [0, 1]") {
    auto x = from_vector<float>({-1, 0, 1, 2, -3, 0.5f}, Shape{2, 1, 1, 3});
    auto grid = io::make_grid(x, {.nrow = 2, .padding = 0, .normalize = true, .value_range = {{-1, 1}}});
    REQUIRE(grid.shape() == Shape{3, 1, 6});
    REQUIRE(grid.select(0, 0).to_vector() == std::vector<float>{0, 0.5f, 1, 1, 0, 0.75f});
    REQUIRE(x.to_vector() == std::vector<float>{-1, 0, 1, 2, -3, 0.5f});  // the input is unchanged
  }
  SECTION("normalize by the batch's min/max, or each image's with scale_each") {
    auto x = from_vector<double>({0, 1, 10, 30}, Shape{2, 1, 1, 2});
    auto all = io::make_grid(x, {.padding = 0, .normalize = true});
    REQUIRE(all.select(0, 0).to_vector() == std::vector<double>{0, 1.0 / 30, 1.0 / 3, 1});
    auto each = io::make_grid(x, {.padding = 0, .normalize = true, .scale_each = true});
    REQUIRE(each.select(0, 0).to_vector() == std::vector<double>{0, 1, 0, 1});
    // A constant image divides by max(high - low, 1e-5): all zeros.
    auto flat = io::make_grid(full<double>({1, 1, 2, 2}, 3.0), {.normalize = true});
    REQUIRE(flat.to_vector() == std::vector<double>(12, 0.0));
  }
  SECTION("errors") {
    REQUIRE_ERROR(io::make_grid(ramp(2, 1, 2, 2), {.nrow = 0}), Contains("nrow"));
    REQUIRE_ERROR(io::make_grid(ramp(2, 1, 2, 2).reshape({1, 2, 1, 2, 2})), Contains("make_grid: expected"));
    REQUIRE_ERROR(io::make_grid(ramp(2, 1, 2, 2), {.padding = -1}), Contains("padding"));
  }
}

TEST_CASE("save_image converts as torchvision: x * 255 + 0.5, clamped, truncated", "[io][image]") {
  TempDir dir;
  // One grey image (1, 1, 1, 8): a single image is saved without padding, as RGB.
  auto x = from_vector<float>({0.0f, 0.2f, 0.5f, 1.0f, 1.5f, -0.1f, 0.999f, 0.998f}, Shape{1, 1, 1, 8});
  io::save_image(dir.path / "row.png", x);
  const Png png = read_png(dir.path / "row.png");
  REQUIRE(png.w == 8);
  REQUIRE(png.h == 1);
  REQUIRE(png.c == 3);
  const std::vector<int> expected = {0, 51, 128, 255, 255, 0, 255, 254};
  for (int i = 0; i < 8; ++i) {
    INFO("pixel " << i);
    REQUIRE(static_cast<int>(png.at(i, 0)[0]) == expected[static_cast<size_t>(i)]);
    REQUIRE(png.at(i, 0)[1] == png.at(i, 0)[0]);
    REQUIRE(png.at(i, 0)[2] == png.at(i, 0)[0]);
  }
  // A generator's [-1, 1] batch: 10 images 28x28 -> a 242x62 grid; padding is black.
  auto fake = full<float>({10, 1, 28, 28}, 0.0f);  // 0 in [-1, 1] -> 0.5 -> 128
  io::save_image(dir.path / "grid.png", fake, {.nrow = 8, .normalize = true, .value_range = {{-1, 1}}});
  const Png grid = read_png(dir.path / "grid.png");
  REQUIRE(grid.w == 242);
  REQUIRE(grid.h == 62);
  REQUIRE(grid.at(0, 0)[0] == 0);
  REQUIRE(grid.at(2, 2)[0] == 128);
  REQUIRE(grid.at(32 + 27, 32 + 27)[1] == 128);  // image 9: second row, second column
  REQUIRE(grid.at(62, 32)[2] == 0);              // an empty cell
  REQUIRE(dir.listing() == std::vector<std::string>{"grid.png", "row.png"});
  const std::string bad = std::string(kMissingDir) + "/grid.png";
  REQUIRE_ERROR(io::save_image(bad, fake), Contains(bad));
}

TEST_CASE("GifWriter writes an animated GIF that giflib reads back", "[io][gif]") {
  TempDir dir;
  const fs::path path = dir.path / "anim.gif";
  const int w = 4, h = 3;
  {
    io::GifWriter gif(path, w, h, /*delay_centiseconds=*/7);
    for (int f = 0; f < 3; ++f) {
      std::vector<uint8_t> grey(static_cast<size_t>(w * h));
      for (size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<uint8_t>(f * 80 + static_cast<int>(i) * 7);
      gif.add_frame(grey.data(), 1);
    }
    REQUIRE(gif.frames() == 3);
    REQUIRE_FALSE(fs::exists(path));  // written by close()
    gif.close();
  }
  REQUIRE(dir.listing() == std::vector<std::string>{"anim.gif"});
  const std::string bytes = slurp(path);
  REQUIRE(bytes.substr(0, 6) == "GIF89a");
  REQUIRE(bytes.find("NETSCAPE2.0") != std::string::npos);

  int err = 0;
  GifFileType* g = DGifOpenFileName(path.string().c_str(), &err);
  REQUIRE(g != nullptr);
  REQUIRE(DGifSlurp(g) == GIF_OK);
  CHECK(g->SWidth == w);
  CHECK(g->SHeight == h);
  CHECK(g->ImageCount == 3);
  for (int f = 0; f < g->ImageCount; ++f) {
    const SavedImage& im = g->SavedImages[f];
    CHECK(im.ImageDesc.Width == w);
    CHECK(im.ImageDesc.Height == h);
    GraphicsControlBlock gcb;
    REQUIRE(DGifSavedExtensionToGCB(g, f, &gcb) == GIF_OK);
    CHECK(gcb.DelayTime == 7);
    const ColorMapObject* map = im.ImageDesc.ColorMap ? im.ImageDesc.ColorMap : g->SColorMap;
    REQUIRE(map != nullptr);
    for (int i = 0; i < w * h; ++i) {
      const GifColorType c = map->Colors[im.RasterBits[i]];
      const int want = f * 80 + i * 7;
      CHECK(c.Red == want);
      CHECK(c.Green == want);
      CHECK(c.Blue == want);
    }
  }
  DGifCloseFile(g, &err);
}

TEST_CASE("GifWriter: RGB frames, tensor frames, palettes and errors", "[io][gif]") {
  TempDir dir;
  const fs::path path = dir.path / "rgb.gif";
  const std::vector<std::array<uint8_t, 3>> colors = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255},
                                                      {12, 200, 99}, {0, 0, 0}};
  const int w = 6, h = 2;
  std::vector<uint8_t> rgb;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) rgb.insert(rgb.end(), colors[static_cast<size_t>((x + y) % 6)].begin(),
                                           colors[static_cast<size_t>((x + y) % 6)].end());
  {
    io::GifWriter gif(path, w, h, 10, /*loop=*/false);
    gif.add_frame(rgb.data(), 3);
    // A tensor frame (C, H, W) in [0, 1]: grey RGB is stored with the grey palette.
    gif.add_frame(full<float>({3, h, w}, 0.5f));
    REQUIRE_ERROR(gif.add_frame(full<float>({3, h + 1, w}, 0.5f)), Contains("6x2"));
    REQUIRE_ERROR(gif.add_frame(rgb.data(), 2), Contains("channels"));
  }
  const std::string bytes = slurp(path);
  REQUIRE(bytes.find("NETSCAPE2.0") == std::string::npos);  // loop=false: plays once
  int err = 0;
  GifFileType* g = DGifOpenFileName(path.string().c_str(), &err);
  REQUIRE(g != nullptr);
  REQUIRE(DGifSlurp(g) == GIF_OK);
  REQUIRE(g->ImageCount == 2);
  {
    const SavedImage& im = g->SavedImages[0];
    REQUIRE(im.ImageDesc.ColorMap != nullptr);  // a local palette
    for (int i = 0; i < w * h; ++i) {
      const GifColorType c = im.ImageDesc.ColorMap->Colors[im.RasterBits[i]];
      const uint8_t* want = rgb.data() + 3 * i;
      CHECK(int(c.Red) == int(want[0]));
      CHECK(int(c.Green) == int(want[1]));
      CHECK(int(c.Blue) == int(want[2]));
    }
    const SavedImage& grey = g->SavedImages[1];
    const ColorMapObject* map = grey.ImageDesc.ColorMap ? grey.ImageDesc.ColorMap : g->SColorMap;
    CHECK(int(map->Colors[grey.RasterBits[0]].Red) == 128);  // 0.5 * 255 + 0.5
  }
  DGifCloseFile(g, &err);

  // The fixed colour cube (LATENT_GIF_NO_QUANTIZE) keeps pure colours exact.
  std::vector<GifPixelType> index(static_cast<size_t>(w * h));
  std::array<GifColorType, 256> palette;
  io::detail::gif_color_cube(rgb.data(), 3, index, palette);
  for (int i : {0, 1, 2, 3, 5}) {
    const GifColorType c = palette[index[static_cast<size_t>(i)]];
    CHECK(int(c.Red) == int(rgb[3 * i]));
    CHECK(int(c.Green) == int(rgb[3 * i + 1]));
    CHECK(int(c.Blue) == int(rgb[3 * i + 2]));
  }

  // No frames: close() says so and writes nothing; a bad directory fails at construction.
  {
    io::GifWriter empty(dir.path / "empty.gif", 2, 2, 5);
    REQUIRE_THROWS_WITH(empty.close(), Contains("no frames"));  // once: a second close() does nothing
  }
  REQUIRE_FALSE(fs::exists(dir.path / "empty.gif"));
  const std::string bad = std::string(kMissingDir) + "/a.gif";
  REQUIRE_ERROR(io::GifWriter(bad, 2, 2, 5), Contains("GifWriter: cannot write '" + bad + "'"));
  REQUIRE_ERROR(io::GifWriter(dir.path / "a.gif", 0, 2, 5), Contains("size"));
  REQUIRE(dir.listing() == std::vector<std::string>{"rgb.gif"});
}

TEST_CASE("nice ticks: steps of 1, 2 or 5 times a power of ten", "[io][plot]") {
  CHECK(io::nice_tick_step(1) == 1);
  CHECK(io::nice_tick_step(2) == 2);
  CHECK(io::nice_tick_step(2.0001) == 5);
  CHECK(io::nice_tick_step(0.13) == Approx(0.2));
  CHECK(io::nice_tick_step(0.7) == Approx(1));
  CHECK(io::nice_tick_step(3) == 5);
  CHECK(io::nice_tick_step(45) == 50);
  CHECK(io::nice_tick_step(6e5) == Approx(1e6));
  CHECK(io::nice_tick_step(0.000123) == Approx(0.0002));
  CHECK(io::nice_tick_step(1e-3) == Approx(1e-3));
  REQUIRE_ERROR(io::nice_tick_step(0), Contains("positive"));

  auto t = io::nice_ticks(0, 1, 6);
  REQUIRE(t.size() == 6);
  for (size_t i = 0; i < t.size(); ++i) CHECK(t[i] == Approx(0.2 * static_cast<double>(i)));
  CHECK(io::nice_ticks(-1.3, 2.7, 5) == std::vector<double>{-1, 0, 1, 2});
  CHECK(io::nice_ticks(0, 100, 11).size() == 11);
  CHECK(io::nice_ticks(-0.05, 0.05, 3) == std::vector<double>{-0.05, 0, 0.05});
  CHECK(io::nice_ticks(1e15, 1e15 + 1000, 5).size() <= 5);

  CHECK(io::format_tick(0.30000000000000004, 0.1) == "0.3");
  CHECK(io::format_tick(1500, 500) == "1500");
  CHECK(io::format_tick(-0.05, 0.05) == "-0.05");
  CHECK(io::format_tick(0, 0.2) == "0");
  CHECK(io::format_tick(2e6, 1e6) == "2e+06");
  CHECK(io::format_tick(1.5e-5, 5e-6) == "1.5e-05");
}

TEST_CASE("save_plot renders series, axes and a legend to a PNG", "[io][plot]") {
  TempDir dir;
  const io::Rgb red{255, 0, 0}, blue{0, 0, 255}, green{0, 160, 0};
  auto centroid = [](const Png& p, io::Rgb c, int& count) {
    double sx = 0, sy = 0;
    count = 0;
    for (int y = 0; y < p.h; ++y)
      for (int x = 0; x < p.w; ++x) {
        const uint8_t* q = p.at(x, y);
        if (q[0] == c.r && q[1] == c.g && q[2] == c.b) {
          sx += x;
          sy += y;
          ++count;
        }
      }
    return std::pair<double, double>(count ? sx / count : -1, count ? sy / count : -1);
  };
  SECTION("scatter points land where their coordinates say; non-finite ones are skipped") {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    std::vector<io::Series> series = {
        {.label = "low", .x = {0.25, nan, 0.25}, .y = {0.25, 0.5, inf}, .color = red,
         .kind = io::Series::Kind::scatter, .size = 3, .alpha = 1.0},
        {.label = "high", .x = {0.75}, .y = {0.75}, .color = blue, .kind = io::Series::Kind::scatter, .size = 3,
         .alpha = 1.0}};
    const fs::path path = dir.path / "scatter.png";
    io::save_plot(path, series, {.title = "Scatter", .x_label = "x", .y_label = "y", .width = 400, .height = 300,
                                 .x_range = {{0, 1}}, .y_range = {{0, 1}}});
    const Png p = read_png(path);
    REQUIRE(p.w == 400);
    REQUIRE(p.h == 300);
    REQUIRE(p.c == 3);
    CHECK(p.at(0, 0)[0] == 255);  // white background
    int n_red = 0, n_blue = 0;
    auto [rx, ry] = centroid(p, red, n_red);
    auto [bx, by] = centroid(p, blue, n_blue);
    // Each colour: one disc of radius 3 in the plot plus its legend marker.
    REQUIRE(n_red > 20);
    REQUIRE(n_blue > 20);
    // Discs alone: pixels in a small window around the point the other colour is not near.
    int red_disc = 0;
    double dx = 0, dy = 0;
    for (int y = 0; y < p.h; ++y)
      for (int x = 0; x < p.w / 2; ++x) {  // the legend sits top right
        const uint8_t* q = p.at(x, y);
        if (q[0] == 255 && q[1] == 0 && q[2] == 0) {
          dx += x;
          dy += y;
          ++red_disc;
        }
      }
    REQUIRE(red_disc >= 25);  // exactly one disc (radius 3: 29 pixels): the NaN and inf points drew nothing
    REQUIRE(red_disc <= 37);
    dx /= red_disc;
    dy /= red_disc;
    // (0.25, 0.25) is in the lower-left quarter of the image, and left of/below (0.75, 0.75).
    CHECK(dx > 0.15 * p.w);
    CHECK(dx < 0.5 * p.w);
    CHECK(dy > 0.5 * p.h);
    CHECK(dy < 0.9 * p.h);
    (void)rx;
    (void)ry;
    CHECK(bx > dx + 0.3 * p.w);
    CHECK(by < dy);
  }
  SECTION("lines: thick, clipped to the plot, broken at non-finite values; log scale") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<io::Series> series = {{.label = "flat", .x = {-10, 0.5, 10}, .y = {0.5, 0.5, 0.5}, .color = green,
                                       .size = 3},
                                      {.label = "", .x = {0, 1, 2}, .y = {nan, 1, nan}}};
    const fs::path path = dir.path / "line.png";
    io::save_plot(path, series, {.width = 320, .height = 240, .x_range = {{0, 1}}, .y_range = {{0, 1}}});
    const Png p = read_png(path);
    // The longest run of green in any row spans most of the plot width (clipped to it).
    int best = 0, rows = 0;
    for (int y = 0; y < p.h; ++y) {
      int run = 0, longest = 0;
      for (int x = 0; x < p.w; ++x) {
        const uint8_t* q = p.at(x, y);
        run = (q[0] == 0 && q[1] == 160 && q[2] == 0) ? run + 1 : 0;
        longest = std::max(longest, run);
      }
      best = std::max(best, longest);
      if (longest > p.w / 2) ++rows;
    }
    CHECK(best > p.w / 2);
    CHECK(best < p.w);
    CHECK(rows == 3);  // width 3
    // Log y with non-positive values (skipped) and an auto range.
    io::save_plot(dir.path / "log.png", {{.label = "loss", .y = {10, 1, 0.1, 0, -1, 0.001}}},
                  {.title = "log", .log_y = true});
    CHECK(read_png(dir.path / "log.png").w == 800);
  }
  SECTION("loss plots, empty plots, errors") {
    std::vector<double> steps, d, g;
    for (int i = 0; i < 500; ++i) {
      steps.push_back(i * 10);
      d.push_back(0.7 + 0.2 * std::sin(i * 0.3));
      g.push_back(i == 100 ? std::numeric_limits<double>::quiet_NaN() : 1.5 - i * 0.001 + 0.3 * std::cos(i * 0.7));
    }
    io::save_loss_plot(dir.path / "loss.png", steps, {{"d_loss", d}, {"g_loss", g}});
    const Png p = read_png(dir.path / "loss.png");
    CHECK(p.w == 800);
    CHECK(p.h == 600);
    io::save_loss_plot(dir.path / "loss_raw.png", {}, {{"loss", {3, 2, 1}}}, 1, {.title = "raw"});
    io::save_plot(dir.path / "empty.png", {}, {.title = "nothing"});
    CHECK(read_png(dir.path / "empty.png").w == 800);

    const auto avg = io::moving_average({1, 2, std::numeric_limits<double>::quiet_NaN(), 4, 6}, 2);
    CHECK(avg[0] == 1);
    CHECK(avg[1] == 1.5);
    CHECK(avg[2] == 2);
    CHECK(avg[3] == 4);
    CHECK(avg[4] == 5);

    REQUIRE_ERROR(io::save_plot(dir.path / "bad.png", {{.label = "pts", .x = {1, 2}, .y = {1}}}),
                  Contains("series 0 ('pts') has 2 x values but 1 y values"));
    REQUIRE_ERROR(io::save_loss_plot(dir.path / "bad.png", {1, 2}, {{"d", {1, 2, 3}}}), Contains("curve 'd'"));
    REQUIRE_ERROR(io::save_plot(dir.path / "bad.png", {}, {.x_range = {{1, 1}}}), Contains("x_range"));
    const std::string bad = std::string(kMissingDir) + "/plot.png";
    REQUIRE_ERROR(io::save_plot(bad, {{.y = {1, 2}}}), Contains("write_png: cannot write '" + bad + "'"));
    REQUIRE(dir.listing() == std::vector<std::string>{"empty.png", "loss.png", "loss_raw.png"});
  }
}

TEST_CASE("CsvWriter: exact numbers, quoting, atomic writes", "[io][csv]") {
  TempDir dir;
  const fs::path path = dir.path / "log.csv";
  {
    io::CsvWriter log(path, {"step", "loss", "note", "ok"});
    log.row(1, 0.1f, "a,b", true);
    log.row(int64_t{2}, 0.1, "say \"hi\"", false);
    log.row(std::vector<double>{3, 1e-300, -2.5, std::numeric_limits<double>::infinity()});
    REQUIRE_ERROR(log.row(1, 2), Contains("has 4 columns, but the row has 2 values"));
    REQUIRE_FALSE(fs::exists(path));  // nothing before close() or flush_to_disk()
    log.flush_to_disk();
    REQUIRE(slurp(path) == log.content());
    log.row(4, std::numeric_limits<float>::quiet_NaN(), "", -7);
    REQUIRE(slurp(path).find("\n4,") == std::string::npos);
    log.close();
    REQUIRE(log.closed());
    REQUIRE_ERROR(log.row(5, 1, "", 0), Contains("closed"));
  }
  REQUIRE(slurp(path) ==
          "step,loss,note,ok\n"
          "1,0.100000001,\"a,b\",1\n"
          "2,0.10000000000000001,\"say \"\"hi\"\"\",0\n"
          "3,1e-300,-2.5,inf\n"
          "4,nan,,-7\n");
  REQUIRE(dir.listing() == std::vector<std::string>{"log.csv"});  // no temporary files left

  // Round trip: the printed numbers read back to the same float/double.
  Generator gen(7);
  const auto values = uniform<double>({200}, -1e6, 1e6, gen).to_vector();
  for (double v : values) {
    const double x = v * 1e-3;
    const float f = static_cast<float>(x);
    CHECK(std::strtod(io::detail::csv_number(x).c_str(), nullptr) == x);
    CHECK(std::strtof(io::detail::csv_number(f).c_str(), nullptr) == f);
  }

  // The destructor writes an unclosed log; a bad path fails at close(), naming it.
  { io::CsvWriter log(dir.path / "auto.csv", {"a"}); log.row(1); }
  REQUIRE(slurp(dir.path / "auto.csv") == "a\n1\n");
  const std::string bad = std::string(kMissingDir) + "/log.csv";
  io::CsvWriter broken(bad, {"a"});
  REQUIRE_ERROR(broken.close(), Contains("CsvWriter: cannot write '" + bad + "'"));
}

TEST_CASE("Progress: formatting, plain lines, tty redraws, off", "[io][progress]") {
  CHECK(io::format_duration(0) == "00:00");
  CHECK(io::format_duration(59.9) == "00:59");
  CHECK(io::format_duration(61) == "01:01");
  CHECK(io::format_duration(3599) == "59:59");
  CHECK(io::format_duration(3600) == "1:00:00");
  CHECK(io::format_duration(3725) == "1:02:05");
  CHECK(io::format_duration(-1) == "--:--");
  CHECK(io::format_duration(std::numeric_limits<double>::quiet_NaN()) == "--:--");
  CHECK(io::format_rate(12.345) == "12.3 it/s");
  CHECK(io::format_rate(5) == "5.00 it/s");
  CHECK(io::format_rate(250.4) == "250 it/s");
  CHECK(io::format_rate(0.4) == "2.50 s/it");
  CHECK(io::format_rate(0) == "? it/s");
  CHECK(io::format_metric(0.693147) == "0.6931");
  CHECK(io::format_metric(1234567) == "1.235e+06");

  double now = 0;
  auto clock = [&now] { return now; };
  SECTION("plain: a line at most every interval, then the summary") {
    std::ostringstream os;
    io::Progress p("train", 100, os);
    p.set_mode(io::Progress::Mode::plain).set_clock(clock);
    now = 1;
    p.update(10);
    CHECK(os.str().empty());  // under 5 s since the start
    now = 6;
    p.update(50, {{"loss", 0.693147}, {"acc", 0.5}});
    now = 7;
    p.update(60);
    now = 10;
    p.update(100);
    p.finish();
    p.finish();  // once only
    const std::string out = os.str();
    INFO(out);
    CHECK(out == "train  50/100  50.0%  8.33 it/s  00:06<00:06  loss=0.6931  acc=0.5\n"
                 "train  100/100 in 00:10, 10.0 it/s\n");
  }
  SECTION("plain with a shorter interval and an unknown total") {
    std::ostringstream os;
    io::Progress p("sample", 0, os);
    p.set_mode(io::Progress::Mode::plain).set_plain_interval(1).set_clock(clock);
    now = 2;
    p.update(30, {{"t", 999}});
    p.finish();
    CHECK(os.str() == "sample  30 it  15.0 it/s  00:02  t=999\nsample  30 in 00:02, 15.0 it/s  t=999\n");
  }
  SECTION("tty: one line redrawn with \\r at most 10 times a second") {
    std::ostringstream os;
    io::Progress p("fit", 10, os);
    p.set_mode(io::Progress::Mode::tty).set_clock(clock);
    now = 1;
    p.update(1);
    now = 1.05;
    p.update(2);  // too soon: not drawn
    now = 2;
    p.update(5, {{"loss", 1.0 / 3}});
    p.finish();
    const std::string out = os.str();
    INFO(out);
    CHECK(std::count(out.begin(), out.end(), '\r') == 3);
    CHECK(out.find("fit [##..................]  1/10  10.0%") != std::string::npos);
    CHECK(out.find("2/10") == std::string::npos);
    CHECK(out.find("[##########..........]  5/10  50.0%  2.50 it/s  00:02<00:02  loss=0.3333") != std::string::npos);
    CHECK(out.find("fit  5/10 in 00:02, 2.50 it/s  loss=0.3333") != std::string::npos);
    CHECK(out.back() == '\n');
  }
  SECTION("off, and LATENT_PROGRESS overriding the detection") {
    std::ostringstream os;
    {
      io::Progress p("quiet", 10, os);
      p.set_mode(io::Progress::Mode::off);
      p.update(10, {{"x", 1}});
      p.finish();
    }
    CHECK(os.str().empty());
    const char* old = std::getenv("LATENT_PROGRESS");
    const std::string saved = old ? old : "";
    ::setenv("LATENT_PROGRESS", "off", 1);
    CHECK(io::Progress("a", 1, os).mode() == io::Progress::Mode::off);
    ::setenv("LATENT_PROGRESS", "tty", 1);
    CHECK(io::Progress("a", 1, os).mode() == io::Progress::Mode::tty);
    ::unsetenv("LATENT_PROGRESS");
    CHECK(io::Progress("a", 1, os).mode() == io::Progress::Mode::plain);  // not a terminal stream
    if (old) ::setenv("LATENT_PROGRESS", saved.c_str(), 1);
    CHECK(os.str().empty());
  }
}
