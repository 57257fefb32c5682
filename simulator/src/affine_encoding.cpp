#include "tessera/simulator/affine_encoding.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace tessera::simulator {

QuantGrid make_grid(int bitwidth, bool is_signed) {
  if (bitwidth < 1 || bitwidth > 32) {
    throw std::invalid_argument("bitwidth must be in [1, 32] (above 16 only for accumulators), got " +
                                std::to_string(bitwidth));
  }
  const std::int64_t levels = std::int64_t{1} << bitwidth;
  if (is_signed) return {-levels / 2, levels / 2 - 1};
  return {0, levels - 1};
}

Encoding encoding_from_range(ClipRange range, const QuantGrid& grid, bool symmetric) {
  const double min = std::min(range.min, 0.0);
  const double max = std::max(range.max, 0.0);
  const double steps = static_cast<double>(grid.num_steps());
  // Same floor as torch's observers: a zero-width range must not give a zero scale.
  const float scale = std::max(static_cast<float>((max - min) / steps), std::numeric_limits<float>::epsilon());
  if (symmetric) {
    const std::int64_t zero_point = grid.qmin < 0 ? 0 : (grid.qmin + grid.qmax + 1) / 2;
    return {scale, zero_point};
  }
  const double unclamped = static_cast<double>(grid.qmin) - std::nearbyint(min / static_cast<double>(scale));
  const double zero_point = std::clamp(unclamped, static_cast<double>(grid.qmin), static_cast<double>(grid.qmax));
  return {scale, static_cast<std::int64_t>(zero_point)};
}

ClipRange range_from_encoding(const Encoding& encoding, const QuantGrid& grid) {
  const double scale = encoding.scale;
  return {scale * static_cast<double>(grid.qmin - encoding.zero_point),
          scale * static_cast<double>(grid.qmax - encoding.zero_point)};
}

ClipRange adjust_range_for_grid(ClipRange range, const QuantGrid& grid, bool symmetric) {
  double min = std::min(range.min, 0.0);
  double max = std::max(range.max, 0.0);
  const double steps = static_cast<double>(grid.num_steps());
  const double epsilon = std::numeric_limits<float>::epsilon();
  if (symmetric) {
    const double num_positive = std::floor(steps / 2.0);
    const double num_negative = std::ceil(steps / 2.0);
    double delta = std::max(max / std::max(num_positive, 1.0), -min / num_negative);
    delta = std::max(delta, epsilon);
    return {-num_negative * delta, num_positive * delta};
  }
  if ((max - min) / steps < epsilon) max = min + steps * epsilon;
  return {min, max};
}

}  // namespace tessera::simulator
