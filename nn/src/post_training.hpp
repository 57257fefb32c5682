// What the post-training passes that learn from calibration data (bias correction, AdaRound)
// share: the checks of their data, its batches, and the layers whose quantized weights they
// work on.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

/// Throws ModelError "<source>: <pass> needs calibration data" for empty data and for a
/// batch_size < 1.
void check_calibration_data(const Model& model, const Tensor& data, std::int64_t batch_size, const std::string& pass);

/// Calls `run` with consecutive batches of `data` (batch first), at most `batch_size` samples each.
void for_each_batch(const Tensor& data, std::int64_t batch_size, const std::function<void(const Tensor&)>& run);

/// The Conv and Gemm nodes whose constant weight (rank >= 2) the plan quantizes,
/// in graph order (analog layers left out). Throws ModelError "<source>: <pass>: the plan
/// quantizes no Conv or Gemm weights" when there is none.
std::vector<std::size_t> quantized_weight_layers(const Model& model, const std::string& pass);

/// The quantizer of node `n`'s constant weight (its input 1), or null.
const simulator::AffineQuantizer* weight_quantizer(const Model& model, std::size_t n);

}  // namespace tessera::nn
