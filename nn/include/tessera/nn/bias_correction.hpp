// Empirical bias correction (Nagel et al. 2019; AIMET's bias_correction.correct_bias, empirical
// mode). Quantizing a layer's weights shifts the mean of its outputs: E[W_q x] != E[W x] per
// output channel, a bias every later layer inherits. For each Conv and Gemm whose weights the
// plan quantizes, in graph order, the per-channel mean of its output over calibration data with
// quantized weights (and the corrections before it applied) is compared with the float model's,
// and the difference is subtracted from the layer's bias.
//   nn::Model corrected = nn::correct_biases(quantized, calibration_images, 500, &report);
//   corrected.compute_encodings(...);   // as after any conversion
// Only weight quantization is measured (activation quantizers play no part, so the model need
// not be calibrated); the result has the same plan, uncalibrated.
#pragma once

#include <string>
#include <vector>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

struct CorrectedBias {
  std::string module;
  double mean_abs_shift = 0.0;  ///< mean over channels of |E[y_q] - E[y]| before the correction
  double largest_shift = 0.0;   ///< its largest over channels
};

/// The model with every quantized Conv/Gemm's bias corrected on `data` (the model's single
/// input, run in batches of `batch_size`). Layers without a bias get one. Throws ModelError for
/// empty data or a model whose plan quantizes no weights.
Model correct_biases(const Model& quantized, const Tensor& data, std::int64_t batch_size,
                     std::vector<CorrectedBias>* report = nullptr);

}  // namespace tessera::nn
