// A sweep file: one YAML file naming a model, its data, the simulated hardware and a grid of
// parameters to run it over (the commented example is examples/fashion_mnist/sweep.yaml).
//   SweepSpec spec = load_sweep_file("sweep.yaml");       // checks everything, runs nothing
//   for (const SweepPoint& point : spec.points)
//     ResolvedPoint hardware = resolve_point(spec, point);
// Every error is a parameters::ConfigError naming the file, line:column and key path.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/experiments/dataset.hpp"
#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"
#include "tessera/simulator/backend.hpp"

namespace tessera::experiments {

/// Analog tiles for some modules (convert_to_analog).
struct AnalogHardware {
  std::string preset;                                                          ///< "" = InferenceRPUConfig defaults
  parameters::InferenceRPUConfig rpu_config{};                                 ///< the preset plus overrides
  std::set<std::string> module_types{"Linear", "Conv1d", "Conv2d", "Conv3d"};  ///< exact types converted
  std::vector<std::string> exclude{};                                          ///< subtrees left digital
  std::map<std::string, parameters::InferenceRPUConfig> instances{};           ///< per-module configs
};

/// Digital quantization for some modules (convert_to_quantized).
struct QuantizationHardware {
  std::string preset;                 ///< "" = an empty map
  parameters::QuantizationMap map{};  ///< the preset plus overrides
  std::filesystem::path encodings;    ///< fixed encodings (JSON, e.g. from tessera.torch.export_onnx)
                                      ///< instead of calibrating; "" = calibrate
  // The passes, in the order they run (each a key of the section, sweepable as quantization.<key>).
  bool fold_batch_norms = true;           ///< fold BatchNorms into the Conv/Gemm before them first
  bool cross_layer_equalization = false;  ///< equalize weight ranges of layer pairs (after folding)
  bool fuse_activations = false;          ///< quantize a Conv/Gemm + ReLU pair once, after the ReLU
  bool adaround = false;                  ///< AdaRound the quantized weights on the calibration data
  int adaround_iterations = 10000;        ///< Adam steps per layer (AIMET's default)
  bool bias_correction = false;           ///< bias correction on the calibration data
  std::string bias_correction_method = "empirical";  ///< or "analytical": from folded BatchNorms where they tell

  static constexpr std::array<std::string_view, 5> kPasses{"fold_batch_norms", "cross_layer_equalization",
                                                           "fuse_activations", "adaround", "bias_correction"};
  /// The switch of the pass named `key`, or null when `key` names none.
  bool* pass(std::string_view key) {
    if (key == "fold_batch_norms") return &fold_batch_norms;
    if (key == "cross_layer_equalization") return &cross_layer_equalization;
    if (key == "fuse_activations") return &fuse_activations;
    if (key == "adaround") return &adaround;
    if (key == "bias_correction") return &bias_correction;
    return nullptr;
  }
  /// The short names of the passes in a `techniques` list, as the issue tracker and AIMET's
  /// docs write them (fold_bn, fuse, cle, adaround, bias_correction); the pass keys also work.
  static constexpr std::array<std::string_view, 5> kTechniqueNames{"fold_bn", "cle", "fuse", "adaround",
                                                                   "bias_correction"};
  /// `techniques: [fold_bn, fuse, adaround]`: the listed passes on, every other off (a list
  /// says which passes run, whatever its order; they run in the order of kPasses). Returns ""
  /// or, for a name that is no technique, a message naming it and the known ones.
  std::string set_techniques(const std::vector<std::string>& names);
};

/// "" for "empirical" and "analytical", else the message that names what was found.
std::string bias_correction_method_error(const std::string& method);

/// "fold_bn+fuse" or "fold_bn, fuse" -> {"fold_bn", "fuse"}; "none" and "" -> {}.
std::vector<std::string> split_techniques(const std::string& text);

/// One named hardware description of a sweep file's `hardware` section.
struct Hardware {
  std::string name;
  std::optional<AnalogHardware> analog;
  std::optional<QuantizationHardware> quantization;
};

/// One swept setting: a dotted parameter path and a YAML scalar, with where it was written.
struct SweepValue {
  std::string path;      ///< "t_inference", "hardware", "analog.forward.out_res", "quantization...."
  std::string text;      ///< the value (seconds for t_inference)
  std::string written;   ///< the value as the file spells it ("1h")
  std::string key_path;  ///< where in the file, e.g. "sweep.grids[0].product.t_inference[2]"
  int line = 0;          ///< 1-based
  int column = 0;
};

/// One point of the grid, without its seed.
struct SweepPoint {
  std::string hardware;                                 ///< the name of a Hardware entry
  std::vector<SweepValue> values;                       ///< its settings, in axis order
  std::size_t grid = 0;                                 ///< which grid of the file gave it
  std::string value_of(const std::string& path) const;  ///< "" when the point does not set it
};

struct PlotSpec {
  bool enabled = true;
  std::string x;  ///< swept path on the x axis; "" = chosen from the grid
  std::string y = "top1";
  std::string lines;   ///< swept path that separates lines; "" = every other swept value
  bool log_x = false;  ///< also chosen automatically for t_inference
};

/// Line and column (1-based) of a key in the sweep file.
struct Position {
  int line = 0;
  int column = 0;
};

struct SweepSpec {
  std::filesystem::path file;
  std::map<std::string, Position> positions;  ///< of "model", "data", "calibration", "hardware.<name>"
  std::filesystem::path model;                ///< resolved against the sweep file's folder
  DataSource data;
  std::int64_t batch_size = 256;
  std::optional<DataSource> calibration;                ///< required when some hardware quantizes
  std::vector<Hardware> hardware;                       ///< in file order
  double t_inference = 0.0;                             ///< seconds after programming, unless swept
  simulator::Backend device = simulator::Backend::cpu;  ///< where analog tiles compute (`device: cuda`)
  std::vector<SweepPoint> points;                       ///< the whole grid, each point once
  std::size_t merged_points = 0;                        ///< points that more than one grid gave (run once)
  std::vector<std::string> columns;                     ///< swept paths, in order of first appearance
  std::vector<std::uint64_t> seeds{0};
  std::vector<std::string> metrics{"top1", "loss"};
  std::filesystem::path output_directory = "results";
  PlotSpec plot;

  const Hardware& hardware_named(const std::string& name) const;
  /// Throws ConfigError at the position of `key` (one of those in `positions`).
  [[noreturn]] void fail_at(const std::string& key, const std::string& message) const;
};

/// The hardware and drift time of one point, after applying its swept values.
struct ResolvedPoint {
  Hardware hardware;
  double t_inference = 0.0;
};

/// Reads, checks and expands a sweep file, resolving every point so that bad values are
/// reported now, with their position, not halfway through a run.
SweepSpec load_sweep_file(const std::filesystem::path& file);
SweepSpec load_sweep_string(const std::string& text, const std::filesystem::path& file);

/// Applies a point's values to its hardware; throws ConfigError at the offending value.
ResolvedPoint resolve_point(const SweepSpec& spec, const SweepPoint& point);
/// Everything that makes a point what it is (the hardware's configs, t_inference), whatever
/// spelling the file used: two points with the same settings are the same point.
std::string point_settings(const ResolvedPoint& point);

/// Seconds from a number or a number with a unit: s, min, h, d, w, y (365 d); false if neither.
bool parse_duration(const std::string& text, double& seconds);

/// Most points a sweep file may describe (points x seeds); more is refused up front.
inline constexpr std::int64_t kMaxSweepRuns = 1'000'000;

}  // namespace tessera::experiments
