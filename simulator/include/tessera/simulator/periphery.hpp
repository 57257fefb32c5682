// Element-wise physics of a tile's periphery (DAC and ADC), written once for host and device.
// Resolutions follow aihwkit: `res` < 1 is a bin width as a fraction of the full range
// [-bound, bound]; res > 1 is a number of steps (converted to 1 / res); res <= 0 turns the
// converter off. The bin width is then res * 2 * bound.
#pragma once

#include <cmath>

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
TESSERA_HOST_DEVICE inline float round_to_bin(float value, float bin, bool stochastic, float uniform) {
  if (bin <= 0.0f) return value;
  const float steps = value * (1.0f / bin);  // the reciprocal is hoisted out of loops
  return (stochastic ? std::floor(steps + uniform) : std::nearbyint(steps)) * bin;
}

/// Clips to [-bound, bound]; bound <= 0 means no clipping.
TESSERA_HOST_DEVICE inline float clip_to_bound(float value, float bound) {
  if (bound <= 0.0f) return value;
  return value > bound ? bound : (value < -bound ? -bound : value);
}

/// Scales negative values by (1 - asymmetry).
TESSERA_HOST_DEVICE inline float apply_asymmetry(float value, float asymmetry) {
  return value < 0.0f ? value * (1.0f - asymmetry) : value;
}

}  // namespace tessera::simulator
