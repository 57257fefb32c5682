// Element-wise physics of a tile's periphery, written once for host and device: each step of
// the forward pass (DAC, IR drop, weight and output noise, ADC, the digital finish) is one
// function of one element, which the CPU backend's loops and the CUDA kernels both call, so the
// two cannot compute a step differently.
// Resolutions follow aihwkit: `res` < 1 is a bin width as a fraction of the full range
// [-bound, bound]; res > 1 is a number of steps (converted to 1 / res); res <= 0 turns the
// converter off. The bin width is then res * 2 * bound.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "tessera/simulator/philox.hpp"

namespace tessera::simulator {

/// A resolution as a fraction of the full range (res, or 1 / res for a number of steps), or 0
/// when the converter is off.
TESSERA_HOST_DEVICE inline double resolution_fraction(double res) {
  return res <= 0.0 ? 0.0 : (res > 1.0 ? 1.0 / res : res);
}

/// Width of one converter bin, or 0 when the converter is off.
TESSERA_HOST_DEVICE inline float converter_bin(double res, double bound) {
  const double fraction = resolution_fraction(res);
  return static_cast<float>(bound > 0.0 ? fraction * 2.0 * bound : fraction);
}

/// Rounds to the converter grid: to nearest (half to even) or, with stochastic rounding, down
/// after adding a uniform in (0, 1) (so x rounds up with probability frac(x / bin)).
/// These steps select rather than branch (both sides are cheap), so that loops over elements
/// vectorise.
TESSERA_HOST_DEVICE inline float round_to_bin(float value, float bin, bool stochastic, float uniform) {
  const float steps = value * (1.0f / bin);  // the reciprocal is hoisted out of loops
  const float down = floor_float(steps + uniform), nearest = round_nearest_even(steps);
  const float level = (stochastic ? down : nearest) * bin;
  return bin > 0.0f ? level : value;
}

/// Clips to [-bound, bound]; bound <= 0 means no clipping.
TESSERA_HOST_DEVICE inline float clip_to_bound(float value, float bound) {
  const float clipped = value > bound ? bound : (value < -bound ? -bound : value);
  return bound > 0.0f ? clipped : value;
}

/// Scales negative values by (1 - asymmetry).
TESSERA_HOST_DEVICE inline float apply_asymmetry(float value, float asymmetry) {
  return value < 0.0f ? value * (1.0f - asymmetry) : value;
}

/// |x| as its bit pattern: for non-negative floats the order of the patterns is the order of
/// the values, so an integer max over them is max |x| (and vectorises where a float max
/// reduction does not); NaN and Inf come through as themselves.
TESSERA_HOST_DEVICE inline std::uint32_t magnitude_bits(float x) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  return bits & 0x7fffffffu;
}

TESSERA_HOST_DEVICE inline float float_from_bits(std::uint32_t bits) {
  float value = 0.0f;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// ---- the steps of one bound-management round, in the order the forward pass runs them ----

/// The DAC: inputs already scaled by noise and bound management.
struct DacSettings {
  float bin = 0.0f;        ///< converter_bin(inp_res, inp_bound)
  float bound = 0.0f;      ///< inp_bound
  float asymmetry = 0.0f;  ///< inp_asymmetry
  float noise = 0.0f;      ///< inp_noise: std of the Gaussian added after the converter
  bool stochastic = false;  ///< inp_sto_round
};

/// One input through the DAC: rounded (stochastically with `uniform`), clipped, input noise
/// (`normal`), then the asymmetry of negative inputs. Unused draws may be anything.
TESSERA_HOST_DEVICE inline float dac(float scaled_input, const DacSettings& s, float uniform, float normal) {
  float v = clip_to_bound(round_to_bin(scaled_input, s.bin, s.stochastic, uniform), s.bound);
  v = s.noise > 0.0f ? v + s.noise * normal : v;
  return apply_asymmetry(v, s.asymmetry);  // the identity for asymmetry 0 (v * 1 is v)
}

/// aihwkit's IR drop weighs input j of n by how far along the row it sits: 1 - (1 - j / n)^2.
TESSERA_HOST_DEVICE inline float ir_drop_position(std::int64_t j, std::int64_t n) {
  const float distance = 1.0f - static_cast<float>(j) / static_cast<float>(n);
  return 1.0f - distance * distance;
}

struct IrDropSettings {
  float current_scale = 0.0f;  ///< in_size / ir_drop_g_ratio
  float strength = 0.0f;       ///< ir_drop; 0 = off
};

/// aihwkit's IR-drop model: the current drawn along a row lowers the voltage the inputs see,
/// more for inputs further from the driver. Per output i, with current = sum_j |w_ij| |v_j| and
/// positioned = sum_j w_ij v_j ir_drop_position(j):
///   a = current_scale * current,  c = a (a (0.05 a - 0.2) + 0.5),  y -= strength c positioned
TESSERA_HOST_DEVICE inline float ir_drop(float y, float current, float positioned, const IrDropSettings& s) {
  const float a = s.current_scale * current;
  const float cubic = a * (a * (0.05f * a - 0.2f) + 0.5f);
  return y - s.strength * cubic * positioned;
}

/// Which noise reaches an output between the MVM and the ADC.
struct NoiseSettings {
  float w_noise_squared = 0.0f;  ///< w_noise^2
  float out_asymmetry = 0.0f;
  bool pcm_read = false;         ///< per-MVM weight noise, variance w_noise^2 sum_j |w_ij| v_j^2
  bool additive = false;         ///< per-MVM weight noise, variance w_noise^2 sum_j v_j^2
  bool output_noise = false;     ///< out_noise > 0
  bool nonlinear = false;        ///< an output nonlinearity or asymmetry between the noises

  TESSERA_HOST_DEVICE bool weight_noise() const { return pcm_read || additive; }
  /// With nothing nonlinear between them, weight and output noise are two independent
  /// Gaussians on the same output: one draw with the summed variance has their distribution.
  TESSERA_HOST_DEVICE bool combined() const { return !nonlinear; }
  TESSERA_HOST_DEVICE bool any() const { return weight_noise() || output_noise || nonlinear; }
  /// The second draw is needed only when the noises are not combined and there is output noise.
  TESSERA_HOST_DEVICE bool second_draw() const { return !combined() && output_noise; }
  TESSERA_HOST_DEVICE bool first_draw() const { return combined() ? (weight_noise() || output_noise) : weight_noise(); }
};

/// Weight noise, nonlinearity and asymmetry, output noise on one output. `weight_variance` is
/// the per-MVM weight noise variance (w_noise^2 times its sum), `sigma_out` the output's
/// out_noise, `nonlinearity` its n of y / (1 + n |y|); z_first and z_second are its standard
/// normals (z_first the combined one when the noises combine).
TESSERA_HOST_DEVICE inline float analog_noise(float y, float weight_variance, float sigma_out, float nonlinearity,
                                             float z_first, float z_second, const NoiseSettings& s) {
  if (s.combined()) {
    const float sigma = s.weight_noise() ? std::sqrt(weight_variance + sigma_out * sigma_out) : sigma_out;
    return y + sigma * z_first;
  }
  if (s.weight_noise()) y += std::sqrt(weight_variance) * z_first;
  y /= 1.0f + nonlinearity * std::fabs(y);  // exact when n = 0 (a division by 1)
  if (s.out_asymmetry != 0.0f) y = apply_asymmetry(y, s.out_asymmetry);
  if (s.output_noise) y += sigma_out * z_second;
  return y;
}

/// The ADC.
struct AdcSettings {
  float bin = 0.0f;         ///< converter_bin(out_res, out_bound)
  float bound = 0.0f;       ///< out_bound; <= 0: no clipping, no saturation test
  float lower = 0.0f;       ///< the negative saturation test: -bound, or -inf without bm_test_negative_bound
  bool stochastic = false;  ///< out_sto_round
};

/// One output through the ADC: rounded, then clipped; `saturated` says whether the level lay
/// beyond the bound (the test bound management makes).
TESSERA_HOST_DEVICE inline float adc(float y, const AdcSettings& s, float uniform, bool& saturated) {
  const float level = round_to_bin(y, s.bin, s.stochastic, uniform);
  saturated = s.bound > 0.0f && (level > s.bound || level < s.lower);
  return clip_to_bound(level, s.bound);
}

/// The digital steps after the ADC: the rescale of noise and bound management, the output's
/// factor (out_scale, weight mapping, drift compensation), then its bias if there is one.
TESSERA_HOST_DEVICE inline float finish_output(float y, float scale, float factor, const float* bias) {
  const float value = y * scale * factor;
  return bias != nullptr ? value + *bias : value;
}

/// Everything the element steps of one tile need, derived once from its IOParameters.
struct PeripherySettings {
  DacSettings dac;
  IrDropSettings ir_drop;
  NoiseSettings noise;
  AdcSettings adc;
};

}  // namespace tessera::simulator
