// Long-term device noise on conductances (uS): programming noise once, then drift and
// accumulated 1/f read noise at an inference time. One implementation per config type of
// parameters::NoiseModel; all draws come from the given stream, element n of a span from
// counter n, so results are independent of threads.
#pragma once

#include <memory>
#include <span>

#include "tessera/parameters/noise_models.hpp"
#include "tessera/simulator/random_stream.hpp"

namespace tessera::simulator {

class DeviceNoiseModel {
 public:
  virtual ~DeviceNoiseModel() = default;
  /// The converter config (g_max, g_min, pairs) the model's formulas refer to.
  virtual const parameters::ConductanceConverter& converter() const = 0;
  /// Programmed conductances from target conductances.
  virtual void program(std::span<const float> target, std::span<float> programmed,
                       const RandomStream& stream) const = 0;
  /// Per-device drift parameters, drawn once at programming from the targets.
  virtual void drift_coefficients(std::span<const float> target, std::span<float> coefficients,
                                  const RandomStream& stream) const = 0;
  /// Conductances t_inference seconds after programming (drift + read noise since programming).
  virtual void drift(std::span<const float> programmed, std::span<const float> coefficients, double t_inference,
                     std::span<float> conductances, const RandomStream& stream) const = 0;
};

/// The model for a config; throws std::invalid_argument for unusable settings.
std::unique_ptr<DeviceNoiseModel> make_device_noise_model(const parameters::NoiseModel& config);

}  // namespace tessera::simulator
