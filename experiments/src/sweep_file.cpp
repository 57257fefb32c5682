// Parsing a sweep file into a SweepSpec: sections, hardware descriptions (presets plus
// overrides), and the grid, expanded into points. Grid values are checked by resolving every
// point (sweep_points.cpp), so a bad value is reported with its position before anything runs.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "tessera/experiments/presets.hpp"
#include "tessera/experiments/sweep_spec.hpp"
#include "tessera/parameters/text_file.hpp"
#include "tessera/parameters/yaml_codec.hpp"

namespace tessera::experiments {
namespace fs = std::filesystem;
namespace yaml = parameters::yaml;
using parameters::ConfigError;
using yaml::Location;

namespace {

void require_map(const YAML::Node& node, const Location& where, const std::string& what) {
  if (!node.IsMap()) where.fail(node, "expected " + what + ", found " + yaml::describe_node(node));
}

std::string scalar(const YAML::Node& node, const Location& where, const std::string& what) {
  if (!node.IsScalar()) where.fail(node, "expected " + what + ", found " + yaml::describe_node(node));
  return node.Scalar();
}

fs::path existing_file(const YAML::Node& node, const Location& where, const fs::path& base) {
  const fs::path path = (base / scalar(node, where, "a file path")).lexically_normal();
  std::error_code error;
  if (!fs::is_regular_file(path, error)) where.fail(node, "no such file: " + path.string());
  return path;
}

// `data` and `calibration` share one schema; only `data` has batch_size.
DataSource parse_data(const YAML::Node& node, const Location& where, const fs::path& base, std::int64_t* batch_size) {
  require_map(node, where, "a map with images, labels, normalization and limit");
  std::vector<std::string> keys{"format", "images", "labels", "normalization", "limit"};
  if (batch_size != nullptr) keys.push_back("batch_size");
  yaml::reject_unknown_keys(node, keys, where, "data");
  for (const char* key : {"images", "labels"}) {
    if (!node[key]) where.fail(node, std::string("missing '") + key + "' (a file path)");
  }
  DataSource data;
  data.images = existing_file(node["images"], where.child("images"), base).string();
  data.labels = existing_file(node["labels"], where.child("labels"), base).string();
  const bool npy_names = data.images.ends_with(".npy");
  data.format = npy_names ? DataFormat::npy : DataFormat::idx;
  if (const YAML::Node format = node["format"]) {
    const std::string name = scalar(format, where.child("format"), "idx or npy");
    if (name != "idx" && name != "npy")
      where.child("format").fail(format, "expected idx or npy, found '" + parameters::excerpt(name) + "'");
    data.format = name == "npy" ? DataFormat::npy : DataFormat::idx;
  }
  if (const YAML::Node normalization = node["normalization"]) {
    const Location at = where.child("normalization");
    require_map(normalization, at, "a map with mean and std");
    yaml::reject_unknown_keys(normalization, {"mean", "std"}, at, "normalization");
    double mean = 0.0, std = 1.0;
    if (normalization["mean"]) yaml::decode(normalization["mean"], mean, at.child("mean"));
    if (normalization["std"]) yaml::decode(normalization["std"], std, at.child("std"));
    if (!(std > 0.0) || !std::isfinite(std)) at.child("std").fail(normalization["std"], "expected a number > 0");
    if (!std::isfinite(mean)) at.child("mean").fail(normalization["mean"], "expected a finite number");
    data.normalization = {static_cast<float>(mean), static_cast<float>(std)};
  }
  if (const YAML::Node limit = node["limit"]) {
    int value = 0;
    yaml::decode(limit, value, where.child("limit"));
    if (value < 0) where.child("limit").fail(limit, "expected a sample count >= 0 (0 keeps every sample)");
    data.limit = value;
  }
  if (batch_size != nullptr && node["batch_size"]) {
    int value = 0;
    yaml::decode(node["batch_size"], value, where.child("batch_size"));
    if (value < 1 || value > 65536) where.child("batch_size").fail(node["batch_size"], "expected 1 to 65536");
    *batch_size = value;
  }
  return data;
}

// A preset by name or path; errors in the name point at `node`, errors inside the preset
// file keep that file's position.
Preset preset_at(const YAML::Node& node, const Location& where, const fs::path& base, bool analog) {
  const std::string name = scalar(node, where, "a preset name");
  Preset preset;
  try {
    preset = load_preset(name, base);
  } catch (const ConfigError& error) {
    if (!error.source().empty() && error.line() > 0) throw;
    where.fail(node, error.reason());
  }
  if (analog && !preset.analog) {
    where.fail(node, "'" + name + "' is a quantization preset; name it under quantization.preset");
  }
  if (!analog && !preset.quantization) {
    where.fail(node, "'" + name + "' is an analog preset; name it under analog.preset");
  }
  return preset;
}

// rpu_config of an analog section or an instance: a preset, then field overrides.
parameters::InferenceRPUConfig rpu_config_from(const YAML::Node& node, const Location& where, const fs::path& base,
                                               parameters::InferenceRPUConfig config, std::string* preset_name) {
  if (const YAML::Node preset = node["preset"]) {
    config = *preset_at(preset, where.child("preset"), base, true).analog;
    if (preset_name != nullptr) *preset_name = preset.Scalar();
  }
  if (const YAML::Node overrides = node["rpu_config"]) yaml::decode(overrides, config, where.child("rpu_config"));
  return config;
}

AnalogHardware parse_analog(const YAML::Node& node, const Location& where, const fs::path& base) {
  AnalogHardware analog;
  if (node.IsNull()) return analog;  // `analog:` alone: aihwkit's defaults for every layer
  require_map(node, where, "a map with preset, rpu_config, module_types, exclude and instances");
  yaml::reject_unknown_keys(node, {"preset", "rpu_config", "module_types", "exclude", "instances"}, where, "analog");
  analog.rpu_config = rpu_config_from(node, where, base, {}, &analog.preset);
  if (const YAML::Node types = node["module_types"]) {
    std::vector<std::string> list;
    yaml::decode(types, list, where.child("module_types"));
    analog.module_types = {list.begin(), list.end()};
  }
  if (const YAML::Node exclude = node["exclude"]) yaml::decode(exclude, analog.exclude, where.child("exclude"));
  if (const YAML::Node instances = node["instances"]) {
    const Location at = where.child("instances");
    require_map(instances, at, "a map from module names to {preset, rpu_config}");
    for (const auto& entry : instances) {
      const std::string name = scalar(entry.first, at, "a module name");
      const Location instance_at = at.child(name);
      if (analog.instances.contains(name)) instance_at.fail(entry.first, "duplicate module '" + name + "'");
      require_map(entry.second, instance_at, "a map with preset and/or rpu_config");
      yaml::reject_unknown_keys(entry.second, {"preset", "rpu_config"}, instance_at, "instance");
      analog.instances[name] = rpu_config_from(entry.second, instance_at, base, analog.rpu_config, nullptr);
    }
  }
  return analog;
}

// A `techniques` value: a list of names, or one string of names joined by '+' or ',' (the
// form a swept value takes); "none" and [] switch every pass off.
std::vector<std::string> technique_names(const YAML::Node& node, const Location& where) {
  std::vector<std::string> names;
  if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) names.push_back(scalar(node[i], where.element(i), "a technique name"));
    return names;
  }
  return split_techniques(scalar(node, where, "a list of techniques, e.g. [fold_bn, fuse, adaround]"));
}

void parse_techniques(const YAML::Node& node, QuantizationHardware& quantization, const Location& where) {
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    if (QuantizationHardware{}.pass(key) != nullptr) {
      where.child(key).fail(entry.first, "give either 'techniques' or the switch '" + key +
                                             "', not both (a techniques list says which passes run)");
    }
  }
  const YAML::Node list = node["techniques"];
  const Location at = where.child("techniques");
  for (std::size_t i = 0; list.IsSequence() && i < list.size(); ++i) {  // point at the name itself
    const std::string error = QuantizationHardware{}.set_techniques({scalar(list[i], at.element(i), "a technique name")});
    if (!error.empty()) at.element(i).fail(list[i], error);
  }
  const std::string error = quantization.set_techniques(technique_names(list, at));
  if (!error.empty()) at.fail(list, error);
}

QuantizationHardware parse_quantization(const YAML::Node& node, const Location& where, const fs::path& base) {
  QuantizationHardware quantization;
  require_map(node, where, "a map with preset and QuantizationMap fields");
  if (const YAML::Node preset = node["preset"]) {
    quantization.map = *preset_at(preset, where.child("preset"), base, false).quantization;
    quantization.preset = preset.Scalar();
  }
  if (const YAML::Node encodings = node["encodings"]) {
    quantization.encodings = existing_file(encodings, where.child("encodings"), base);
  }
  std::vector<std::string> own_keys{"preset", "encodings", "adaround_iterations", "techniques",
                                    "bias_correction_method"};
  for (const std::string_view key : QuantizationHardware::kPasses) {
    own_keys.emplace_back(key);
    if (const YAML::Node value = node[own_keys.back()]) {
      yaml::decode(value, *quantization.pass(key), where.child(own_keys.back()));
    }
  }
  if (node["techniques"]) parse_techniques(node, quantization, where);
  if (const YAML::Node method = node["bias_correction_method"]) {
    quantization.bias_correction_method = scalar(method, where.child("bias_correction_method"), "empirical or analytical");
    const std::string error = bias_correction_method_error(quantization.bias_correction_method);
    if (!error.empty()) where.child("bias_correction_method").fail(method, error);
  }
  if (const YAML::Node iterations = node["adaround_iterations"]) {
    yaml::decode(iterations, quantization.adaround_iterations, where.child("adaround_iterations"));
    if (quantization.adaround_iterations < 1) {
      where.child("adaround_iterations")
          .fail(iterations, "expected a number of steps >= 1, found " + iterations.Scalar());
    }
  }
  yaml::decode_fields(node, quantization.map, where, own_keys);
  return quantization;
}

Hardware parse_hardware(const std::string& name, const YAML::Node& node, const Location& where, const fs::path& base) {
  require_map(node, where, "a map with analog and/or quantization");
  yaml::reject_unknown_keys(node, {"analog", "quantization"}, where, "hardware");
  Hardware hardware{name, {}, {}};
  if (node["analog"]) hardware.analog = parse_analog(node["analog"], where.child("analog"), base);
  if (node["quantization"]) {
    hardware.quantization = parse_quantization(node["quantization"], where.child("quantization"), base);
  }
  if (!hardware.analog && !hardware.quantization) {
    where.fail(node,
               "a hardware description needs 'analog', 'quantization' or both (use the preset 'ideal' "
               "for the float model on perfect tiles)");
  }
  return hardware;
}

SweepValue swept_value(const std::string& path, const YAML::Node& node, const Location& where) {
  if (path == "quantization.techniques") {  // a list per value: [[fold_bn, fuse], [fold_bn, fuse, adaround]]
    std::string joined;
    for (const std::string& name : technique_names(node, where)) joined += (joined.empty() ? "" : "+") + name;
    if (joined.empty()) joined = "none";
    return SweepValue{path, joined, joined, where.path(), node.Mark().line + 1, node.Mark().column + 1};
  }
  const std::string text = scalar(node, where, "a single value (number, name or boolean)");
  SweepValue value{path, text, text, where.path(), node.Mark().line + 1, node.Mark().column + 1};
  if (path == "t_inference") {
    double seconds = 0.0;
    if (!parse_duration(text, seconds) || seconds < 0.0) {
      where.fail(node, "expected a time >= 0 in seconds, or with a unit (s, min, h, d, w, y), found '" +
                           parameters::excerpt(text) + "'");
    }
    char buffer[32];
    value.text.assign(buffer, std::to_chars(buffer, buffer + sizeof buffer, seconds).ptr);
  }
  return value;
}

void check_axis_path(const std::string& path, const YAML::Node& key, const Location& where) {
  if (path == "t_inference" || path == "hardware" || path.starts_with("analog.") || path.starts_with("quantization.")) {
    return;
  }
  where.fail(key, "unknown sweep parameter '" + path +
                      "' (expected t_inference, hardware, analog.<InferenceRPUConfig path> or "
                      "quantization.<QuantizationMap path>)");
}

// One grid: fixed settings, a product of axes, and zipped axes advanced together.
struct Grid {
  std::vector<SweepValue> fixed;
  std::vector<std::vector<SweepValue>> axes;    // product axes, first slowest
  std::vector<std::vector<SweepValue>> zipped;  // one list per path, equal lengths
};

std::vector<SweepValue> axis_values(const std::string& path, const YAML::Node& node, const Location& where) {
  if (!node.IsSequence() || node.size() == 0) {
    where.fail(node, "expected a non-empty list of values, found " + yaml::describe_node(node));
  }
  std::vector<SweepValue> values;
  for (std::size_t i = 0; i < node.size(); ++i) values.push_back(swept_value(path, node[i], where.element(i)));
  return values;
}

Grid parse_grid(const YAML::Node& node, const Location& where) {
  require_map(node, where, "a map with set, product and/or zip");
  yaml::reject_unknown_keys(node, {"set", "product", "zip"}, where, "grid");
  Grid grid;
  std::set<std::string> seen;
  auto claim = [&](const std::string& path, const YAML::Node& key, const Location& at) {
    check_axis_path(path, key, at);
    if (!seen.insert(path).second) at.fail(key, "'" + path + "' is set twice in this grid");
  };
  if (const YAML::Node set = node["set"]) {
    const Location at = where.child("set");
    require_map(set, at, "a map from parameter paths to values");
    for (const auto& entry : set) {
      const std::string path = scalar(entry.first, at, "a parameter path");
      claim(path, entry.first, at.child(path));
      grid.fixed.push_back(swept_value(path, entry.second, at.child(path)));
    }
  }
  for (const char* kind : {"product", "zip"}) {
    const YAML::Node axes = node[kind];
    if (!axes) continue;
    const Location at = where.child(kind);
    require_map(axes, at, "a map from parameter paths to lists of values");
    for (const auto& entry : axes) {
      const std::string path = scalar(entry.first, at, "a parameter path");
      claim(path, entry.first, at.child(path));
      auto values = axis_values(path, entry.second, at.child(path));
      auto& target = std::string(kind) == "zip" ? grid.zipped : grid.axes;
      if (&target == &grid.zipped && !grid.zipped.empty() && values.size() != grid.zipped.front().size()) {
        at.child(path).fail(entry.second, "zipped lists must have equal lengths: " + std::to_string(values.size()) +
                                              " values here, " + std::to_string(grid.zipped.front().size()) + " in '" +
                                              grid.zipped.front().front().path + "'");
      }
      target.push_back(std::move(values));
    }
  }
  return grid;
}

void add_column(std::vector<std::string>& columns, const std::string& path) {
  if (std::find(columns.begin(), columns.end(), path) == columns.end()) columns.push_back(path);
}

// Every combination of a grid, for every hardware it applies to.
void expand_grid(const Grid& grid, std::size_t grid_index, const SweepSpec& spec, const Location& where,
                 const YAML::Node& node, std::vector<SweepPoint>& points, std::vector<std::string>& columns) {
  std::vector<std::vector<SweepValue>> axes;
  std::vector<std::vector<SweepValue>> fixed_axes;
  for (const SweepValue& value : grid.fixed) fixed_axes.push_back({value});
  axes.insert(axes.end(), fixed_axes.begin(), fixed_axes.end());
  axes.insert(axes.end(), grid.axes.begin(), grid.axes.end());
  // A zip group is one more axis whose k-th entry sets every zipped path.
  const std::size_t zip_length = grid.zipped.empty() ? 1 : grid.zipped.front().size();
  const bool sets_hardware =
      std::any_of(axes.begin(), axes.end(), [](const auto& a) { return a[0].path == "hardware"; }) ||
      std::any_of(grid.zipped.begin(), grid.zipped.end(), [](const auto& a) { return a[0].path == "hardware"; });
  double count = static_cast<double>(zip_length) * (sets_hardware ? 1.0 : static_cast<double>(spec.hardware.size()));
  for (const auto& axis : axes) count *= static_cast<double>(axis.size());
  // Counted on what will run: every point of every grid so far, times the seeds.
  const double runs = (count + static_cast<double>(points.size())) * static_cast<double>(spec.seeds.size());
  if (runs > kMaxSweepRuns) {
    where.fail(node, "the grids so far describe " + std::to_string(static_cast<long long>(count) + points.size()) +
                         " points x " + std::to_string(spec.seeds.size()) +
                         " seeds = " + std::to_string(static_cast<long long>(runs)) + " runs; at most " +
                         std::to_string(kMaxSweepRuns) + " are allowed");
  }
  for (const auto& axis : axes) add_column(columns, axis[0].path);
  for (const auto& axis : grid.zipped) add_column(columns, axis[0].path);

  std::vector<std::string> hardware_names;
  if (!sets_hardware) {
    for (const Hardware& h : spec.hardware) hardware_names.push_back(h.name);
  } else {
    hardware_names.push_back("");  // set by a value below
  }
  std::vector<std::size_t> index(axes.size(), 0);
  for (const std::string& hardware : hardware_names) {
    std::fill(index.begin(), index.end(), 0);
    while (true) {
      for (std::size_t z = 0; z < zip_length; ++z) {
        SweepPoint point{hardware, {}, grid_index};
        std::vector<SweepValue> chosen;
        for (std::size_t a = 0; a < axes.size(); ++a) chosen.push_back(axes[a][index[a]]);
        for (const auto& axis : grid.zipped) chosen.push_back(axis[z]);
        for (SweepValue& value : chosen) {
          if (value.path == "hardware") point.hardware = value.text;
          point.values.push_back(std::move(value));
        }
        points.push_back(std::move(point));
      }
      std::size_t a = axes.size();
      while (a > 0 && ++index[a - 1] == axes[a - 1].size()) index[--a] = 0;
      if (a == 0) break;
    }
  }
}

// The value where two points of one grid differ in spelling only.
const SweepValue& first_difference(const SweepPoint& a, const SweepPoint& b) {
  for (std::size_t k = 0; k < a.values.size() && k < b.values.size(); ++k) {
    if (a.values[k].written != b.values[k].written) return a.values[k];
  }
  return a.values.front();
}

// Points with the same settings run once. Within one grid a second spelling of a value
// (t_inference: [3600, 1h]) is a mistake and refused, naming both; across grids (the file
// asks for their union) the later copy is dropped.
void merge_duplicate_points(SweepSpec& spec) {
  std::map<std::string, std::size_t> first_with;
  std::vector<SweepPoint> kept;
  for (SweepPoint& point : spec.points) {
    const auto [found, inserted] = first_with.emplace(point_settings(resolve_point(spec, point)), kept.size());
    if (inserted) {
      kept.push_back(std::move(point));
      continue;
    }
    const SweepPoint& earlier = kept[found->second];
    if (earlier.grid == point.grid && !point.values.empty()) {
      const SweepValue& value = first_difference(point, earlier);
      const SweepValue& other = first_difference(earlier, point);
      throw ConfigError(spec.file.string(), value.line, value.column, value.key_path,
                        "'" + value.written + "' gives the same point as '" + other.written + "' (" + other.key_path +
                            ", line " + std::to_string(other.line) + "); list each point once");
    }
    ++spec.merged_points;
  }
  spec.points = std::move(kept);
}

std::vector<std::uint64_t> parse_seeds(const YAML::Node& sweep, const Location& where) {
  const YAML::Node seeds = sweep["seeds"];
  const YAML::Node repeats = sweep["repeats"];
  if (seeds && repeats) where.fail(repeats, "give either seeds (a list) or repeats (a count), not both");
  std::vector<std::uint64_t> result;
  if (seeds) {
    const Location at = where.child("seeds");
    if (!seeds.IsSequence() || seeds.size() == 0) at.fail(seeds, "expected a non-empty list of seeds");
    for (std::size_t i = 0; i < seeds.size(); ++i) {
      double value = 0.0;
      yaml::decode(seeds[i], value, at.element(i));
      if (value < 0.0 || value != std::floor(value) || value > 9.007199254740992e15) {
        at.element(i).fail(seeds[i], "expected a whole number >= 0");
      }
      const auto seed = static_cast<std::uint64_t>(value);
      if (std::find(result.begin(), result.end(), seed) != result.end()) {
        at.element(i).fail(seeds[i], "seed " + std::to_string(seed) + " is listed twice");
      }
      result.push_back(seed);
    }
    return result;
  }
  int count = 1;
  if (repeats) {
    yaml::decode(repeats, count, where.child("repeats"));
    if (count < 1 || count > 100000) where.child("repeats").fail(repeats, "expected a count from 1 to 100000");
  }
  for (int i = 0; i < count; ++i) result.push_back(static_cast<std::uint64_t>(i));
  return result;
}

const std::vector<std::string> kMetrics{"top1", "top5", "loss", "snr", "layer_snr", "layer_top1"};

bool valid_metric(const std::string& name) {
  if (std::find(kMetrics.begin(), kMetrics.end(), name) != kMetrics.end()) return true;
  if (!name.starts_with("top") || name.size() < 4 || name.size() > 6) return false;
  return std::all_of(name.begin() + 3, name.end(), [](char c) { return c >= '0' && c <= '9'; }) && name[3] != '0';
}

void parse_output(const YAML::Node& node, const Location& where, SweepSpec& spec) {
  require_map(node, where, "a map with directory and plot");
  yaml::reject_unknown_keys(node, {"directory", "plot"}, where, "output");
  if (node["directory"]) spec.output_directory = scalar(node["directory"], where.child("directory"), "a folder path");
  const YAML::Node plot = node["plot"];
  if (!plot) return;
  const Location at = where.child("plot");
  if (plot.IsScalar()) {
    yaml::decode(plot, spec.plot.enabled, at);
    return;
  }
  require_map(plot, at, "a map with x, y, lines and log_x, or false");
  yaml::reject_unknown_keys(plot, {"x", "y", "lines", "log_x"}, at, "plot");
  if (plot["x"]) spec.plot.x = scalar(plot["x"], at.child("x"), "a swept parameter path");
  if (plot["y"]) spec.plot.y = scalar(plot["y"], at.child("y"), "a metric name");
  if (plot["lines"]) spec.plot.lines = scalar(plot["lines"], at.child("lines"), "a swept parameter path");
  if (plot["log_x"]) yaml::decode(plot["log_x"], spec.plot.log_x, at.child("log_x"));
  for (const char* key : {"x", "lines"}) {
    const YAML::Node value = plot[key];
    if (value && std::find(spec.columns.begin(), spec.columns.end(), value.Scalar()) == spec.columns.end()) {
      std::string swept;
      for (const auto& c : spec.columns) swept += (swept.empty() ? "" : ", ") + c;
      at.child(key).fail(value, "'" + value.Scalar() + "' is not swept (swept: " + swept + ")");
    }
  }
  if (plot["y"] && std::find(spec.metrics.begin(), spec.metrics.end(), spec.plot.y) == spec.metrics.end()) {
    at.child("y").fail(plot["y"], "'" + spec.plot.y + "' is not one of this file's metrics");
  }
}

}  // namespace

std::string bias_correction_method_error(const std::string& method) {
  if (method == "empirical" || method == "analytical") return "";
  return "expected empirical or analytical, found '" + parameters::excerpt(method) + "'";
}

std::vector<std::string> split_techniques(const std::string& text) {
  std::vector<std::string> names;
  std::string name;
  for (const char c : text + "+") {
    if (c != '+' && c != ',') {
      if (c != ' ') name += c;
      continue;
    }
    if (!name.empty() && name != "none") names.push_back(name);
    name.clear();
  }
  return names;
}

std::string QuantizationHardware::set_techniques(const std::vector<std::string>& names) {
  QuantizationHardware chosen;
  for (const std::string_view key : kPasses) *chosen.pass(key) = false;
  for (const std::string& name : names) {
    bool* on = chosen.pass(name);
    for (std::size_t i = 0; i < kTechniqueNames.size() && on == nullptr; ++i) {
      if (name == kTechniqueNames[i]) on = chosen.pass(kPasses[i]);
    }
    if (on == nullptr) {
      std::string known;
      for (const std::string_view technique : kTechniqueNames) known += (known.empty() ? "" : ", ") + std::string(technique);
      return "unknown technique '" + parameters::excerpt(name) + "' (expected some of " + known + ")";
    }
    *on = true;
  }
  for (const std::string_view key : kPasses) *pass(key) = *chosen.pass(key);
  return "";
}

bool parse_duration(const std::string& text, double& seconds) {
  static const std::vector<std::pair<std::string, double>> kUnits{{"s", 1.0},     {"min", 60.0},   {"h", 3600.0},
                                                                  {"d", 86400.0}, {"w", 604800.0}, {"y", 31536000.0}};
  const char* begin = text.data();
  const char* end = begin + text.size();
  double number = 0.0;
  const auto parsed = std::from_chars(begin, end, number);
  if (parsed.ec != std::errc() || !std::isfinite(number)) return false;
  std::string unit(parsed.ptr, end);
  unit.erase(0, unit.find_first_not_of(' '));
  if (unit.empty()) {
    seconds = number;
    return true;
  }
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      seconds = number * factor;
      return std::isfinite(seconds);
    }
  }
  return false;
}

std::string SweepPoint::value_of(const std::string& path) const {
  if (path == "hardware") return hardware;  // also when set implicitly, for every hardware
  for (const SweepValue& value : values) {
    if (value.path == path) return value.text;
  }
  return {};
}

const Hardware& SweepSpec::hardware_named(const std::string& name) const {
  for (const Hardware& h : hardware) {
    if (h.name == name) return h;
  }
  throw std::out_of_range("no hardware named '" + name + "'");
}

void SweepSpec::fail_at(const std::string& key, const std::string& message) const {
  const auto found = positions.find(key);
  const Position at = found == positions.end() ? Position{} : found->second;
  throw ConfigError(file.string(), at.line, at.column, key, message);
}

SweepSpec load_sweep_string(const std::string& text, const fs::path& file) {
  const std::string source = file.string();
  const YAML::Node root = yaml::parse(text, source);
  const Location where(source);
  require_map(root, where, "a sweep description (a map with model, data, hardware, sweep, metrics, output)");
  yaml::reject_unknown_keys(
      root, {"model", "data", "calibration", "hardware", "t_inference", "device", "sweep", "metrics", "output"}, where,
      "sweep file");
  for (const char* key : {"model", "data", "hardware"}) {
    if (!root[key]) where.fail(root, std::string("missing '") + key + "'");
  }
  const fs::path base = file.parent_path();
  SweepSpec spec;
  spec.file = file;
  const auto remember = [&](const std::string& key, const YAML::Node& node) {
    spec.positions[key] = {node.Mark().line + 1, node.Mark().column + 1};
  };
  for (const char* key : {"model", "data", "calibration"}) {
    if (root[key]) remember(key, root[key]);
  }
  spec.model = existing_file(root["model"], where.child("model"), base);
  spec.data = parse_data(root["data"], where.child("data"), base, &spec.batch_size);
  if (root["calibration"])
    spec.calibration = parse_data(root["calibration"], where.child("calibration"), base, nullptr);

  if (const YAML::Node device = root["device"]) {
    const std::string name = scalar(device, where.child("device"), "cpu or cuda");
    try {
      spec.device = simulator::backend_from_name(name);
    } catch (const std::invalid_argument& error) {
      where.child("device").fail(device, error.what());
    }
    remember("device", device);
  }

  const YAML::Node hardware = root["hardware"];
  const Location hardware_at = where.child("hardware");
  if (!hardware.IsMap() || hardware.size() == 0) {
    hardware_at.fail(hardware,
                     "expected a map from names to hardware descriptions, e.g. "
                     "{pcm: {analog: {preset: pcm_inference}}}, found " +
                         yaml::describe_node(hardware));
  }
  for (const auto& entry : hardware) {
    const std::string name = scalar(entry.first, hardware_at, "a hardware name");
    for (const Hardware& h : spec.hardware) {
      if (h.name == name) hardware_at.child(name).fail(entry.first, "duplicate hardware name '" + name + "'");
    }
    spec.hardware.push_back(parse_hardware(name, entry.second, hardware_at.child(name), base));
    remember("hardware." + name, entry.second);
  }
  for (const Hardware& h : spec.hardware) {
    if (h.quantization && (h.quantization->bias_correction || h.quantization->adaround) && !spec.calibration) {
      where.fail(root, "hardware '" + h.name + "' uses " + (h.quantization->adaround ? "adaround" : "bias_correction") +
                           ", which measures layer outputs on calibration data: add a 'calibration' section (same "
                           "keys as 'data', e.g. the training set with limit: 512)");
    }
  }
  const bool calibrates = std::any_of(spec.hardware.begin(), spec.hardware.end(), [](const Hardware& h) {
    return h.quantization.has_value() && h.quantization->encodings.empty();
  });
  if (calibrates && !spec.calibration) {
    where.fail(root,
               "some hardware quantizes, so activation ranges need calibration data: add a 'calibration' "
               "section (same keys as 'data', e.g. the training set with limit: 1000), or give the hardware "
               "fixed encodings (quantization.encodings: a JSON file)");
  }
  if (const YAML::Node t = root["t_inference"]) {
    spec.t_inference = std::stod(swept_value("t_inference", t, where.child("t_inference")).text);
  }
  if (const YAML::Node metrics = root["metrics"]) {
    yaml::decode(metrics, spec.metrics, where.child("metrics"));
    if (spec.metrics.empty()) where.child("metrics").fail(metrics, "expected at least one metric");
    for (std::size_t i = 0; i < spec.metrics.size(); ++i) {
      if (!valid_metric(spec.metrics[i])) {
        where.child("metrics").element(i).fail(
            metrics[i], "unknown metric '" + spec.metrics[i] +
                            "' (expected top1, top5, top<k>, loss, snr, layer_snr or layer_top1)");
      }
    }
  }

  std::vector<Grid> grids;
  std::vector<Location> grid_locations;
  std::vector<YAML::Node> grid_nodes;
  if (const YAML::Node sweep = root["sweep"]) {
    const Location at = where.child("sweep");
    require_map(sweep, at, "a map with seeds or repeats and a grid (set, product, zip) or grids");
    yaml::reject_unknown_keys(sweep, {"seeds", "repeats", "grids", "set", "product", "zip"}, at, "sweep");
    spec.seeds = parse_seeds(sweep, at);
    if (const YAML::Node list = sweep["grids"]) {
      if (sweep["set"] || sweep["product"] || sweep["zip"]) {
        at.fail(list, "give either 'grids' (a list) or one grid's set/product/zip, not both");
      }
      if (!list.IsSequence() || list.size() == 0) at.child("grids").fail(list, "expected a non-empty list of grids");
      for (std::size_t i = 0; i < list.size(); ++i) {
        grid_locations.push_back(at.child("grids").element(i));
        grids.push_back(parse_grid(list[i], grid_locations.back()));
        grid_nodes.push_back(list[i]);
      }
    } else {
      YAML::Node single(YAML::NodeType::Map);
      for (const char* key : {"set", "product", "zip"}) {
        if (sweep[key]) single[key] = sweep[key];
      }
      grid_locations.push_back(at);
      grids.push_back(parse_grid(single, at));
      grid_nodes.push_back(sweep);
    }
  } else {
    grid_locations.push_back(where);
    grids.push_back({});
    grid_nodes.push_back(root);
  }
  spec.columns.push_back("hardware");
  for (std::size_t g = 0; g < grids.size(); ++g) {
    expand_grid(grids[g], g, spec, grid_locations[g], grid_nodes[g], spec.points, spec.columns);
  }
  merge_duplicate_points(spec);  // resolves every point, so bad values are reported now
  if (root["output"]) parse_output(root["output"], where.child("output"), spec);
  return spec;
}

SweepSpec load_sweep_file(const fs::path& file) {
  return load_sweep_string(parameters::read_yaml_file(file, "sweep file"), file);
}

}  // namespace tessera::experiments
