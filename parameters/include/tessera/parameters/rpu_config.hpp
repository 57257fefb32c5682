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
    field("forward", self.forward);
    field("noise_model", self.noise_model);
    field("drift_compensation", self.drift_compensation);
    field("clip", self.clip);
    field("remap", self.remap);
    field("modifier", self.modifier);
    field("mapping", self.mapping);
    field("pre_post", self.pre_post);
  }
  bool operator==(const InferenceRPUConfig&) const = default;
};

}  // namespace tessera::parameters
