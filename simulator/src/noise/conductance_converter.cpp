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

double ConductanceConverter::to_conductances(std::span<const float> weights, std::vector<float>& conductances) const {
  const std::size_t count = weights.size();
  double max_abs = 0.0;
  for (float w : weights) max_abs = std::max(max_abs, static_cast<double>(std::abs(w)));
  const double range = g_max_ - g_min_;
  double full_scale = 0.0;
  for (double f : significance_) full_scale += f * range;
  const double scale = full_scale / std::max(max_abs, kZeroClip);
  conductances.assign(count * significance_.size() * 2, 0.0f);
  double lower_bound = 0.0;
  for (std::size_t k = 0; k < significance_.size(); ++k) {
    float* plus = conductances.data() + (2 * k) * count;
    float* minus = conductances.data() + (2 * k + 1) * count;
#pragma omp parallel for schedule(static) if (count > (1 << 16))
    for (std::size_t n = 0; n < count; ++n) {
      const double w_us = scale * weights[n];
      plus[n] = static_cast<float>(
          std::clamp((std::max(w_us, 0.0) - lower_bound) / significance_[k] + g_min_, g_min_, g_max_));
      minus[n] = static_cast<float>(
          std::clamp((std::max(-w_us, 0.0) - lower_bound) / significance_[k] + g_min_, g_min_, g_max_));
    }
    lower_bound += significance_[k] * range;
  }
  return scale;
}

void ConductanceConverter::to_weights(std::span<const float> conductances, double scale,
                                      std::span<float> weights) const {
  const std::size_t count = weights.size();
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (std::size_t n = 0; n < count; ++n) {
    double sum = 0.0;
    for (std::size_t k = 0; k < significance_.size(); ++k) {
      sum += significance_[k] *
             (static_cast<double>(conductances[(2 * k) * count + n]) - conductances[(2 * k + 1) * count + n]);
    }
    weights[n] = static_cast<float>(sum / scale);
  }
}

}  // namespace tessera::simulator
