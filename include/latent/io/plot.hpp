// latent::io: a small raster plotter for training curves and 2-D samples, to PNG.
//
//   io::save_plot("samples.png", {
//       {.label = "real", .x = rx, .y = ry, .kind = io::Series::Kind::scatter},
//       {.label = "fake", .x = fx, .y = fy, .color = io::tab10(3), .kind = io::Series::Kind::scatter}},
//     {.title = "2-D GAN, step 5000", .x_range = {{-2, 2}}, .y_range = {{-2, 2}}});
//   io::save_loss_plot("loss.png", steps, {{"d_loss", d}, {"g_loss", g}});   // raw + moving average
//
// Why hand-written: no Debian-packaged C++ plotting library fits a header-only library
// without a heavy dependency (gnuplot or matplotlib are separate programs, PLplot/ROOT are
// large compiled libraries), and training plots need little: axes with "nice" ticks (steps
// of 1, 2 or 5 x 10^k), a title, axis labels, a legend, thick lines (Bresenham with a round
// pen) and alpha-blended discs for scatter plots, so dense clouds show their density. Text
// uses a built-in 5x7 bitmap font (ASCII 32..126), scaled with the image. No anti-aliasing.
//
// Colours default to matplotlib's tab10 cycle by series position. Non-finite points (and
// y <= 0 with log_y) are skipped: a line breaks there, as in matplotlib. Auto ranges cover
// the finite data with a 5% margin. The PNG is written atomically (io::write_png).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "image.hpp"

namespace latent::io {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

// matplotlib's "tab10" colour cycle.
inline constexpr std::array<Rgb, 10> kTab10 = {{{31, 119, 180},
                                                {255, 127, 14},
                                                {44, 160, 44},
                                                {214, 39, 40},
                                                {148, 103, 189},
                                                {140, 86, 75},
                                                {227, 119, 194},
                                                {127, 127, 127},
                                                {188, 189, 34},
                                                {23, 190, 207}}};
inline Rgb tab10(size_t i) { return kTab10[i % kTab10.size()]; }

struct Series {
  std::string label;                     // legend entry (empty: not in the legend)
  std::vector<double> x, y;              // x empty: 0, 1, 2, ...
  std::optional<Rgb> color;              // unset: tab10(position of the series)
  enum class Kind { line, scatter } kind = Kind::line;
  double size = 2;                       // line width (rounded), or scatter disc radius, in pixels
  std::optional<double> alpha;           // opacity in [0, 1]; unset: lines 1, scatter 0.4
};

struct PlotOptions {
  std::string title, x_label, y_label;
  int width = 800, height = 600;
  std::optional<std::pair<double, double>> x_range, y_range;  // unset: the data's, plus 5%
  bool log_y = false;
};

namespace detail {
// The smallest m x 10^e >= raw with m in {1, 2, 5}.
inline void nice_step_parts(double raw, int& m, int& e) {
  LATENT_CHECK(raw > 0 && std::isfinite(raw), "nice_tick_step: expected a positive finite step, got ", raw);
  e = static_cast<int>(std::floor(std::log10(raw))) - 1;  // log10 may land a hair off: start a decade low
  for (;; ++e)
    for (int mm : {1, 2, 5}) {
      const double v = e >= 0 ? mm * std::pow(10.0, e) : mm / std::pow(10.0, -e);
      if (v >= raw * (1 - 1e-12)) {
        m = mm;
        return;
      }
    }
}
// k * m x 10^e, correctly rounded (so 3 * 0.2 prints and compares as 0.6).
inline double nice_value(double k, int m, int e) {
  return e >= 0 ? k * m * std::pow(10.0, e) : k * m / std::pow(10.0, -e);
}
}  // namespace detail

// The smallest of 1, 2, 5 x 10^k that is >= raw (raw > 0 and finite).
inline double nice_tick_step(double raw) {
  int m, e;
  detail::nice_step_parts(raw, m, e);
  return detail::nice_value(1, m, e);
}

// Tick positions k * step inside [lo, hi], at most max_ticks of them, with step a nice one.
inline std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 8) {
  LATENT_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi, "nice_ticks: expected a finite range lo < hi, got [",
               lo, ", ", hi, "]");
  max_ticks = std::max(max_ticks, 2);
  int m, e;
  detail::nice_step_parts((hi - lo) / (max_ticks - 1), m, e);
  const double step = detail::nice_value(1, m, e);
  std::vector<double> ticks;
  const double k0 = std::ceil(lo / step - 1e-9), k1 = std::floor(hi / step + 1e-9);
  for (int i = 0; k0 + i <= k1 && i <= max_ticks; ++i) ticks.push_back(detail::nice_value(k0 + i, m, e));
  return ticks;
}

// A tick label: as many decimals as the step needs ("0.25" with step 0.05), exponent form
// for very large or small magnitudes.
inline std::string format_tick(double v, double step) {
  if (v == 0) return "0";
  char buf[48];
  const double mag = std::max(std::abs(v), step);
  if (mag >= 1e6 || step < 1e-4) {
    const int digits = std::clamp(static_cast<int>(std::ceil(std::log10(std::abs(v) / step) + 1e-9)) + 1, 1, 15);
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  } else {
    const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  }
  return buf;
}

namespace detail {

// 5x7 glyphs for ASCII 32..126: five columns, bit 0 the top row; g, j, p, q and y use an
// eighth row (bit 7) for their descenders, so that g does not read as 9.
inline constexpr uint8_t kFont5x7[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},
    {0x36, 0x49, 0x55, 0x22, 0x50}, {0x00, 0x05, 0x03, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00},
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x14, 0x08, 0x3E, 0x08, 0x14}, {0x08, 0x08, 0x3E, 0x08, 0x08},
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00},
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10},
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00},
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E},
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22},
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x09, 0x01},
    {0x3E, 0x41, 0x49, 0x49, 0x7A}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00},
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40},
    {0x7F, 0x02, 0x0C, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E},
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46},
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F},
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x3F, 0x40, 0x38, 0x40, 0x3F}, {0x63, 0x14, 0x08, 0x14, 0x63},
    {0x07, 0x08, 0x70, 0x08, 0x07}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00},
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F},
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x18, 0xA4, 0xA4, 0xA4, 0x7C},
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x40, 0x80, 0x84, 0x7D, 0x00},
    {0x7F, 0x10, 0x28, 0x44, 0x00}, {0x00, 0x41, 0x7F, 0x40, 0x00}, {0x7C, 0x04, 0x18, 0x04, 0x78},
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0xFC, 0x24, 0x24, 0x24, 0x18},
    {0x18, 0x24, 0x24, 0x18, 0xFC}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C},
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x1C, 0xA0, 0xA0, 0xA0, 0x7C},
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00},
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08}};

// An RGB raster with a clip rectangle for data.
struct Canvas {
  int w, h;
  std::vector<uint8_t> px;
  int cx0 = 0, cy0 = 0, cx1 = -1, cy1 = -1;  // clip (inclusive); empty: whole canvas

  Canvas(int width, int height) : w(width), h(height), px(static_cast<size_t>(width) * height * 3, 255) {}

  bool inside(int x, int y) const {
    if (x < 0 || y < 0 || x >= w || y >= h) return false;
    return cx1 < cx0 || (x >= cx0 && x <= cx1 && y >= cy0 && y <= cy1);
  }
  void blend(int x, int y, Rgb c, double a = 1) {
    if (!inside(x, y)) return;
    uint8_t* p = px.data() + (static_cast<size_t>(y) * w + x) * 3;
    const uint8_t rgb[3] = {c.r, c.g, c.b};
    for (int i = 0; i < 3; ++i) p[i] = static_cast<uint8_t>(std::lround(p[i] + a * (rgb[i] - p[i])));
  }
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c, double a = 1) {  // inclusive corners
    for (int y = std::max(y0, 0); y <= std::min(y1, h - 1); ++y)
      for (int x = std::max(x0, 0); x <= std::min(x1, w - 1); ++x) blend(x, y, c, a);
  }
  void rect_outline(int x0, int y0, int x1, int y1, Rgb c, int t = 1) {
    fill_rect(x0, y0, x1, y0 + t - 1, c);
    fill_rect(x0, y1 - t + 1, x1, y1, c);
    fill_rect(x0, y0, x0 + t - 1, y1, c);
    fill_rect(x1 - t + 1, y0, x1, y1, c);
  }

  static int text_width(const std::string& s, int scale) {
    return s.empty() ? 0 : static_cast<int>(s.size()) * 6 * scale - scale;
  }
  // Text with its top-left corner at (x, y); vertical: rotated a quarter turn counter-
  // clockwise, reading upwards from (x, y) = its bottom-left corner.
  void text(int x, int y, const std::string& s, int scale, Rgb c, bool vertical = false) {
    for (size_t i = 0; i < s.size(); ++i) {
      const unsigned char ch = static_cast<unsigned char>(s[i]);
      const uint8_t* glyph = kFont5x7[(ch >= 32 && ch <= 126 ? ch : '?') - 32];
      const int advance = static_cast<int>(i) * 6 * scale;
      for (int col = 0; col < 5; ++col)
        for (int row = 0; row < 8; ++row) {
          if (!((glyph[col] >> row) & 1)) continue;
          if (vertical)
            fill_rect(x + row * scale, y - advance - (col + 1) * scale + 1, x + (row + 1) * scale - 1,
                      y - advance - col * scale, c);
          else
            fill_rect(x + advance + col * scale, y + row * scale, x + advance + (col + 1) * scale - 1,
                      y + (row + 1) * scale - 1, c);
        }
    }
  }
};

// Pen offsets of a round pen: a disc of the given radius (at least the centre pixel).
inline std::vector<std::pair<int, int>> disc_offsets(double radius) {
  std::vector<std::pair<int, int>> out;
  const int r = static_cast<int>(std::ceil(radius));
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx)
      if (dx * dx + dy * dy <= radius * radius + 0.25 || (dx == 0 && dy == 0)) out.emplace_back(dx, dy);
  return out;
}

// A round pen `width` pixels across (even widths: centred between pixels, at +0.5).
inline std::vector<std::pair<int, int>> line_pen(int width) {
  std::vector<std::pair<int, int>> out;
  const double c = width % 2 == 0 ? 0.5 : 0.0, r2 = 0.25 * width * width;
  for (int dy = -(width - 1) / 2; dy <= width / 2; ++dy)
    for (int dx = -(width - 1) / 2; dx <= width / 2; ++dx)
      if ((dx - c) * (dx - c) + (dy - c) * (dy - c) <= r2 + 1e-9) out.emplace_back(dx, dy);
  return out;
}

// Liang-Barsky: clips the segment to [x0, x1] x [y0, y1]; false when nothing is left.
inline bool clip_segment(double& ax, double& ay, double& bx, double& by, double x0, double y0, double x1, double y1) {
  double t0 = 0, t1 = 1;
  const double dx = bx - ax, dy = by - ay;
  const double p[4] = {-dx, dx, -dy, dy}, q[4] = {ax - x0, x1 - ax, ay - y0, y1 - ay};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
    } else {
      const double t = q[i] / p[i];
      if (p[i] < 0) t0 = std::max(t0, t);
      else t1 = std::min(t1, t);
    }
  }
  if (t0 > t1) return false;
  const double nax = ax + t0 * dx, nay = ay + t0 * dy;
  bx = ax + t1 * dx;
  by = ay + t1 * dy;
  ax = nax;
  ay = nay;
  return true;
}

// Marks the pixels of a thick segment in `mask` (w x h, 1 = covered); `touched` lists them.
inline void stamp_segment(std::vector<uint8_t>& mask, std::vector<size_t>& touched, const Canvas& cv, int ax, int ay,
                          int bx, int by, const std::vector<std::pair<int, int>>& pen) {
  const int dx = std::abs(bx - ax), dy = -std::abs(by - ay), sx = ax < bx ? 1 : -1, sy = ay < by ? 1 : -1;
  int err = dx + dy;
  for (;;) {
    for (const auto& [ox, oy] : pen) {
      const int x = ax + ox, y = ay + oy;
      if (!cv.inside(x, y)) continue;
      const size_t k = static_cast<size_t>(y) * cv.w + x;
      if (!mask[k]) {
        mask[k] = 1;
        touched.push_back(k);
      }
    }
    if (ax == bx && ay == by) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      ax += sx;
    }
    if (e2 <= dx) {
      err += dx;
      ay += sy;
    }
  }
}

// Ticks for a log axis: 1-2-5 multiples of powers of ten when few decades show (and they
// fit), else decades (every k-th if many), else linear nice ticks (a very narrow range).
inline std::vector<double> log_ticks(double lo, double hi, int max_ticks) {
  const int e0 = static_cast<int>(std::floor(std::log10(lo))), e1 = static_cast<int>(std::ceil(std::log10(hi)));
  auto inside = [&](double v) { return v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12); };
  auto power = [](int e) { return e >= 0 ? std::pow(10.0, e) : 1 / std::pow(10.0, -e); };
  const int stride = std::max(1, (e1 - e0 + max_ticks - 1) / std::max(max_ticks - 1, 1));
  std::vector<double> decades, fine;
  for (int e = e0; e <= e1; ++e) {
    if (inside(power(e)) && (e - e0) % stride == 0) decades.push_back(power(e));
    for (int m : {1, 2, 5}) {
      const double v = e >= 0 ? m * std::pow(10.0, e) : m / std::pow(10.0, -e);
      if (inside(v)) fine.push_back(v);
    }
  }
  if (decades.size() < 4 && fine.size() >= 2 && static_cast<int>(fine.size()) <= max_ticks) return fine;
  if (decades.size() >= 2) return decades;
  return nice_ticks(lo, hi, max_ticks);
}

inline std::string log_tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace detail

// Renders the series into a width x height PNG at `path` (white background, framed axes
// with ticks and labels, light grid, title, legend of the labelled series, top right).
inline void save_plot(const std::filesystem::path& path, const std::vector<Series>& series,
                      const PlotOptions& options = {}) {
  const std::string target = path.string();
  const int W = options.width, H = options.height;
  LATENT_CHECK(W >= 64 && H >= 48 && W <= 16384 && H <= 16384, "save_plot: '", target,
               "': the image size must be 64x48 to 16384x16384, got ", W, "x", H);
  const bool log_y = options.log_y;
  auto usable_y = [&](double y) { return std::isfinite(y) && (!log_y || y > 0); };
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    LATENT_CHECK(s.x.empty() || s.x.size() == s.y.size(), "save_plot: '", target, "': series ", i, " ('", s.label,
                 "') has ", s.x.size(), " x values but ", s.y.size(), " y values");
    LATENT_CHECK(std::isfinite(s.size) && s.size > 0 && s.size <= 100, "save_plot: '", target, "': series ", i,
                 " ('", s.label, "'): size must be in (0, 100], got ", s.size);
    LATENT_CHECK(!s.alpha || (*s.alpha >= 0 && *s.alpha <= 1), "save_plot: '", target, "': series ", i, " ('",
                 s.label, "'): alpha must be in [0, 1], got ", s.alpha.value_or(0));
  }
  auto xval = [](const Series& s, size_t j) { return s.x.empty() ? static_cast<double>(j) : s.x[j]; };

  // Ranges: given, or the finite data's plus a 5% margin (in log space for log_y).
  auto resolve = [&](const std::optional<std::pair<double, double>>& given, bool is_y) {
    const bool log = is_y && log_y;
    if (given) {
      const double lo = given->first, hi = given->second;
      LATENT_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi && (!log || lo > 0), "save_plot: '", target,
                   "': the ", is_y ? "y" : "x", "_range must be finite with low < high", log ? " and low > 0 (log_y)" : "",
                   ", got (", lo, ", ", hi, ")");
      return std::pair<double, double>(lo, hi);
    }
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const Series& s : series)
      for (size_t j = 0; j < s.y.size(); ++j) {
        const double x = xval(s, j), y = s.y[j];
        if (!std::isfinite(x) || !usable_y(y)) continue;
        const double v = is_y ? (log ? std::log10(y) : y) : x;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    if (lo > hi) {
      lo = 0;
      hi = 1;
    } else if (lo == hi) {
      const double d = log ? 0.5 : (lo == 0 ? 1 : 0.1 * std::abs(lo));
      lo -= d;
      hi += d;
    } else {
      const double m = 0.05 * (hi - lo);
      lo -= m;
      hi += m;
    }
    if (log) return std::pair<double, double>(std::pow(10.0, lo), std::pow(10.0, hi));
    return std::pair<double, double>(lo, hi);
  };
  const std::pair<double, double> xr = resolve(options.x_range, false), yr = resolve(options.y_range, true);
  const double x0 = xr.first, x1 = xr.second, y0 = yr.first, y1 = yr.second;  // (no structured bindings: lambdas use them)

  // Layout, in units of the font scale.
  const int scale = std::max(1, std::min(W, H) / 300);
  const int char_h = 7 * scale, pad = 4 * scale, tick_len = 3 * scale;
  const int top = options.title.empty() ? 3 * pad : char_h + 4 * pad;
  const int bottom = tick_len + pad + char_h + (options.x_label.empty() ? 0 : 2 * pad + char_h) + 2 * pad;
  const int plot_h = H - top - bottom;
  LATENT_CHECK(plot_h >= 16, "save_plot: '", target, "': the image is too small for the plot (", W, "x", H, ")");
  const int max_y_ticks = std::clamp(plot_h / (4 * char_h), 2, 10);
  std::vector<double> yticks = log_y ? detail::log_ticks(y0, y1, max_y_ticks) : nice_ticks(y0, y1, max_y_ticks);
  const double ystep = yticks.size() >= 2 ? yticks[1] - yticks[0] : (y1 - y0);
  std::vector<std::string> ylabels;
  int ylabel_w = 0;
  for (double v : yticks) {
    ylabels.push_back(log_y ? detail::log_tick_label(v) : format_tick(v, ystep));
    ylabel_w = std::max(ylabel_w, detail::Canvas::text_width(ylabels.back(), scale));
  }
  const int left = 2 * pad + (options.y_label.empty() ? 0 : char_h + pad) + ylabel_w + pad + tick_len;
  // x ticks: as many as fit with their labels a character apart.
  std::vector<double> xticks;
  std::vector<std::string> xlabels;
  const int right = 3 * pad;
  int plot_w = 0;
  for (int max_x = 10; max_x >= 2; --max_x) {
    plot_w = W - left - right;
    LATENT_CHECK(plot_w >= 16, "save_plot: '", target, "': the image is too small for the plot (", W, "x", H, ")");
    xticks = nice_ticks(x0, x1, max_x);
    const double xstep = xticks.size() >= 2 ? xticks[1] - xticks[0] : (x1 - x0);
    xlabels.clear();
    int widest = 0;
    for (double v : xticks) {
      xlabels.push_back(format_tick(v, xstep));
      widest = std::max(widest, detail::Canvas::text_width(xlabels.back(), scale));
    }
    const double spacing = xticks.size() >= 2 ? xstep / (x1 - x0) * plot_w : plot_w;
    if (spacing >= widest + 6 * scale * 2 || max_x == 2) break;
  }

  auto map_x = [&](double x) { return left + (x - x0) / (x1 - x0) * (plot_w - 1); };
  auto fy = [&](double y) { return log_y ? std::log10(y) : y; };
  auto map_y = [&](double y) { return top + (plot_h - 1) - (fy(y) - fy(y0)) / (fy(y1) - fy(y0)) * (plot_h - 1); };
  const int px0 = left, px1 = left + plot_w - 1, py0 = top, py1 = top + plot_h - 1;

  detail::Canvas cv(W, H);
  const Rgb ink{34, 34, 34}, grid{232, 232, 232}, frame{60, 60, 60};
  // Grid lines.
  for (double v : xticks) {
    const int x = static_cast<int>(std::lround(map_x(v)));
    cv.fill_rect(x, py0, x, py1, grid);
  }
  for (double v : yticks) {
    const int y = static_cast<int>(std::lround(map_y(v)));
    cv.fill_rect(px0, y, px1, y, grid);
  }

  // Series, clipped to the plot area.
  cv.cx0 = px0;
  cv.cy0 = py0;
  cv.cx1 = px1;
  cv.cy1 = py1;
  std::vector<uint8_t> mask(static_cast<size_t>(W) * H, 0);
  std::vector<size_t> touched;
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const Rgb color = s.color.value_or(tab10(i));
    const bool scatter = s.kind == Series::Kind::scatter;
    const double alpha = s.alpha.value_or(scatter ? 0.4 : 1.0);
    auto point = [&](size_t j, double& X, double& Y) {
      const double x = xval(s, j), y = s.y[j];
      if (!std::isfinite(x) || !usable_y(y)) return false;
      X = map_x(x);
      Y = map_y(y);
      return std::isfinite(X) && std::isfinite(Y);
    };
    if (scatter) {
      const auto pen = detail::disc_offsets(s.size);
      for (size_t j = 0; j < s.y.size(); ++j) {
        double X, Y;
        if (!point(j, X, Y) || X < px0 - s.size - 1 || X > px1 + s.size + 1 || Y < py0 - s.size - 1 ||
            Y > py1 + s.size + 1)
          continue;
        const int cx = static_cast<int>(std::lround(X)), cy = static_cast<int>(std::lround(Y));
        for (const auto& [ox, oy] : pen) cv.blend(cx + ox, cy + oy, color, alpha);
      }
    } else {
      const auto pen = detail::line_pen(std::max(1, static_cast<int>(std::lround(s.size))));
      const double margin = s.size + 1;
      auto draw = [&](double ax, double ay, double bx, double by) {
        if (detail::clip_segment(ax, ay, bx, by, px0 - margin, py0 - margin, px1 + margin, py1 + margin))
          detail::stamp_segment(mask, touched, cv, static_cast<int>(std::lround(ax)), static_cast<int>(std::lround(ay)),
                                static_cast<int>(std::lround(bx)), static_cast<int>(std::lround(by)), pen);
      };
      double PX = 0, PY = 0, NX, NY;
      bool have_prev = false;
      for (size_t j = 0; j < s.y.size(); ++j) {
        double X, Y;
        if (!point(j, X, Y)) {  // a gap: the line breaks
          have_prev = false;
          continue;
        }
        if (have_prev) draw(PX, PY, X, Y);
        else if (j + 1 == s.y.size() || !point(j + 1, NX, NY)) draw(X, Y, X, Y);  // an isolated point: a dot
        PX = X;
        PY = Y;
        have_prev = true;
      }
      for (size_t k : touched) {
        cv.blend(static_cast<int>(k % W), static_cast<int>(k / W), color, alpha);
        mask[k] = 0;
      }
      touched.clear();
    }
  }
  cv.cx1 = -1;  // no clip

  // Frame, ticks, tick labels.
  cv.rect_outline(px0 - 1, py0 - 1, px1 + 1, py1 + 1, frame);
  for (size_t i = 0; i < xticks.size(); ++i) {
    const int x = static_cast<int>(std::lround(map_x(xticks[i])));
    cv.fill_rect(x, py1 + 2, x + scale / 2, py1 + 1 + tick_len, frame);
    const int tw = detail::Canvas::text_width(xlabels[i], scale);
    cv.text(std::clamp(x - tw / 2, 0, W - tw), py1 + 2 + tick_len + pad, xlabels[i], scale, ink);
  }
  for (size_t i = 0; i < yticks.size(); ++i) {
    const int y = static_cast<int>(std::lround(map_y(yticks[i])));
    cv.fill_rect(px0 - 1 - tick_len, y, px0 - 2, y + scale / 2, frame);
    const int tw = detail::Canvas::text_width(ylabels[i], scale);
    cv.text(px0 - 2 - tick_len - pad - tw, std::clamp(y - char_h / 2, 0, H - char_h), ylabels[i], scale, ink);
  }
  // Title (bold: struck twice), axis labels.
  if (!options.title.empty()) {
    const int tw = detail::Canvas::text_width(options.title, scale) + 1;
    const int x = std::max(pad, px0 + (plot_w - tw) / 2);
    cv.text(x, 2 * pad, options.title, scale, ink);
    cv.text(x + 1, 2 * pad, options.title, scale, ink);
  }
  if (!options.x_label.empty()) {
    const int tw = detail::Canvas::text_width(options.x_label, scale);
    cv.text(std::max(0, px0 + (plot_w - tw) / 2), H - 2 * pad - char_h, options.x_label, scale, ink);
  }
  if (!options.y_label.empty()) {
    const int tw = detail::Canvas::text_width(options.y_label, scale);
    cv.text(2 * pad, std::min(H - 1, py0 + (plot_h + tw) / 2), options.y_label, scale, ink, true);
  }
  // Legend: labelled series, top right inside the plot.
  std::vector<size_t> labelled;
  int label_w = 0;
  for (size_t i = 0; i < series.size(); ++i)
    if (!series[i].label.empty()) {
      labelled.push_back(i);
      label_w = std::max(label_w, detail::Canvas::text_width(series[i].label, scale));
    }
  if (!labelled.empty()) {
    const int sample_w = 16 * scale, row_h = char_h + 2 * pad;
    const int box_w = pad + sample_w + pad + label_w + 2 * pad, box_h = static_cast<int>(labelled.size()) * row_h + pad;
    const int bx1 = px1 - pad, bx0 = std::max(px0 + 1, bx1 - box_w), by0 = py0 + pad;
    cv.fill_rect(bx0, by0, bx1, by0 + box_h, Rgb{255, 255, 255}, 0.85);
    cv.rect_outline(bx0, by0, bx1, by0 + box_h, Rgb{200, 200, 200});
    for (size_t r = 0; r < labelled.size(); ++r) {
      const Series& s = series[labelled[r]];
      const Rgb color = s.color.value_or(tab10(labelled[r]));
      const int cy = by0 + pad + static_cast<int>(r) * row_h + row_h / 2 - pad / 2;
      const int sx = bx0 + pad;
      if (s.kind == Series::Kind::scatter) {
        for (const auto& [ox, oy] : detail::disc_offsets(std::max(s.size, 2.0 * scale)))
          cv.blend(sx + sample_w / 2 + ox, cy + oy, color, std::max(s.alpha.value_or(0.4), 0.6));
      } else {
        const int t = std::max(1, static_cast<int>(std::lround(s.size)));
        cv.fill_rect(sx, cy - (t - 1) / 2, sx + sample_w - 1, cy + t / 2, color, std::max(s.alpha.value_or(1.0), 0.6));
      }
      cv.text(sx + sample_w + pad, cy - char_h / 2, s.label, scale, ink);
    }
  }
  write_png(path, cv.px.data(), W, H, 3);
}

// Trailing moving average over the last `window` values, skipping non-finite ones (NaN
// where a window holds none).
inline std::vector<double> moving_average(const std::vector<double>& v, int64_t window) {
  LATENT_CHECK(window >= 1, "moving_average: the window must be at least 1, got ", window);
  std::vector<double> out(v.size());
  double sum = 0;
  int64_t count = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::isfinite(v[i])) {
      sum += v[i];
      ++count;
    }
    if (i >= static_cast<size_t>(window) && std::isfinite(v[i - static_cast<size_t>(window)])) {
      sum -= v[i - static_cast<size_t>(window)];
      --count;
    }
    out[i] = count > 0 ? sum / static_cast<double>(count) : std::numeric_limits<double>::quiet_NaN();
  }
  return out;
}

// Loss curves against steps (steps empty: 0, 1, 2, ...): each curve drawn raw, thin and
// light, and as a trailing moving average, thick and labelled. smoothing: the window;
// unset: max(1, n / 50); 1: the raw curves only, drawn strongly. x_label defaults to "step".
inline void save_loss_plot(const std::filesystem::path& path, const std::vector<double>& steps,
                           const std::vector<std::pair<std::string, std::vector<double>>>& curves,
                           std::optional<int64_t> smoothing = std::nullopt, PlotOptions options = {}) {
  std::vector<Series> series;
  for (size_t i = 0; i < curves.size(); ++i) {
    const auto& [name, values] = curves[i];
    LATENT_CHECK(steps.empty() || steps.size() == values.size(), "save_loss_plot: '", path.string(), "': curve '",
                 name, "' has ", values.size(), " values but there are ", steps.size(), " steps");
    const int64_t window = smoothing.value_or(std::max<int64_t>(1, static_cast<int64_t>(values.size()) / 50));
    LATENT_CHECK(window >= 1, "save_loss_plot: '", path.string(), "': the smoothing window must be at least 1, got ",
                 window);
    Series s;  // (fields set one by one: GCC 12's -Wextra flags designated initializers that skip any)
    s.x = steps;
    s.color = tab10(i);
    if (window > 1) {  // the raw curve, thin and light
      s.y = values;
      s.size = 1;
      s.alpha = 0.25;
      series.push_back(s);
    }
    s.label = name;
    s.y = window > 1 ? moving_average(values, window) : values;
    s.size = window > 1 ? 2.5 : 2;
    s.alpha.reset();
    series.push_back(std::move(s));
  }
  if (options.x_label.empty()) options.x_label = "step";
  save_plot(path, series, options);
}

}  // namespace latent::io
