// Turning a float model into the model a sweep point runs: quantization first, then analog
// tiles, each on the modules its section claims.
#pragma once

#include <cstdint>

#include "tessera/experiments/sweep_spec.hpp"
#include "tessera/nn/conversion.hpp"

namespace tessera::experiments {

/// Converts `float_model` for `hardware` with noise seed `seed`. Throws nn::ModelError naming
/// the module when the analog and quantization sections both claim it, or when a section
/// names a module the model does not have. `report` gets one entry per module.
nn::Model convert_for_hardware(const nn::Model& float_model, const Hardware& hardware, std::uint64_t seed,
                               nn::ConversionReport* report = nullptr);

}  // namespace tessera::experiments
