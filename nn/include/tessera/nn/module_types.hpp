// The one vocabulary of module types: torch class names (Linear, Conv2d, MaxPool2d, LSTM,
// MultiheadAttention, ...). The ONNX importer names each module's type so, torch modules carry
// theirs, and QuantizationMaps, analog module_types and presets are checked against it, so a
// type means the same on both front ends. Functional ONNX operators that no torch module
// stands for (Add, Concat, ...) keep their operator name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tessera::nn {

/// What a module type can become and what it holds.
struct ModuleTypeTraits {
  bool analog = false;             ///< its weight products can run on tiles
  bool quantized_weights = false;  ///< its weights can be fake-quantized
  bool weight_matrix = false;      ///< it multiplies by a weight matrix (strict conversion watches these)
  bool normalization = false;      ///< per-channel affine parameters (BatchNorm, LayerNorm, ...)
};

/// The torch module types tessera knows (sorted), e.g. "AdaptiveAvgPool2d", "Conv2d", "LSTM".
const std::vector<std::string>& torch_module_types();
/// Traits of a type of the vocabulary; all false for functional and unknown types.
ModuleTypeTraits module_type_traits(std::string_view type);
/// The vocabulary plus the ONNX operator types that keep their own name (Add, Concat, ...).
std::vector<std::string> valid_module_types();

/// Throws ModelError when a type named under `key` is not in the vocabulary: an ONNX operator
/// name (MaxPool) is told its torch names (MaxPool1d, MaxPool2d, MaxPool3d), a typo gets a
/// did-you-mean, anything else the list of valid types.
void check_module_types(const std::string& key, const std::vector<std::string>& types);

}  // namespace tessera::nn
