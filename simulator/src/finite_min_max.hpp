// Smallest and largest finite value of a batch, shared by the range estimators.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <span>

#include "tessera/simulator/affine_encoding.hpp"

namespace tessera::simulator {

/// nullopt when the batch holds no finite value.
inline std::optional<ClipRange> finite_min_max(std::span<const float> values) {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  for (float value : values) {
    if (!std::isfinite(value)) continue;
    min = std::min(min, static_cast<double>(value));
    max = std::max(max, static_cast<double>(value));
  }
  if (min > max) return std::nullopt;
  return ClipRange{min, max};
}

}  // namespace tessera::simulator
