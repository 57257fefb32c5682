// Periphery of an analog MVM (aihwkit's IOParameters): DAC, ADC, noise and bound management,
// output noise, per-MVM weight noise, IR drop and output nonlinearities. Names, defaults and
// meanings follow aihwkit 1.1 (simulator/parameters/io.py); resolutions are given either as a
// bin width in units of the full range (< 1, e.g. 1/126) or as a number of steps (> 1).
#pragma once

#include <array>
#include <string_view>
#include <utility>

#include "tessera/parameters/checks.hpp"
#include "tessera/parameters/enum_names.hpp"

namespace tessera::parameters {

/// How the MVM is carried out (aihwkit's AnalogMVType).
enum class AnalogMVType { IDEAL, ONE_PASS, POS_NEG_SEPARATE, POS_NEG_SEPARATE_DIGITAL_SUM };

template <>
struct EnumNames<AnalogMVType> {
  static constexpr std::array<std::pair<AnalogMVType, std::string_view>, 4> kNames{{
      {AnalogMVType::IDEAL, "IDEAL"},
      {AnalogMVType::ONE_PASS, "ONE_PASS"},
      {AnalogMVType::POS_NEG_SEPARATE, "POS_NEG_SEPARATE"},
      {AnalogMVType::POS_NEG_SEPARATE_DIGITAL_SUM, "POS_NEG_SEPARATE_DIGITAL_SUM"},
  }};
};

/// Input scaling before the DAC, per input vector.
enum class NoiseManagementType { NONE, ABS_MAX, ABS_MAX_NP_SUM, MAX, CONSTANT, AVERAGE_ABS_MAX };

template <>
struct EnumNames<NoiseManagementType> {
  static constexpr std::array<std::pair<NoiseManagementType, std::string_view>, 6> kNames{{
      {NoiseManagementType::NONE, "NONE"},
      {NoiseManagementType::ABS_MAX, "ABS_MAX"},
      {NoiseManagementType::ABS_MAX_NP_SUM, "ABS_MAX_NP_SUM"},
      {NoiseManagementType::MAX, "MAX"},
      {NoiseManagementType::CONSTANT, "CONSTANT"},
      {NoiseManagementType::AVERAGE_ABS_MAX, "AVERAGE_ABS_MAX"},
  }};
};

/// What happens when the ADC saturates: ITERATIVE halves the input and repeats.
enum class BoundManagementType { NONE, ITERATIVE, ITERATIVE_WORST_CASE, SHIFT };

template <>
struct EnumNames<BoundManagementType> {
  static constexpr std::array<std::pair<BoundManagementType, std::string_view>, 4> kNames{{
      {BoundManagementType::NONE, "NONE"},
      {BoundManagementType::ITERATIVE, "ITERATIVE"},
      {BoundManagementType::ITERATIVE_WORST_CASE, "ITERATIVE_WORST_CASE"},
      {BoundManagementType::SHIFT, "SHIFT"},
  }};
};

/// Per-MVM (short-term) weight noise, referred to the output.
enum class WeightNoiseType { NONE, ADDITIVE_CONSTANT, PCM_READ };

template <>
struct EnumNames<WeightNoiseType> {
  static constexpr std::array<std::pair<WeightNoiseType, std::string_view>, 3> kNames{{
      {WeightNoiseType::NONE, "NONE"},
      {WeightNoiseType::ADDITIVE_CONSTANT, "ADDITIVE_CONSTANT"},
      {WeightNoiseType::PCM_READ, "PCM_READ"},
  }};
};

struct IOParameters {
  bool is_perfect = false;                        ///< ideal float MVM (only out_scale applied)
  AnalogMVType mv_type = AnalogMVType::ONE_PASS;  ///< how the MVM is carried out
  double inp_bound = 1.0;                         ///< DAC clips inputs to +-inp_bound (normalised units)
  double inp_noise = 0.0;                         ///< std of Gaussian noise added after the DAC
  double inp_res = 1.0 / (128 - 2);               ///< DAC bin (fraction of full range) or #steps if > 1; 0 = off
  bool inp_sto_round = false;                     ///< stochastic rounding in the DAC
  double inp_asymmetry = 0.0;                     ///< negative inputs scaled by (1 - inp_asymmetry)
  double out_bound = 12.0;                        ///< ADC clips outputs to +-out_bound; 0 = no clipping
  double out_noise = 0.06;                        ///< std of Gaussian noise at each output, before the ADC
  double out_noise_std = 0.0;                     ///< relative device-to-device spread of out_noise per output
  double out_res = 1.0 / (512 - 2);               ///< ADC bin (fraction of full range) or #steps if > 1; 0 = off
  bool out_sto_round = false;                     ///< stochastic rounding in the ADC
  double out_scale = 1.0;                         ///< fixed digital factor on the outputs
  double out_asymmetry = 0.0;                     ///< negative outputs scaled by (1 - out_asymmetry)
  BoundManagementType bound_management = BoundManagementType::ITERATIVE;  ///< ADC saturation handling
  NoiseManagementType noise_management = NoiseManagementType::ABS_MAX;    ///< input scaling
  double w_noise = 0.0;                                  ///< per-MVM weight noise scale (see w_noise_type)
  WeightNoiseType w_noise_type = WeightNoiseType::NONE;  ///< kind of per-MVM weight noise
  double ir_drop = 0.0;                                  ///< IR-drop strength; 0 = off
  double ir_drop_g_ratio = 1.0 / 0.35 / 5e-6;            ///< wire conductance over g_max (aihwkit default)
  double out_nonlinearity = 0.0;                         ///< S-shaped output nonlinearity y/(1+n|y|)
  double out_nonlinearity_std = 0.0;                     ///< relative spread of the nonlinearity per output
  double slope_calibration = 0.0;                        ///< nonlinearity slope calibration point (0 = off)
  double v_offset_std = 0.0;                             ///< per-output voltage offset spread
  double v_offset_w_min = -1.0;                          ///< reference-unit offset weight
  double r_series = 0.0;                                 ///< series resistance, relative
  double w_read_asymmetry_dtod = 0.0;                    ///< polarity dependence of reads (POS_NEG modes)
  double max_bm_factor = 1000.0;                         ///< ITERATIVE bound management stops past this reduction
  double max_bm_res = 0.25;                              ///< ... or past max_bm_res / inp_res
  bool bm_test_negative_bound = true;                    ///< bound management also tests -out_bound
  double nm_thres = 0.0;                                 ///< NM threshold (ABS_MAX) or constant (CONSTANT)
  double nm_decay = 1e-3;                                ///< AVERAGE_ABS_MAX running-average rate (aihwkit C++)
  double nm_assumed_wmax = 0.6;                          ///< ABS_MAX_NP_SUM assumed max |w| (aihwkit C++)

  static constexpr std::string_view kTypeName = "IOParameters";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    constexpr Check kResolution = at_least(0.0, "0 turns the converter off; values > 1 count steps");
    field("is_perfect", self.is_perfect, kAnyValue, "ideal float MVM (only out_scale applied)");
    field("mv_type", self.mv_type, kAnyValue, "how the MVM is carried out");
    field("inp_bound", self.inp_bound, kPositive, "DAC clips inputs to +-inp_bound (normalised units)");
    field("inp_noise", self.inp_noise, kNonNegative, "std of Gaussian noise added after the DAC");
    field("inp_res", self.inp_res, kResolution, "DAC bin (fraction of full range) or #steps if > 1; 0 = off");
    field("inp_sto_round", self.inp_sto_round, kAnyValue, "stochastic rounding in the DAC");
    field("inp_asymmetry", self.inp_asymmetry, between(-1.0, 1.0), "negative inputs scaled by (1 - inp_asymmetry)");
    field("out_bound", self.out_bound, at_least(0.0, "0 means no clipping"), "ADC clips outputs to +-out_bound; 0 = no clipping");
    field("out_noise", self.out_noise, kNonNegative, "std of Gaussian noise at each output, before the ADC");
    field("out_noise_std", self.out_noise_std, kNonNegative, "relative device-to-device spread of out_noise per output");
    field("out_res", self.out_res, kResolution, "ADC bin (fraction of full range) or #steps if > 1; 0 = off");
    field("out_sto_round", self.out_sto_round, kAnyValue, "stochastic rounding in the ADC");
    field("out_scale", self.out_scale, kAnyValue, "fixed digital factor on the outputs");
    field("out_asymmetry", self.out_asymmetry, between(-1.0, 1.0), "negative outputs scaled by (1 - out_asymmetry)");
    field("bound_management", self.bound_management, kAnyValue, "ADC saturation handling");
    field("noise_management", self.noise_management, kAnyValue, "input scaling");
    field("w_noise", self.w_noise, kNonNegative, "per-MVM weight noise scale (see w_noise_type)");
    field("w_noise_type", self.w_noise_type, kAnyValue, "kind of per-MVM weight noise");
    field("ir_drop", self.ir_drop, kNonNegative, "IR-drop strength; 0 = off");
    field("ir_drop_g_ratio", self.ir_drop_g_ratio, kPositive, "wire conductance over g_max (aihwkit default)");
    field("out_nonlinearity", self.out_nonlinearity, kNonNegative, "S-shaped output nonlinearity y/(1+n|y|)");
    field("out_nonlinearity_std", self.out_nonlinearity_std, kNonNegative, "relative spread of the nonlinearity per output");
    field("slope_calibration", self.slope_calibration, kNonNegative, "nonlinearity slope calibration point (0 = off)");
    field("v_offset_std", self.v_offset_std, kNonNegative, "per-output voltage offset spread");
    field("v_offset_w_min", self.v_offset_w_min, kAnyValue, "reference-unit offset weight");
    field("r_series", self.r_series, kNonNegative, "series resistance, relative");
    field("w_read_asymmetry_dtod", self.w_read_asymmetry_dtod, kNonNegative, "polarity dependence of reads (POS_NEG modes)");
    field("max_bm_factor", self.max_bm_factor, at_least(1.0), "ITERATIVE bound management stops past this reduction");
    field("max_bm_res", self.max_bm_res, kPositive, "... or past max_bm_res / inp_res");
    field("bm_test_negative_bound", self.bm_test_negative_bound, kAnyValue, "bound management also tests -out_bound");
    field("nm_thres", self.nm_thres, kNonNegative, "NM threshold (ABS_MAX) or constant (CONSTANT)");
    field("nm_decay", self.nm_decay, kProbability, "AVERAGE_ABS_MAX running-average rate (aihwkit C++)");
    field("nm_assumed_wmax", self.nm_assumed_wmax, kPositive, "ABS_MAX_NP_SUM assumed max |w| (aihwkit C++)");
  }
  bool operator==(const IOParameters&) const = default;
};

}  // namespace tessera::parameters
