// Weights <-> device conductances (aihwkit's inference/converter). N pairs of devices per weight
// with significance f_k: with scale = sum_k f_k (g_max - g_min) / max|W| and w_us = scale w,
// pair k holds g+ = clamp((max(w_us, 0) - L_k) / f_k + g_min, g_min, g_max) (g- likewise for
// -w_us), L_k = sum_{l<k} f_l (g_max - g_min): a more significant pair is used only once the
// lower ones are full. Back: w = sum_k f_k (g+_k - g-_k) / scale. The single-pair converter is
// the case f = [1].
#pragma once

#include <span>
#include <vector>

#include "tessera/parameters/conductance_converters.hpp"

namespace tessera::simulator {

class ConductanceConverter {
 public:
  explicit ConductanceConverter(const parameters::ConductanceConverter& config);

  double g_max() const { return g_max_; }
  double g_min() const { return g_min_; }
  /// Devices per weight: 2 per pair.
  int devices_per_weight() const { return 2 * static_cast<int>(significance_.size()); }

  /// Conductances of `weights`, device-major: device d of weight n at [d * weights.size() + n]
  /// (d = 2k for g+ of pair k, 2k + 1 for g-). Returns the scale (uS per weight unit).
  double to_conductances(std::span<const float> weights, std::vector<float>& conductances) const;
  /// Weights from conductances laid out as above.
  void to_weights(std::span<const float> conductances, double scale, std::span<float> weights) const;

 private:
  std::vector<double> significance_;
  double g_max_;
  double g_min_;
};

}  // namespace tessera::simulator
