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

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

/// The encodings of every quantizer in `model`. Throws ModelError naming the tensor when an
/// activation quantizer has no encodings yet (run Model::compute_encodings first).
std::string encodings_json(const Model& model);

/// Writes encodings_json to `path` (through a temporary file renamed into place).
void save_encodings_json(const Model& model, const std::string& path);

/// Sets the encodings of every quantizer a converted model applies from an encodings JSON
/// (save_encodings_json's format, AIMET-compatible: "scale" and "offset" per channel), matching
/// tensors by name. Every quantizer of the model must be listed, with as many channels as it has;
/// throws ModelError naming the file and tensor otherwise. Weights are re-quantized afterwards.
void load_encodings_json(Model& model, const std::string& path);

/// Sets the encodings of one quantizer of a converted module: role "input", "weight" or "output"
/// (scale > 0 and zero point per channel, as AffineQuantizer::set_encodings); activation roles
/// of the module's call `call` (a module torch called twice has a quantizer per call). Used to
/// carry encodings calibrated elsewhere (the torch front end) onto a model loaded from ONNX.
void set_module_encodings(Model& model, const std::string& module, const std::string& role,
                          std::span<const float> scale, std::span<const std::int64_t> zero_point, int call = 0);

/// The (scale, zero point) per channel of one quantizer of a converted module, as
/// set_module_encodings takes them; throws ModelError when it has none yet.
std::pair<std::vector<float>, std::vector<std::int64_t>> module_encodings(const Model& model, const std::string& module,
                                                                          const std::string& role, int call = 0);

/// Throws ModelError naming every weight whose values reach beyond its encodings (by more than
/// half a step): encodings computed on other weights than the model holds (a BatchNorm folded
/// after they were computed) would clip them. Clipping that the weight's own range estimator
/// chose (MSE, percentile: the encodings it gives for these very weights) is not an error.
void check_weight_encodings(const Model& model);

}  // namespace tessera::nn
