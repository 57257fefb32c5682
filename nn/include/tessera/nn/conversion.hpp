// Converting a model layer by layer (ARCHITECTURE.md decisions 5-7, 9): each conversion adds
// to the model's ConversionPlan (conversion_plan.hpp) and the model builds the layers it says:
//   convert_to_analog     Linear/Gemm, constant-weight MatMul (attention projections), Conv1d/2d/3d
//                         (grouped too) and the W/R products of LSTM/GRU/RNN on tile arrays.
//   convert_to_quantized  a QuantizationMap decides, per module: excluded_modules (prunes the
//                         subtree) > instance_qconfig_map (by name) > module_qconfig_map (by
//                         type) > unchanged; input_activation_qconfig_map quantizes inputs.
// Conversions compose: convert_to_analog(convert_to_quantized(model, map), conversion) keeps
// the activation quantizers around analog layers and refuses modules claimed for both weights.
#pragma once

#include "tessera/nn/conversion_plan.hpp"
#include "tessera/nn/model.hpp"

namespace tessera::nn {

/// The model converted by `conversion` on top of what it already is; `plan` (if given) receives
/// its whole plan. The const& overloads leave `model` as it is (calibrated encodings carry over
/// to the result); the && overloads reuse its layers where the plan keeps them.
Model convert_to_analog(const Model& model, const AnalogConversion& conversion, ConversionPlan* plan = nullptr);
Model convert_to_analog(Model&& model, const AnalogConversion& conversion, ConversionPlan* plan = nullptr);
Model convert_to_quantized(const Model& model, const parameters::QuantizationMap& map, ConversionPlan* plan = nullptr,
                           bool strict = false);
Model convert_to_quantized(Model&& model, const parameters::QuantizationMap& map, ConversionPlan* plan = nullptr,
                           bool strict = false);

/// Builds the layers `plan` asks for (modules whose entry changed are rebuilt from the float
/// graph). Throws UnsupportedError naming a module the plan converts but whose nodes cannot be
/// (e.g. an analog Linear whose weight is not a constant).
Model apply_plan(Model&& model, const ConversionPlan& plan);

}  // namespace tessera::nn
