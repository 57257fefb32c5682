// Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization"; AIMET's
// equalize_model) on an ONNX model. For two weight layers in a row with only positively
// homogeneous ops between them (ReLU, MaxPool, AveragePool), output channel c of the first can
// be divided by s_c > 0 and input channel c of the second multiplied by it without changing the
// function. Choosing s_c = sqrt(r1_c / r2_c), with r1_c the range (max |w|) of the first layer's
// output channel c and r2_c that of the second layer's input channel c, gives both the range
// sqrt(r1_c r2_c): per-tensor weight quantizers stop wasting their grid on one wide channel.
// Chains (conv -> conv -> conv) are equalized pair by pair until the scales settle.
//   nn::Model equalized = nn::cross_layer_equalization(nn::fold_batch_norms(model), &report);
// As in AIMET, a ReLU6 between a pair becomes a ReLU first (a clamp at 6 does not commute with
// the scaling); that changes the function where activations exceed 6, and the report lists it.
#pragma once

#include <string>
#include <vector>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

struct EqualizedPair {
  std::string first;           ///< module whose output channels were divided
  std::string second;          ///< module whose input channels were multiplied
  double spread_before = 1.0;  ///< max_c / min_c of r1_c / r2_c before equalization
};

struct EqualizationReport {
  std::vector<EqualizedPair> pairs;
  std::vector<std::string> relu6_replaced;  ///< modules whose ReLU6 call between a pair became a ReLU
  int iterations = 0;                       ///< passes over the pairs until the scales settled
};

/// A new model with every equalizable pair equalized. Throws ModelError for a model already
/// converted (equalize first, then convert). Fold BatchNorms first: a BatchNorm between two
/// layers breaks the pair.
Model cross_layer_equalization(const Model& model, EqualizationReport* report = nullptr);

}  // namespace tessera::nn
