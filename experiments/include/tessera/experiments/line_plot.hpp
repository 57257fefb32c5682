// Line plots written as PNG without any plotting library: axes with "nice" ticks (linear, or
// log10 with 0 drawn one decade left of the smallest positive x), one coloured line with
// markers and error bars per series, a legend, and series without x values drawn as dashed
// horizontal reference lines (e.g. a digital baseline on an accuracy-vs-drift plot).
//   LinePlot plot{.title = "...", .x_label = "t_inference", .y_label = "top1", .log_x = true};
//   plot.series.push_back({.label = "out_res=256", .x = {...}, .y = {...}, .error = {...}});
//   save_png(plot, "results/plot.png");
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace tessera::experiments {

struct Series {
  std::string label;
  std::vector<double> x;  ///< empty: a horizontal line at y[0]
  std::vector<double> y;
  std::vector<double> error;  ///< half-widths of error bars; empty for none
};

struct LinePlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;
  std::vector<Series> series;
  std::function<std::string(double)> x_tick_label;  ///< default: the number
};

/// The plot as PNG bytes (RGB, 8 bits per channel).
std::vector<std::uint8_t> render_png(const LinePlot& plot, int width = 960, int height = 600);

/// Writes render_png(plot) to `path` atomically.
void save_png(const LinePlot& plot, const std::filesystem::path& path);

/// "0", "1 s", "1 h", "1 d", "30 d", "1 y": for axes in seconds.
std::string duration_label(double seconds);

}  // namespace tessera::experiments
