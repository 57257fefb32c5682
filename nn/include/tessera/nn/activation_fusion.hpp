// Activation fusion on an ONNX model (torch.ao's ConvReLU2d / LinearReLU, AIMET's supergroups):
// deployed int8 kernels quantize a Conv or Gemm followed by its ReLU once, after the
// activation; a fake-quantized model that quantizes the layer's output and then applies the
// ReLU rounds where no hardware does. Fold BatchNorms first (batch_norm_folding.hpp), so that
// Conv -> BatchNorm -> ReLU becomes a pair.
//   nn::Model model = nn::convert_to_quantized(nn::fold_batch_norms(float_model), map);
//   model = nn::fuse_activations(std::move(model), map);   // plan rows say what moved
#pragma once

#include <vector>

#include "tessera/nn/conversion_plan.hpp"
#include "tessera/nn/model.hpp"

namespace tessera::nn {

/// Every (Linear/Conv module, activation module) pair of the graph where each call of the
/// layer produces a value that only the activation reads (and that is no graph output).
std::vector<ActivationPair> activation_pairs(const Model& model);

/// The model with plan_fused applied to its activation_pairs; `fused` receives the pairs whose
/// output quantizer moved.
Model fuse_activations(Model&& model, const parameters::QuantizationMap& map,
                       std::vector<ActivationPair>* fused = nullptr);

}  // namespace tessera::nn
