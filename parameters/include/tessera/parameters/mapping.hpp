// How weights are mapped onto tiles, and how they are clipped, remapped and modified during
// hardware-aware training (aihwkit's MappingParameter, WeightClipParameter,
// WeightRemapParameter, WeightModifierParameter, InputRangeParameter).
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/parameters/checks.hpp"
#include "tessera/parameters/enum_names.hpp"
#include "tessera/parameters/field_problem.hpp"

namespace tessera::parameters {

struct MappingParameter {
  bool digital_bias = true;                     ///< bias added digitally after the ADC
  double weight_scaling_omega = 0.0;            ///< map max|W| to omega (0 = no scaling)
  bool weight_scaling_columnwise = false;       ///< one scale per output column
  bool weight_scaling_lr_compensation = false;  ///< scale the learning rate with the mapping
  bool learn_out_scaling = false;               ///< learnable output scales
  bool out_scaling_columnwise = false;          ///< learnable scale per column
  int max_input_size = 512;                     ///< tile rows; larger inputs are split (0 = no limit)
  int max_output_size = 512;                    ///< tile columns; larger outputs are split (0 = no limit)

  static constexpr std::string_view kTypeName = "MappingParameter";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("digital_bias", self.digital_bias, kAnyValue, "bias added digitally after the ADC");
    field("weight_scaling_omega", self.weight_scaling_omega, kNonNegative, "map max|W| to omega (0 = no scaling)");
    field("weight_scaling_columnwise", self.weight_scaling_columnwise, kAnyValue, "one scale per output column");
    field("weight_scaling_lr_compensation", self.weight_scaling_lr_compensation, kAnyValue, "scale the learning rate with the mapping");
    field("learn_out_scaling", self.learn_out_scaling, kAnyValue, "learnable output scales");
    field("out_scaling_columnwise", self.out_scaling_columnwise, kAnyValue, "learnable scale per column");
    field("max_input_size", self.max_input_size, at_least(0.0, "0 means no limit"), "tile rows; larger inputs are split (0 = no limit)");
    field("max_output_size", self.max_output_size, at_least(0.0, "0 means no limit"), "tile columns; larger outputs are split (0 = no limit)");
  }
  bool operator==(const MappingParameter&) const = default;
};

enum class WeightClipType { NONE, FIXED_VALUE, LAYER_GAUSSIAN, AVERAGE_CHANNEL_MAX };

template <>
struct EnumNames<WeightClipType> {
  static constexpr std::array<std::pair<WeightClipType, std::string_view>, 4> kNames{{
      {WeightClipType::NONE, "NONE"},
      {WeightClipType::FIXED_VALUE, "FIXED_VALUE"},
      {WeightClipType::LAYER_GAUSSIAN, "LAYER_GAUSSIAN"},
      {WeightClipType::AVERAGE_CHANNEL_MAX, "AVERAGE_CHANNEL_MAX"},
  }};
};

struct WeightClipParameter {
  double fixed_value = -1.0;                   ///< FIXED_VALUE bound (also caps LAYER_GAUSSIAN if > 0)
  double sigma = 2.5;                          ///< LAYER_GAUSSIAN: clip at sigma standard deviations
  WeightClipType type = WeightClipType::NONE;  ///< clipping rule

  static constexpr std::string_view kTypeName = "WeightClipParameter";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("fixed_value", self.fixed_value, kAnyValue, "FIXED_VALUE bound (also caps LAYER_GAUSSIAN if > 0)");
    field("sigma", self.sigma, kPositive, "LAYER_GAUSSIAN: clip at sigma standard deviations");
    field("type", self.type, kAnyValue, "clipping rule");
  }
  bool operator==(const WeightClipParameter&) const = default;
};

enum class WeightRemapType { NONE, LAYERWISE_SYMMETRIC, CHANNELWISE_SYMMETRIC };

template <>
struct EnumNames<WeightRemapType> {
  static constexpr std::array<std::pair<WeightRemapType, std::string_view>, 3> kNames{{
      {WeightRemapType::NONE, "NONE"},
      {WeightRemapType::LAYERWISE_SYMMETRIC, "LAYERWISE_SYMMETRIC"},
      {WeightRemapType::CHANNELWISE_SYMMETRIC, "CHANNELWISE_SYMMETRIC"},
  }};
};

struct WeightRemapParameter {
  double remapped_wmax = 1.0;                    ///< max |w| after remapping
  double max_scale_range = 0.0;                  ///< CHANNELWISE: bound on the spread of scales (0 = none)
  double max_scale_ref = 0.0;                    ///< reference for max_scale_range
  WeightRemapType type = WeightRemapType::NONE;  ///< remapping rule

  static constexpr std::string_view kTypeName = "WeightRemapParameter";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("remapped_wmax", self.remapped_wmax, kPositive, "max |w| after remapping");
    field("max_scale_range", self.max_scale_range, kNonNegative, "CHANNELWISE: bound on the spread of scales (0 = none)");
    field("max_scale_ref", self.max_scale_ref, kNonNegative, "reference for max_scale_range");
    field("type", self.type, kAnyValue, "remapping rule");
  }
  bool operator==(const WeightRemapParameter&) const = default;
};

/// Weight perturbations applied during hardware-aware training.
enum class WeightModifierType {
  NONE,
  DISCRETIZE,
  MULT_NORMAL,
  ADD_NORMAL,
  DISCRETIZE_ADD_NORMAL,
  DOREFA,
  POLY,
  PROG_NOISE,
  DROP_CONNECT
};

template <>
struct EnumNames<WeightModifierType> {
  static constexpr std::array<std::pair<WeightModifierType, std::string_view>, 9> kNames{{
      {WeightModifierType::NONE, "NONE"},
      {WeightModifierType::DISCRETIZE, "DISCRETIZE"},
      {WeightModifierType::MULT_NORMAL, "MULT_NORMAL"},
      {WeightModifierType::ADD_NORMAL, "ADD_NORMAL"},
      {WeightModifierType::DISCRETIZE_ADD_NORMAL, "DISCRETIZE_ADD_NORMAL"},
      {WeightModifierType::DOREFA, "DOREFA"},
      {WeightModifierType::POLY, "POLY"},
      {WeightModifierType::PROG_NOISE, "PROG_NOISE"},
      {WeightModifierType::DROP_CONNECT, "DROP_CONNECT"},
  }};
};

struct WeightModifierParameter {
  double std_dev = 0.0;                                         ///< noise scale, relative to max|W| (or assumed_wmax)
  bool per_batch_sample = false;                                ///< draw a new modification per batch sample
  double res = 0.0;                                             ///< DISCRETIZE resolution (fraction of max|W|); 0 = off
  bool sto_round = false;                                       ///< stochastic rounding when discretizing
  double dorefa_clip = 0.6;                                     ///< DOREFA clip value
  double pdrop = 0.0;                                           ///< probability of dropping a weight (DROP_CONNECT)
  bool enable_during_test = false;                              ///< also modify weights in evaluation
  bool rel_to_actual_wmax = true;                               ///< scale by the actual max|W| instead of assumed_wmax
  double assumed_wmax = 1.0;                                    ///< max|W| assumed when rel_to_actual_wmax is false
  bool copy_last_column = false;                                ///< leave the last column (bias) untouched
  std::vector<double> coeffs = {0.0105392, 0.0768, -0.046925};  ///< POLY/PROG_NOISE coefficients
  WeightModifierType type = WeightModifierType::NONE;           ///< modifier kind
  double g_max = 25.0;                                          ///< PROG_NOISE: g_max in uS the coefficients refer to

  static constexpr std::string_view kTypeName = "WeightModifierParameter";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("std_dev", self.std_dev, kNonNegative, "noise scale, relative to max|W| (or assumed_wmax)");
    field("per_batch_sample", self.per_batch_sample, kAnyValue, "draw a new modification per batch sample");
    field("res", self.res, kNonNegative, "DISCRETIZE resolution (fraction of max|W|); 0 = off");
    field("sto_round", self.sto_round, kAnyValue, "stochastic rounding when discretizing");
    field("dorefa_clip", self.dorefa_clip, kPositive, "DOREFA clip value");
    field("pdrop", self.pdrop, kProbability, "probability of dropping a weight (DROP_CONNECT)");
    field("enable_during_test", self.enable_during_test, kAnyValue, "also modify weights in evaluation");
    field("rel_to_actual_wmax", self.rel_to_actual_wmax, kAnyValue, "scale by the actual max|W| instead of assumed_wmax");
    field("assumed_wmax", self.assumed_wmax, kPositive, "max|W| assumed when rel_to_actual_wmax is false");
    field("copy_last_column", self.copy_last_column, kAnyValue, "leave the last column (bias) untouched");
    field("coeffs", self.coeffs, kAnyValue, "POLY/PROG_NOISE coefficients");
    field("type", self.type, kAnyValue, "modifier kind");
    field("g_max", self.g_max, kPositive, "PROG_NOISE: g_max in uS the coefficients refer to");
  }
  bool operator==(const WeightModifierParameter&) const = default;
};

/// Learned or calibrated input range in front of a tile (aihwkit's InputRangeParameter).
struct InputRangeParameter {
  bool enable = false;                  ///< clamp inputs to +-r and divide by r
  bool learn_input_range = true;        ///< r is trained
  double init_value = 3.0;              ///< initial r
  int init_from_data = 100;             ///< batches used to initialise r from data (0 = no)
  double init_std_alpha = 3.0;          ///< data init: r = init_std_alpha * std(x)
  double decay = 0.001;                 ///< shrink r while few inputs are clipped
  double input_min_percentage = 0.95;   ///< fraction unclipped above which r decays
  bool manage_output_clipping = false;  ///< also grow r on output clipping
  double output_min_percentage = 0.95;  ///< fraction of unclipped outputs required
  double gradient_scale = 1.0;          ///< gradient factor on r
  bool gradient_relative = true;        ///< gradient relative to r

  static constexpr std::string_view kTypeName = "InputRangeParameter";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("enable", self.enable, kAnyValue, "clamp inputs to +-r and divide by r");
    field("learn_input_range", self.learn_input_range, kAnyValue, "r is trained");
    field("init_value", self.init_value, kPositive, "initial r");
    field("init_from_data", self.init_from_data, kNonNegative, "batches used to initialise r from data (0 = no)");
    field("init_std_alpha", self.init_std_alpha, kPositive, "data init: r = init_std_alpha * std(x)");
    field("decay", self.decay, kNonNegative, "shrink r while few inputs are clipped");
    field("input_min_percentage", self.input_min_percentage, kProbability, "fraction unclipped above which r decays");
    field("manage_output_clipping", self.manage_output_clipping, kAnyValue, "also grow r on output clipping");
    field("output_min_percentage", self.output_min_percentage, kProbability, "fraction of unclipped outputs required");
    field("gradient_scale", self.gradient_scale, kAnyValue, "gradient factor on r");
    field("gradient_relative", self.gradient_relative, kAnyValue, "gradient relative to r");
  }
  bool operator==(const InputRangeParameter&) const = default;
};

struct PrePostProcessingParameter {
  InputRangeParameter input_range{};  ///< input range handling

  static constexpr std::string_view kTypeName = "PrePostProcessingParameter";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("input_range", self.input_range, kAnyValue, "input range handling");
  }
  bool operator==(const PrePostProcessingParameter&) const = default;
};

}  // namespace tessera::parameters
