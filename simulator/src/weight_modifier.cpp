#include "tessera/simulator/weight_modifier.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "tessera/simulator/periphery.hpp"

namespace tessera::simulator {
namespace {

using parameters::WeightModifierType;

double polynomial(const std::vector<double>& coeffs, double x) {
  double value = 0.0;
  double power = 1.0;
  for (double c : coeffs) {
    value += c * power;
    power *= x;
  }
  return value;
}

}  // namespace

bool modifies_weights(const parameters::WeightModifierParameter& modifier) {
  return modifier.type != WeightModifierType::NONE || modifier.pdrop > 0.0;
}

void modify_weights(const Tensor& weights, Tensor& out, const parameters::WeightModifierParameter& modifier,
                    const RandomStream& stream) {
  if (modifier.per_batch_sample) {
    throw std::invalid_argument("modifier.per_batch_sample = true is not simulated yet (one modification per forward)");
  }
  out = weights;
  if (!modifies_weights(modifier)) return;
  const std::int64_t rows = weights.dim(0);
  const std::int64_t columns = weights.dim(1);
  const std::int64_t modified_columns = modifier.copy_last_column ? columns - 1 : columns;
  auto is_modified = [&](std::int64_t k) { return k % columns < modified_columns; };

  double amax = modifier.assumed_wmax;
  if (modifier.rel_to_actual_wmax) {
    amax = 0.0;
    for (std::int64_t k = 0; k < weights.size(); ++k) {
      if (is_modified(k)) amax = std::max(amax, std::abs(double{weights[k]}));
    }
  }
  if (amax <= 0.0) amax = 1.0;  // all-zero weights: any scale gives the same result

  // Draw only what this modifier uses: it runs on every training forward.
  const WeightModifierType type = modifier.type;
  const bool discretizes = type == WeightModifierType::DISCRETIZE ||
                           type == WeightModifierType::DISCRETIZE_ADD_NORMAL || type == WeightModifierType::DOREFA;
  const bool adds_noise = type != WeightModifierType::NONE && type != WeightModifierType::DROP_CONNECT &&
                          type != WeightModifierType::DISCRETIZE && type != WeightModifierType::DOREFA;
  const auto count = static_cast<std::size_t>(rows * columns);
  auto draws = [&](bool needed, const char* purpose, bool normal) {
    std::vector<float> values(needed ? count : 0);
    if (normal) {
      stream.derive(purpose).fill_normal(values);
    } else {
      stream.derive(purpose).fill_uniform(values);
    }
    return values;
  };
  const std::vector<float> normals = draws(adds_noise, "normal", true);
  const std::vector<float> uniforms = draws(discretizes && modifier.sto_round, "uniform", false);
  const std::vector<float> drops = draws(modifier.pdrop > 0.0, "drop", false);

  auto discretize = [&](double w, double range, std::size_t k) {
    const float bin = converter_bin(modifier.res, range);
    return double{round_to_bin(static_cast<float>(w), bin, modifier.sto_round, uniforms.empty() ? 0.0f : uniforms[k])};
  };
  const double std_dev = modifier.std_dev;
  for (std::int64_t k = 0; k < weights.size(); ++k) {
    if (!is_modified(k)) continue;
    const auto index = static_cast<std::size_t>(k);
    const double w = weights[k];
    const double xi = normals.empty() ? 0.0 : normals[index];
    double value = w;
    switch (modifier.type) {
      case WeightModifierType::NONE:
      case WeightModifierType::DROP_CONNECT:
        break;
      case WeightModifierType::DISCRETIZE:
        value = discretize(w, amax, index);
        break;
      case WeightModifierType::ADD_NORMAL:
        value = w + std_dev * amax * xi;
        break;
      case WeightModifierType::MULT_NORMAL:
        value = w * (1.0 + std_dev * xi);
        break;
      case WeightModifierType::DISCRETIZE_ADD_NORMAL:
        value = discretize(w, amax, index) + std_dev * amax * xi;
        break;
      case WeightModifierType::DOREFA:
        value =
            discretize(std::tanh(w) * std::abs(modifier.dorefa_clip / std::tanh(amax)), modifier.dorefa_clip, index);
        break;
      case WeightModifierType::POLY:
        value = w + amax * std_dev * polynomial(modifier.coeffs, std::abs(w) / amax) * xi;
        break;
      case WeightModifierType::PROG_NOISE: {
        const double g = std::abs(w) / amax * modifier.g_max;
        const double noisy = w + amax * std_dev / modifier.g_max * polynomial(modifier.coeffs, g) * xi;
        value = std::copysign(std::abs(noisy), w);
        break;
      }
    }
    if (!drops.empty() && drops[index] < modifier.pdrop) value = 0.0;
    out[k] = static_cast<float>(value);
  }
}

}  // namespace tessera::simulator
