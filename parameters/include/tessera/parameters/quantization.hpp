// Digital quantization configs with aihwkit's names and defaults
// (aihwkit.simulator.parameters.quantization): per-layer weight and output-activation
// quantizers, and the QuantizationMap that decides which module gets which config.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tessera/parameters/checks.hpp"
#include "tessera/parameters/enum_names.hpp"

namespace tessera::parameters {

/// How a quantizer finds its clipping range [min, max] from data. The first five are
/// aihwkit's RangeEstimators; the others follow torch.ao (moving average, histogram L2)
/// and AIMET (percentile, SQNR). Formulas: simulator/range_estimators.hpp.
enum class RangeEstimator {
  current_minmax,         ///< min/max of the latest batch
  allminmax,              ///< min/max over every batch seen
  running_minmax,         ///< EMA: r = (1 - momentum) r_batch + momentum r
  MSE,                    ///< clip range minimising ||x - Q(x)||^2 (grid or golden section)
  moving_average_minmax,  ///< torch: r += averaging_constant (r_batch - r)
  percentile,             ///< histogram percentile of the data (AIMET)
  sqnr,                   ///< AIMET's SQNR search over (scale, offset) candidates
  histogram_l2,           ///< torch HistogramObserver's L2-error range search
};

template <>
struct EnumNames<RangeEstimator> {
  static constexpr std::array<std::pair<RangeEstimator, std::string_view>, 8> kNames{{
      {RangeEstimator::current_minmax, "current_minmax"},
      {RangeEstimator::allminmax, "allminmax"},
      {RangeEstimator::running_minmax, "running_minmax"},
      {RangeEstimator::MSE, "MSE"},
      {RangeEstimator::moving_average_minmax, "moving_average_minmax"},
      {RangeEstimator::percentile, "percentile"},
      {RangeEstimator::sqnr, "sqnr"},
      {RangeEstimator::histogram_l2, "histogram_l2"},
  }};
};

/// Search strategy of the MSE estimator (aihwkit's OptMethod).
enum class RangeOptMethod { grid, golden_section };

template <>
struct EnumNames<RangeOptMethod> {
  static constexpr std::array<std::pair<RangeOptMethod, std::string_view>, 2> kNames{{
      {RangeOptMethod::grid, "grid"},
      {RangeOptMethod::golden_section, "golden_section"},
  }};
};

/// Knobs of the range estimators; each estimator reads only the ones named after it.
struct RangeEstimatorParameters {
  double momentum = 0.9;             ///< running_minmax EMA weight of the old value (aihwkit)
  double averaging_constant = 0.01;  ///< moving_average_minmax step (torch)
  double percentile = 99.99;         ///< percentile estimator, in [50, 100]
  RangeOptMethod range_opt_method = RangeOptMethod::golden_section;  ///< MSE search strategy
  int num_candidates = 100;                                          ///< MSE grid size
  double range_margin = 0.5;                                         ///< MSE: search up to max|x| + margin (aihwkit)
  int num_bins = 2048;                  ///< histogram bins (percentile, sqnr, histogram_l2)
  double sqnr_gamma = 3.0;              ///< sqnr: weight of clipping error vs rounding error (AIMET)
  int sqnr_symmetric_candidates = 101;  ///< sqnr: scale candidates when symmetric
  int sqnr_asymmetric_candidates = 17;  ///< sqnr: scale candidates when asymmetric
  int sqnr_offset_candidates = 21;      ///< sqnr: offset candidates when asymmetric

  static constexpr std::string_view kTypeName = "RangeEstimatorParameters";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("momentum", self.momentum, kProbability, "running_minmax EMA weight of the old value (aihwkit)");
    field("averaging_constant", self.averaging_constant, between(0.0, 1.0), "moving_average_minmax step (torch)");
    field("percentile", self.percentile, between(50.0, 100.0), "percentile estimator, in [50, 100]");
    field("range_opt_method", self.range_opt_method, kAnyValue, "MSE search strategy");
    field("num_candidates", self.num_candidates, at_least(1.0), "MSE grid size");
    field("range_margin", self.range_margin, kNonNegative, "MSE: search up to max|x| + margin (aihwkit)");
    field("num_bins", self.num_bins, at_least(2.0), "histogram bins (percentile, sqnr, histogram_l2)");
    field("sqnr_gamma", self.sqnr_gamma, kNonNegative, "sqnr: weight of clipping error vs rounding error (AIMET)");
    field("sqnr_symmetric_candidates", self.sqnr_symmetric_candidates, at_least(2.0), "sqnr: scale candidates when symmetric");
    field("sqnr_asymmetric_candidates", self.sqnr_asymmetric_candidates, at_least(2.0), "sqnr: scale candidates when asymmetric");
    field("sqnr_offset_candidates", self.sqnr_offset_candidates, at_least(1.0), "sqnr: offset candidates when asymmetric");
  }
  bool operator==(const RangeEstimatorParameters&) const = default;
};

/// Bit width and symmetry shared by every quantizer config (aihwkit's BaseQuantConfig).
struct BaseQuantConfig {
  int n_bits = 0;         ///< bits; <= 0 means not quantized
  bool symmetric = true;  ///< scale only (true) or scale and zero point (false)

  static constexpr std::string_view kTypeName = "BaseQuantConfig";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("n_bits", self.n_bits, kBitWidth, "bits; <= 0 means not quantized");
    field("symmetric", self.symmetric, kAnyValue, "scale only (true) or scale and zero point (false)");
  }
  bool operator==(const BaseQuantConfig&) const = default;
};

/// Quantizer of a layer's *output* activations (aihwkit convention; inputs are quantized by
/// the previous layer or by QuantizationMap::input_activation_qconfig_map).
struct ActivationQuantConfig {
  int n_bits = 0;                                                   ///< bits; <= 0 means off
  bool symmetric = true;                                            ///< no zero point when true
  RangeEstimator range_estimator = RangeEstimator::running_minmax;  ///< how the range is found
  RangeEstimatorParameters range_estimator_params{};                ///< estimator knobs

  static constexpr std::string_view kTypeName = "ActivationQuantConfig";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("n_bits", self.n_bits, kBitWidth, "bits; <= 0 means off");
    field("symmetric", self.symmetric, kAnyValue, "no zero point when true");
    field("range_estimator", self.range_estimator, kAnyValue, "how the range is found");
    field("range_estimator_params", self.range_estimator_params, kAnyValue, "estimator knobs");
  }
  bool operator==(const ActivationQuantConfig&) const = default;
};

/// Quantizer of a layer's weights.
struct WeightQuantConfig {
  int n_bits = 0;                                                   ///< bits; <= 0 means off
  bool symmetric = true;                                            ///< no zero point when true
  bool per_channel = false;                                         ///< one scale per output channel
  RangeEstimator range_estimator = RangeEstimator::current_minmax;  ///< how the range is found
  RangeEstimatorParameters range_estimator_params{};                ///< estimator knobs

  static constexpr std::string_view kTypeName = "WeightQuantConfig";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("n_bits", self.n_bits, kBitWidth, "bits; <= 0 means off");
    field("symmetric", self.symmetric, kAnyValue, "no zero point when true");
    field("per_channel", self.per_channel, kAnyValue, "one scale per output channel");
    field("range_estimator", self.range_estimator, kAnyValue, "how the range is found");
    field("range_estimator_params", self.range_estimator_params, kAnyValue, "estimator knobs");
  }
  bool operator==(const WeightQuantConfig&) const = default;
};

/// Activation (output) and weight quantization of one layer.
struct QuantizationConfig {
  ActivationQuantConfig activation_quant{};  ///< output activations
  WeightQuantConfig weight_quant{};          ///< weights

  static constexpr std::string_view kTypeName = "QuantizationConfig";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("activation_quant", self.activation_quant, kAnyValue, "output activations");
    field("weight_quant", self.weight_quant, kAnyValue, "weights");
  }
  bool operator==(const QuantizationConfig&) const = default;
};

/// Which quantized module replaces a float one, and with which config.
struct QuantizedModuleConfig {
  std::string quantized_module = "";    ///< e.g. "QuantLinear", "QuantConv2d"
  QuantizationConfig module_qconfig{};  ///< its quantizers

  static constexpr std::string_view kTypeName = "QuantizedModuleConfig";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("quantized_module", self.quantized_module, kAnyValue, "e.g. \"QuantLinear\", \"QuantConv2d\"");
    field("module_qconfig", self.module_qconfig, kAnyValue, "its quantizers");
  }
  bool operator==(const QuantizedModuleConfig&) const = default;
};

/// How convert_to_quantized treats every module. Priority: excluded_modules (prunes the
/// subtree) > instance_qconfig_map (dotted state-dict name) > module_qconfig_map (exact
/// type name) > recurse into children. default_qconfig is only a value to share.
struct QuantizationMap {
  QuantizationConfig default_qconfig{};                                         ///< shared default
  std::map<std::string, QuantizedModuleConfig> module_qconfig_map{};            ///< by type, e.g. "Linear"
  std::map<std::string, QuantizedModuleConfig> instance_qconfig_map{};          ///< by name, e.g. "features.0"
  std::map<std::string, ActivationQuantConfig> input_activation_qconfig_map{};  ///< quantize inputs of these
  std::vector<std::string> excluded_modules{};                                  ///< never converted

  static constexpr std::string_view kTypeName = "QuantizationMap";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("default_qconfig", self.default_qconfig, kAnyValue, "shared default");
    field("module_qconfig_map", self.module_qconfig_map, kAnyValue, "by type, e.g. \"Linear\"");
    field("instance_qconfig_map", self.instance_qconfig_map, kAnyValue, "by name, e.g. \"features.0\"");
    field("input_activation_qconfig_map", self.input_activation_qconfig_map, kAnyValue, "quantize inputs of these");
    field("excluded_modules", self.excluded_modules, kAnyValue, "never converted");
  }
  bool operator==(const QuantizationMap&) const = default;
};

}  // namespace tessera::parameters
