#include "tessera/experiments/line_plot.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "tessera/experiments/results_journal.hpp"

namespace tessera::experiments {
namespace {

#include "plot_font.inc"

struct Color {
  std::uint8_t r, g, b;
};
// matplotlib's "tab10" palette, the colours plot readers are used to.
constexpr std::array<Color, 10> kPalette{{{31, 119, 180},
                                          {255, 127, 14},
                                          {44, 160, 44},
                                          {214, 39, 40},
                                          {148, 103, 189},
                                          {140, 86, 75},
                                          {227, 119, 194},
                                          {127, 127, 127},
                                          {188, 189, 34},
                                          {23, 190, 207}}};
constexpr Color kBlack{0, 0, 0};
constexpr Color kGrid{225, 225, 225};

class Canvas {
 public:
  Canvas(int width, int height)
      : width_(width), height_(height), pixels_(static_cast<std::size_t>(width * height * 3), 255) {}
  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<std::uint8_t>& pixels() const { return pixels_; }

  void set(int x, int y, Color c) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    std::uint8_t* p = &pixels_[static_cast<std::size_t>((y * width_ + x) * 3)];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  void fill(int x0, int y0, int x1, int y1, Color c) {
    for (int y = std::min(y0, y1); y <= std::max(y0, y1); ++y)
      for (int x = std::min(x0, x1); x <= std::max(x0, x1); ++x) set(x, y, c);
  }
  // Bresenham with a square pen; `dash` > 0 leaves gaps of that many steps.
  void line(double fx0, double fy0, double fx1, double fy1, Color c, int pen = 1, int dash = 0) {
    int x0 = static_cast<int>(std::lround(fx0)), y0 = static_cast<int>(std::lround(fy0));
    const int x1 = static_cast<int>(std::lround(fx1)), y1 = static_cast<int>(std::lround(fy1));
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int error = dx + dy;
    for (int step = 0;; ++step) {
      if (dash == 0 || (step / dash) % 2 == 0)
        fill(x0 - pen / 2, y0 - pen / 2, x0 + (pen - 1) / 2, y0 + (pen - 1) / 2, c);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * error;
      if (e2 >= dy) error += dy, x0 += sx;
      if (e2 <= dx) error += dx, y0 += sy;
    }
  }
  // Text with its top-left corner at (x, y); vertical text runs bottom to top.
  void text(int x, int y, const std::string& s, Color c, bool vertical = false) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      const unsigned char ch = static_cast<unsigned char>(s[i]);
      const auto& glyph = kGlyphs[(ch >= 32 && ch < 127) ? ch - 32 : '?' - 32];
      for (int row = 0; row < kGlyphHeight; ++row)
        for (int col = 0; col < kGlyphWidth; ++col) {
          if (!(glyph[row] & (0x80 >> col))) continue;
          const int offset = static_cast<int>(i) * kGlyphWidth + col;
          if (vertical)
            set(x + row, y - offset, c);
          else
            set(x + offset, y + row, c);
        }
    }
  }

 private:
  int width_, height_;
  std::vector<std::uint8_t> pixels_;
};

int text_width(const std::string& s) { return static_cast<int>(s.size()) * kGlyphWidth; }

std::string number_label(double value) {
  if (value == 0.0) return "0";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

// Round tick positions (1, 2 or 5 x 10^k apart) covering [low, high].
std::vector<double> nice_ticks(double low, double high, int target) {
  const double span = high - low;
  const double raw = span / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(low / step) * step; t <= high + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

void append_chunk(std::vector<std::uint8_t>& png, const char type[4], const std::vector<std::uint8_t>& data) {
  const auto put32 = [&](std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) png.push_back(static_cast<std::uint8_t>(v >> shift));
  };
  put32(static_cast<std::uint32_t>(data.size()));
  const std::size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  put32(static_cast<std::uint32_t>(crc32(0, png.data() + start, static_cast<uInt>(png.size() - start))));
}

std::vector<std::uint8_t> encode_png(const Canvas& canvas) {
  std::vector<std::uint8_t> raw;
  const int w = canvas.width(), h = canvas.height();
  raw.reserve(static_cast<std::size_t>(h * (w * 3 + 1)));
  for (int y = 0; y < h; ++y) {
    raw.push_back(0);  // filter: none
    const auto* row = canvas.pixels().data() + static_cast<std::size_t>(y * w * 3);
    raw.insert(raw.end(), row, row + w * 3);
  }
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::vector<std::uint8_t> compressed(size);
  if (compress2(compressed.data(), &size, raw.data(), static_cast<uLong>(raw.size()), 9) != Z_OK) {
    throw std::runtime_error("PNG compression failed");
  }
  compressed.resize(size);
  std::vector<std::uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<std::uint8_t> header;
  for (int v : {w, h}) {
    for (int shift = 24; shift >= 0; shift -= 8) header.push_back(static_cast<std::uint8_t>(v >> shift));
  }
  header.insert(header.end(), {8, 2, 0, 0, 0});  // 8-bit RGB, deflate, no filter, no interlace
  append_chunk(png, "IHDR", header);
  append_chunk(png, "IDAT", compressed);
  append_chunk(png, "IEND", {});
  return png;
}

}  // namespace

std::string duration_label(double seconds) {
  if (seconds == 0.0) return "0";
  static const std::array<std::pair<double, const char*>, 6> kUnits{
      {{31536000.0, "y"}, {2592000.0, "mo"}, {86400.0, "d"}, {3600.0, "h"}, {60.0, "min"}, {1.0, "s"}}};
  for (const auto& [size, unit] : kUnits) {
    if (seconds >= size * 0.999) return number_label(std::round(seconds / size * 100.0) / 100.0) + " " + unit;
  }
  return number_label(seconds) + " s";
}

std::vector<std::uint8_t> render_png(const LinePlot& plot, int width, int height) {
  Canvas canvas(width, height);
  const int left = 90, right = width - 230, top = 50, bottom = height - 70;

  // Data ranges; on a log axis x = 0 sits one decade left of the smallest positive x.
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min, y_min = x_min, y_max = -x_min;
  double smallest_positive = x_min;
  for (const Series& s : plot.series) {
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      const double e = i < s.error.size() && std::isfinite(s.error[i]) ? s.error[i] : 0.0;
      if (!std::isfinite(s.y[i])) continue;
      y_min = std::min(y_min, s.y[i] - e), y_max = std::max(y_max, s.y[i] + e);
      if (i < s.x.size() && std::isfinite(s.x[i])) {
        x_min = std::min(x_min, s.x[i]), x_max = std::max(x_max, s.x[i]);
        if (s.x[i] > 0) smallest_positive = std::min(smallest_positive, s.x[i]);
      }
    }
  }
  const bool log_x = plot.log_x && std::isfinite(smallest_positive);
  const double zero_at = log_x ? std::log10(smallest_positive) - 1.0 : 0.0;
  const auto x_position = [&](double x) { return log_x ? (x > 0 ? std::log10(x) : zero_at) : x; };
  double px_min = std::isfinite(x_min) ? x_position(x_min) : 0.0,
         px_max = std::isfinite(x_max) ? x_position(x_max) : 1.0;
  if (px_max - px_min < 1e-12) px_min -= 0.5, px_max += 0.5;
  if (!std::isfinite(y_min)) y_min = 0.0, y_max = 1.0;
  if (y_max - y_min < 1e-12) y_min -= 0.5, y_max += 0.5;
  const double x_pad = 0.04 * (px_max - px_min), y_pad = 0.06 * (y_max - y_min);
  px_min -= x_pad, px_max += x_pad, y_min -= y_pad, y_max += y_pad;
  const auto to_x = [&](double x) { return left + (x_position(x) - px_min) / (px_max - px_min) * (right - left); };
  const auto to_y = [&](double y) { return bottom - (y - y_min) / (y_max - y_min) * (bottom - top); };

  // Grid and tick labels.
  for (double t : nice_ticks(y_min, y_max, 6)) {
    const double y = to_y(t);
    canvas.line(left, y, right, y, kGrid);
    const std::string label = number_label(t);
    canvas.text(left - 8 - text_width(label), static_cast<int>(y) - kGlyphHeight / 2, label, kBlack);
  }
  std::vector<double> x_ticks;
  if (log_x) {
    for (double d = std::ceil(px_min); d <= px_max; d += 1.0) {
      if (d > zero_at + 0.5) x_ticks.push_back(std::pow(10.0, d));
    }
    if (x_min == 0.0) x_ticks.insert(x_ticks.begin(), 0.0);
    // Prefer the data's own x values when there are few: exact labels like "1 d".
    std::vector<double> own;
    for (const Series& s : plot.series) own.insert(own.end(), s.x.begin(), s.x.end());
    std::sort(own.begin(), own.end());
    own.erase(std::unique(own.begin(), own.end()), own.end());
    if (!own.empty() && own.size() <= 8) x_ticks = own;
  } else {
    x_ticks = nice_ticks(px_min, px_max, 8);
  }
  int last_label_end = -1000;
  for (double t : x_ticks) {
    const double x = to_x(t);
    canvas.line(x, top, x, bottom, kGrid);
    const std::string label = plot.x_tick_label ? plot.x_tick_label(t) : number_label(t);
    const int start = static_cast<int>(x) - text_width(label) / 2;
    if (start > last_label_end + 6) {
      canvas.text(start, bottom + 8, label, kBlack);
      last_label_end = start + text_width(label);
    }
  }
  canvas.line(left, top, left, bottom, kBlack);
  canvas.line(left, bottom, right, bottom, kBlack);
  canvas.line(right, top, right, bottom, kBlack);
  canvas.line(left, top, right, top, kBlack);
  canvas.text((left + right - text_width(plot.x_label)) / 2, bottom + 36, plot.x_label, kBlack);
  canvas.text(18, (top + bottom + text_width(plot.y_label)) / 2, plot.y_label, kBlack, true);
  canvas.text((left + right - text_width(plot.title)) / 2, 16, plot.title, kBlack);

  // Series, then the legend.
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const Series& s = plot.series[k];
    const Color color = kPalette[k % kPalette.size()];
    if (s.x.empty()) {
      if (!s.y.empty() && std::isfinite(s.y[0]))
        canvas.line(left + 1, to_y(s.y[0]), right - 1, to_y(s.y[0]), color, 2, 8);
      continue;
    }
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      const double x = to_x(s.x[i]), y = to_y(s.y[i]);
      if (i + 1 < s.x.size() && std::isfinite(s.y[i + 1]))
        canvas.line(x, y, to_x(s.x[i + 1]), to_y(s.y[i + 1]), color, 2);
      if (i < s.error.size() && std::isfinite(s.error[i]) && s.error[i] > 0) {
        const double lo = to_y(s.y[i] - s.error[i]), hi = to_y(s.y[i] + s.error[i]);
        canvas.line(x, lo, x, hi, color);
        canvas.line(x - 4, lo, x + 4, lo, color);
        canvas.line(x - 4, hi, x + 4, hi, color);
      }
      canvas.fill(static_cast<int>(x) - 3, static_cast<int>(y) - 3, static_cast<int>(x) + 3, static_cast<int>(y) + 3,
                  color);
    }
  }
  int legend_y = top;
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const Color color = kPalette[k % kPalette.size()];
    const int y = legend_y + kGlyphHeight / 2;
    canvas.line(right + 14, y, right + 40, y, color, 2, plot.series[k].x.empty() ? 6 : 0);
    std::string label = plot.series[k].label;
    const std::size_t room = static_cast<std::size_t>((width - right - 52) / kGlyphWidth);
    if (label.size() > room) label = label.substr(0, room - 2) + "..";
    canvas.text(right + 46, legend_y, label, kBlack);
    legend_y += kGlyphHeight + 6;
  }
  return encode_png(canvas);
}

void save_png(const LinePlot& plot, const std::filesystem::path& path) {
  const std::vector<std::uint8_t> png = render_png(plot);
  write_file_atomically(path, std::string(png.begin(), png.end()));
}

}  // namespace tessera::experiments
