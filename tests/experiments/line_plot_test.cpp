// The PNG plots: a valid PNG (signature, chunk CRCs, IHDR size) whose decoded pixels hold
// each series' colour, reference lines, and the duration labels of a t_inference axis.
#include "tessera/experiments/line_plot.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>

namespace tessera::experiments {
namespace {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;
  bool has(std::uint8_t r, std::uint8_t g, std::uint8_t b) const {
    for (std::size_t i = 0; i + 2 < rgb.size(); i += 3) {
      if (rgb[i] == r && rgb[i + 1] == g && rgb[i + 2] == b) return true;
    }
    return false;
  }
};

std::uint32_t big_endian(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// Decodes the 8-bit RGB PNGs the plotter writes (filter type 0), checking every chunk's CRC.
Image decode(const std::vector<std::uint8_t>& png) {
  Image image;
  const std::uint8_t signature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  EXPECT_EQ(std::memcmp(png.data(), signature, 8), 0);
  std::vector<std::uint8_t> compressed;
  bool ended = false;
  for (std::size_t at = 8; at + 12 <= png.size();) {
    const std::uint32_t length = big_endian(&png[at]);
    const std::string type(png.begin() + static_cast<std::ptrdiff_t>(at + 4),
                           png.begin() + static_cast<std::ptrdiff_t>(at + 8));
    const std::uint8_t* data = &png[at + 8];
    const uLong crc = crc32(crc32(0, nullptr, 0), &png[at + 4], length + 4);
    EXPECT_EQ(crc, big_endian(data + length)) << type;
    if (type == "IHDR") {
      image.width = static_cast<int>(big_endian(data));
      image.height = static_cast<int>(big_endian(data + 4));
      EXPECT_EQ(data[8], 8);  // bit depth
      EXPECT_EQ(data[9], 2);  // RGB
    } else if (type == "IDAT") {
      compressed.insert(compressed.end(), data, data + length);
    } else if (type == "IEND") {
      ended = true;
    }
    at += 12 + length;
  }
  EXPECT_TRUE(ended);
  const std::size_t stride = static_cast<std::size_t>(image.width) * 3 + 1;
  std::vector<std::uint8_t> raw(stride * static_cast<std::size_t>(image.height));
  uLongf size = static_cast<uLongf>(raw.size());
  EXPECT_EQ(uncompress(raw.data(), &size, compressed.data(), static_cast<uLong>(compressed.size())), Z_OK);
  EXPECT_EQ(size, raw.size());
  for (int y = 0; y < image.height; ++y) {
    EXPECT_EQ(raw[static_cast<std::size_t>(y) * stride], 0) << "row " << y;
    image.rgb.insert(image.rgb.end(), raw.begin() + static_cast<std::ptrdiff_t>(y * stride + 1),
                     raw.begin() + static_cast<std::ptrdiff_t>((y + 1) * stride));
  }
  return image;
}

LinePlot drift_plot() {
  LinePlot plot;
  plot.title = "top1 vs t_inference";
  plot.x_label = "t_inference";
  plot.y_label = "top1";
  plot.log_x = true;
  plot.x_tick_label = duration_label;
  plot.series.push_back(
      {.label = "out_res=62", .x = {0, 3600, 86400}, .y = {0.8, 0.75, 0.7}, .error = {0.01, 0.02, 0.02}});
  plot.series.push_back({.label = "out_res=254", .x = {0, 3600, 86400}, .y = {0.85, 0.8, 0.78}, .error = {}});
  plot.series.push_back({.label = "int8", .x = {}, .y = {0.9}, .error = {}});
  return plot;
}

TEST(LinePlot, WritesAValidPngOfTheRequestedSize) {
  const Image image = decode(render_png(drift_plot(), 640, 400));
  EXPECT_EQ(image.width, 640);
  EXPECT_EQ(image.height, 400);
  EXPECT_EQ(image.rgb.size(), 640u * 400u * 3u);
}

TEST(LinePlot, EachSeriesIsDrawnInItsOwnColour) {
  const Image image = decode(render_png(drift_plot()));
  EXPECT_TRUE(image.has(31, 119, 180));  // first series: tab10 blue
  EXPECT_TRUE(image.has(255, 127, 14));  // second: orange
  EXPECT_TRUE(image.has(44, 160, 44));   // the reference line: green
  EXPECT_FALSE(image.has(214, 39, 40));  // no fourth series, no red
  EXPECT_TRUE(image.has(0, 0, 0));       // axes and text
}

TEST(LinePlot, SurvivesDegenerateData) {
  // One point, equal values, NaN and a lone reference line must still give a picture.
  LinePlot plot;
  plot.series.push_back({.label = "one", .x = {1}, .y = {0.5}, .error = {}});
  plot.series.push_back({.label = "nan", .x = {1, 2}, .y = {std::nan(""), 0.5}, .error = {}});
  EXPECT_EQ(decode(render_png(plot, 320, 200)).width, 320);
  const LinePlot empty;
  EXPECT_EQ(decode(render_png(empty, 320, 200)).height, 200);
}

TEST(LinePlot, DurationLabelsUseTheLargestWholeUnit) {
  EXPECT_EQ(duration_label(0), "0");
  EXPECT_EQ(duration_label(1), "1 s");
  EXPECT_EQ(duration_label(3600), "1 h");
  EXPECT_EQ(duration_label(86400), "1 d");
  EXPECT_EQ(duration_label(30 * 86400), "1 mo");
  EXPECT_EQ(duration_label(7 * 86400), "7 d");
  EXPECT_EQ(duration_label(90), "1.5 min");
  EXPECT_EQ(duration_label(365 * 86400), "1 y");
}

}  // namespace
}  // namespace tessera::experiments
