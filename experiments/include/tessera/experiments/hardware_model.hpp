// Turning a float model into the model a sweep point runs: quantization first, then analog
// tiles, each on the modules its section claims.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/experiments/sweep_spec.hpp"
#include "tessera/nn/conversion.hpp"

namespace tessera::experiments {

/// The float model after the graph passes `hardware` asks for that keep its function (BatchNorm
/// folding; cross-layer equalization, which keeps it up to AIMET's ReLU6 -> ReLU): the model
/// convert_for_hardware converts, and the float reference a layer's SNR is measured against (the
/// unfolded model's conv outputs are not the folded layer's).
nn::Model reference_for_hardware(const nn::Model& float_model, const Hardware& hardware);

/// Converts `float_model` for `hardware` with noise seed `seed`: the quantization section's plan,
/// then the analog section's on top (activation quantizers stay around analog layers). Throws
/// nn::ModelError naming the module when both sections claim its weights, or when a section
/// names a module or type the model does not have. `plan` gets the whole plan.
nn::Model convert_for_hardware(const nn::Model& float_model, const Hardware& hardware, std::uint64_t seed,
                               nn::ConversionPlan* plan = nullptr);

/// `hardware` with every module of `converted` but `keep` left digital (added to the analog
/// section's exclude and the quantization map's excluded_modules): the hardware of "only this
/// layer simulated", whose tiles draw the same noise as in the whole model (streams are named
/// after the module). Ancestors of `keep` are not excluded.
Hardware only_module(const Hardware& hardware, const std::string& keep, const std::vector<std::string>& converted);

/// `hardware` with `left_out` (and its subtree) left digital: "everything but this layer".
Hardware all_but_module(const Hardware& hardware, const std::string& left_out);

}  // namespace tessera::experiments
