#include "tessera/simulator/weight_clip.hpp"

#include <algorithm>
#include <cmath>

namespace tessera::simulator {
namespace {

using parameters::WeightClipType;
using parameters::WeightRemapType;

double row_abs_max(const Tensor& weights, std::int64_t row) {
  const std::int64_t columns = weights.dim(1);
  double largest = 0.0;
  for (std::int64_t j = 0; j < columns; ++j) largest = std::max(largest, std::abs(double{weights[row * columns + j]}));
  return largest;
}

}  // namespace

double weight_clip_bound(const Tensor& weights, const parameters::WeightClipParameter& clip) {
  const std::int64_t count = weights.size();
  switch (clip.type) {
    case WeightClipType::NONE:
      return -1.0;
    case WeightClipType::FIXED_VALUE:
      return clip.fixed_value > 0.0 ? clip.fixed_value : -1.0;
    case WeightClipType::LAYER_GAUSSIAN: {
      if (count < 2) return -1.0;
      double mean = 0.0;
      for (std::int64_t k = 0; k < count; ++k) mean += weights[k];
      mean /= static_cast<double>(count);
      double squares = 0.0;
      for (std::int64_t k = 0; k < count; ++k) squares += (weights[k] - mean) * (weights[k] - mean);
      const double bound = clip.sigma * std::sqrt(squares / static_cast<double>(count - 1));
      return clip.fixed_value > 0.0 ? std::min(bound, clip.fixed_value) : bound;
    }
    case WeightClipType::AVERAGE_CHANNEL_MAX: {
      const std::int64_t rows = weights.dim(0);
      double sum = 0.0;
      for (std::int64_t i = 0; i < rows; ++i) sum += row_abs_max(weights, i);
      return rows > 0 ? sum / static_cast<double>(rows) : -1.0;
    }
  }
  return -1.0;
}

void clip_weights(Tensor& weights, const parameters::WeightClipParameter& clip) {
  const double bound = weight_clip_bound(weights, clip);
  if (bound < 0.0) return;
  const auto limit = static_cast<float>(bound);
  for (float& w : weights.values()) w = std::clamp(w, -limit, limit);
}

std::vector<float> remap_weights(Tensor& weights, const parameters::WeightRemapParameter& remap) {
  const std::int64_t rows = weights.dim(0);
  const std::int64_t columns = weights.dim(1);
  std::vector<float> factors(static_cast<std::size_t>(rows), 1.0f);
  if (remap.type == WeightRemapType::NONE) return factors;

  std::vector<double> row_max(static_cast<std::size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i) row_max[static_cast<std::size_t>(i)] = row_abs_max(weights, i);
  if (remap.type == WeightRemapType::LAYERWISE_SYMMETRIC) {
    const double largest = rows > 0 ? *std::max_element(row_max.begin(), row_max.end()) : 0.0;
    std::fill(row_max.begin(), row_max.end(), largest);
  }
  std::vector<double> scales(row_max.size());
  for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = row_max[i] > 0.0 ? row_max[i] / remap.remapped_wmax : 0.0;
  if (remap.type == WeightRemapType::CHANNELWISE_SYMMETRIC && remap.max_scale_range > 0.0 && rows > 0) {
    const double reference =
        remap.max_scale_ref > 0.0 ? remap.max_scale_ref : *std::max_element(scales.begin(), scales.end());
    for (double& scale : scales) {
      if (scale > 0.0) scale = std::max(scale, reference / remap.max_scale_range);
    }
  }
  for (std::int64_t i = 0; i < rows; ++i) {
    const double scale = scales[static_cast<std::size_t>(i)];
    if (scale <= 0.0) continue;  // a row of zeros stays as it is
    for (std::int64_t j = 0; j < columns; ++j) {
      weights[i * columns + j] = static_cast<float>(weights[i * columns + j] / scale);
    }
    factors[static_cast<std::size_t>(i)] = static_cast<float>(scale);
  }
  return factors;
}

}  // namespace tessera::simulator
