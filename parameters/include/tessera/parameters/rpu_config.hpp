// InferenceRPUConfig: everything that describes one analog tile for inference and
// hardware-aware training, with aihwkit's field names and defaults.
#pragma once

#include <string_view>

#include "tessera/parameters/drift_compensation.hpp"
#include "tessera/parameters/io.hpp"
#include "tessera/parameters/mapping.hpp"
#include "tessera/parameters/noise_models.hpp"

namespace tessera::parameters {

struct InferenceRPUConfig {
  IOParameters forward{};                                           ///< periphery of the forward MVM
  NoiseModel noise_model{PCMLikeNoiseModel{}};                      ///< programming noise, drift, read noise
  DriftCompensation drift_compensation{GlobalDriftCompensation{}};  ///< drift compensation
  WeightClipParameter clip{};                                       ///< weight clipping (training)
  WeightRemapParameter remap{};                                     ///< weight remapping (training)
  WeightModifierParameter modifier{};                               ///< weight noise injection (training)
  MappingParameter mapping{};                                       ///< tile sizes, bias, weight scaling
  PrePostProcessingParameter pre_post{};                            ///< input range

  static constexpr std::string_view kTypeName = "InferenceRPUConfig";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("forward", self.forward, kAnyValue, "periphery of the forward MVM");
    field("noise_model", self.noise_model, kAnyValue, "programming noise, drift, read noise");
    field("drift_compensation", self.drift_compensation, kAnyValue, "drift compensation");
    field("clip", self.clip, kAnyValue, "weight clipping (training)");
    field("remap", self.remap, kAnyValue, "weight remapping (training)");
    field("modifier", self.modifier, kAnyValue, "weight noise injection (training)");
    field("mapping", self.mapping, kAnyValue, "tile sizes, bias, weight scaling");
    field("pre_post", self.pre_post, kAnyValue, "input range");
  }
  bool operator==(const InferenceRPUConfig&) const = default;
};

}  // namespace tessera::parameters
