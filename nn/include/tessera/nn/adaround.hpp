// AdaRound (Nagel et al. 2020, "Up or Down? Adaptive Rounding for Post-Training Quantization";
// AIMET's Adaround.apply_adaround). Rounding each weight to the nearest level minimises the
// weight error, not the layer's output error. AdaRound learns, per weight, whether to round
// down or up: levels floor(w / s) + h(V), h the rectified sigmoid clip(sigmoid(V) (zeta - gamma)
// + gamma, 0, 1) with zeta = 1.1, gamma = -0.1, V trained with Adam to minimise
//   || W~ X - W X ||^2 (summed over outputs, mean over input rows) + lambda sum(1 - |2h - 1|^beta)
// on the layer's float inputs X from calibration data; beta anneals from 20 to 2 after a warm
// start without the regulariser, which drives h to 0 or 1. The scales stay those of the
// quantized model's weight quantizers (frozen, as AIMET freezes them).
//   nn::Model rounded = nn::adaround(quantized, calibration_images, 256, {}, &report);
// Each Conv/Gemm whose weights the plan quantizes is rounded, all from the float model's inputs;
// the result has the same plan, its weight encodings those of `quantized`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

/// AIMET's AdaroundParameters defaults.
struct AdaRoundParameters {
  int num_iterations = 10000;        ///< Adam steps per layer
  double reg_param = 0.01;           ///< lambda of the rounding regulariser
  double beta_start = 20.0;          ///< beta_range: the regulariser's exponent, annealed ...
  double beta_end = 2.0;             ///< ... linearly down to this
  double warm_start = 0.2;           ///< fraction of the iterations without the regulariser
  double learning_rate = 1e-3;       ///< Adam's
  std::int64_t input_rows = 4096;    ///< layer input rows (im2col patches for Conv) kept per group
  std::int64_t rows_per_step = 256;  ///< rows of them in each step's batch
  std::uint64_t seed = 0;            ///< which rows are kept and batched
};

struct AdaRoundedLayer {
  std::string module;
  double nearest_error = 0.0;   ///< reconstruction error of nearest rounding on the kept rows
  double adaround_error = 0.0;  ///< the same with AdaRound's rounding
  double undecided = 0.0;       ///< fraction of weights whose h ended strictly between 0.01 and 0.99
  double flipped = 0.0;         ///< fraction rounded the other way than nearest rounding
};

/// The model with every quantized Conv/Gemm's weights rounded by AdaRound, on `data` (the
/// model's single input, run in batches of `batch_size`). Throws ModelError for empty data, a
/// model whose plan quantizes no Conv or Gemm weights, or parameters out of range.
Model adaround(const Model& quantized, const Tensor& data, std::int64_t batch_size,
               const AdaRoundParameters& parameters = {}, std::vector<AdaRoundedLayer>* report = nullptr);

}  // namespace tessera::nn
