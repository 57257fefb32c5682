// Export of a quantized model's encodings as JSON, in AIMET's layout so tools that read AIMET
// encodings files read ours:
//   {
//     "version": "tessera-encodings/1",
//     "activation_encodings": { "<value name>": [ {encoding} ] },
//     "param_encodings":      { "<initializer name>": [ {encoding}, ... one per channel ] }
//   }
//   encoding = {"bitwidth": 8, "is_symmetric": true, "scale": 0.0123, "offset": -128,
//               "min": -1.57, "max": 1.56}
// offset is AIMET's: minus the zero point, so x = (q + offset) * scale; min/max are the range
// the grid covers. Activation names are the ONNX value names (e.g. "/features/features.1/Relu_output_0").
#pragma once

#include <string>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

/// The encodings of every quantizer in `model`. Throws ModelError naming the tensor when an
/// activation quantizer has no encodings yet (run Model::compute_encodings first).
std::string encodings_json(const Model& model);

/// Writes encodings_json to `path` (through a temporary file renamed into place).
void save_encodings_json(const Model& model, const std::string& path);

}  // namespace tessera::nn
