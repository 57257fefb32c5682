#include "tessera/simulator/noise/conductance_converter.hpp"

#include <algorithm>
#include <cmath>
#include <variant>

namespace tessera::simulator {
namespace {
constexpr double kZeroClip = 1e-7;  // aihwkit's _ZERO_CLIP: smallest max|W| used for scaling
}

ConductanceConverter::ConductanceConverter(const parameters::ConductanceConverter& config) {
  std::visit(
      [this](const auto& converter) {
        using Converter = std::decay_t<decltype(converter)>;
        if constexpr (std::is_same_v<Converter, parameters::SinglePairConductanceConverter>) {
          significance_ = {1.0};
        } else {
          significance_ = converter.f_lst;
        }
        g_max_ = converter.g_max;
        g_min_ = converter.g_min;
      },
      config);
}

// Both directions multiply by reciprocals (a division per device was most of their time) and
// keep the per-device loops free of calls and branches so that they vectorise.
double ConductanceConverter::to_conductances(std::span<const float> weights, std::vector<float>& conductances) const {
  const std::size_t count = weights.size();
  float largest = 0.0f;
#pragma omp simd reduction(max : largest)
  for (std::size_t n = 0; n < count; ++n) largest = std::max(largest, std::abs(weights[n]));
  const auto max_abs = static_cast<double>(largest);
  const double range = g_max_ - g_min_;
  double full_scale = 0.0;
  for (double f : significance_) full_scale += f * range;
  const double scale = full_scale / std::max(max_abs, kZeroClip);
  conductances.resize(count * significance_.size() * 2);  // every element is written below
  const double g_min = g_min_, g_max = g_max_;
  const float* w = weights.data();
  double lower_bound = 0.0;
  for (std::size_t k = 0; k < significance_.size(); ++k) {
    float* plus = conductances.data() + (2 * k) * count;
    float* minus = conductances.data() + (2 * k + 1) * count;
    const double inverse_significance = 1.0 / significance_[k];
    const double offset = lower_bound;
#pragma omp parallel for simd schedule(static) if (count > (1 << 16))
    for (std::size_t n = 0; n < count; ++n) {
      const double w_us = scale * static_cast<double>(w[n]);
      const double g_plus = ((w_us > 0.0 ? w_us : 0.0) - offset) * inverse_significance + g_min;
      const double g_minus = ((w_us < 0.0 ? -w_us : 0.0) - offset) * inverse_significance + g_min;
      plus[n] = static_cast<float>(g_plus < g_min ? g_min : (g_plus > g_max ? g_max : g_plus));
      minus[n] = static_cast<float>(g_minus < g_min ? g_min : (g_minus > g_max ? g_max : g_minus));
    }
    lower_bound += significance_[k] * range;
  }
  return scale;
}

void ConductanceConverter::to_weights(std::span<const float> conductances, double scale,
                                      std::span<float> weights) const {
  const std::size_t count = weights.size();
  const double inverse_scale = 1.0 / scale;
  constexpr std::size_t kChunk = 1024;  // devices per step: the pair sums stay in L1
  const auto chunks = static_cast<std::int64_t>((count + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
    const std::size_t first = static_cast<std::size_t>(chunk) * kChunk;
    const std::size_t length = std::min(kChunk, count - first);
    double sums[kChunk] = {};
    for (std::size_t k = 0; k < significance_.size(); ++k) {
      const float* plus = conductances.data() + (2 * k) * count + first;
      const float* minus = conductances.data() + (2 * k + 1) * count + first;
      const double significance = significance_[k];
      for (std::size_t n = 0; n < length; ++n) {
        sums[n] += significance * (static_cast<double>(plus[n]) - static_cast<double>(minus[n]));
      }
    }
    for (std::size_t n = 0; n < length; ++n) weights[first + n] = static_cast<float>(sums[n] * inverse_scale);
  }
}

}  // namespace tessera::simulator
