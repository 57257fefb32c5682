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
//
// Analytical correction (BiasCorrectionMethod::analytical; AIMET's correct_bias with
// conv_bn_dict, Nagel et al. 2019 section 4.2) computes the shift instead of measuring it where a
// layer's input is a value a folded BatchNorm produced, directly or through a Relu or Clip (ReLU6):
// that input is then N(beta, gamma^2) per channel before the clamp, so
//   E[x_c] = E[clip(z, lo, hi)], z ~ N(beta_c, gamma_c^2)   (closed form, truncated normal)
//   shift_o = sum_{c, k} (W_q - W)[o, c, k] * E[x_c] * inside_k
// with inside_k the fraction of output positions whose kernel tap k reads the input rather than
// zero padding (1 for Gemm). Other layers are corrected empirically.
#pragma once

#include <string>
#include <vector>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

enum class BiasCorrectionMethod { empirical, analytical };

struct CorrectedBias {
  std::string module;
  double mean_abs_shift = 0.0;  ///< mean over channels of |E[y_q] - E[y]| before the correction
  double largest_shift = 0.0;   ///< its largest over channels
  std::string method;           ///< "empirical" (measured) or "analytical" (from BatchNorm statistics)
};

/// The model with every quantized Conv/Gemm's bias corrected on `data` (the model's single
/// input, run in batches of `batch_size`). Layers without a bias get one. Throws ModelError for
/// empty data or a model whose plan quantizes no weights.
Model correct_biases(const Model& quantized, const Tensor& data, std::int64_t batch_size,
                     std::vector<CorrectedBias>* report = nullptr,
                     BiasCorrectionMethod method = BiasCorrectionMethod::empirical);

/// E[clip(z, lo, hi)] for z ~ N(mean, std^2); lo, hi may be infinite, std may be 0.
double clipped_normal_mean(double mean, double std, double lo, double hi);

}  // namespace tessera::nn
