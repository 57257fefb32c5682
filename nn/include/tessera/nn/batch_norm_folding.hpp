// BatchNorm folding on an ONNX model (AIMET's fold_all_batch_norms): a BatchNormalization whose
// input is the output of a Conv or Gemm with constant weights, read by nothing else, is folded
// into that layer's weight and bias and removed. The model computes the same function; the
// quantizers of a later conversion then see the weights inference really multiplies by.
//   W' = W * gamma / sqrt(var + eps) (per output channel), b' = (b - mean) * gamma / sqrt(var + eps) + beta
// The graph remembers the distribution the BatchNorm gave its output, N(beta, gamma^2) per
// channel (Graph::batch_norm_statistics), for analytical bias correction.
#pragma once

#include <string>
#include <vector>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

struct FoldedBatchNorm {
  std::string batch_norm;  ///< module of the BatchNormalization removed
  std::string layer;       ///< module of the Conv or Gemm that absorbed it
};

/// A new model with every foldable BatchNormalization folded. Throws ModelError for a model
/// already converted (fold first, then convert). `folded` lists what was folded.
Model fold_batch_norms(const Model& model, std::vector<FoldedBatchNorm>* folded = nullptr);

}  // namespace tessera::nn
