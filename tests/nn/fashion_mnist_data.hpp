// What the post-training quantization tests share: Fashion-MNIST images as the bundled models
// take them, and the relative error of a model's outputs against float ones.
#pragma once

#include <cmath>
#include <iostream>
#include <string>

#include "tessera/experiments/idx_dataset.hpp"
#include "tessera/nn/model.hpp"

namespace tessera::testing {

/// The first `count` images of "train" or "t10k", normalised as the bundled models were trained.
inline simulator::Tensor fashion_images(const std::string& set, std::int64_t count) {
  const std::string data = "/usr/share/datasets/fashion-mnist/";
  return experiments::load_idx_dataset(data + set + "-images-idx3-ubyte.gz", data + set + "-labels-idx1-ubyte.gz",
                                       {0.2860f, 0.3530f}, count)
      .images;
}

/// ||output - reference|| / ||reference||.
inline double relative_error(const simulator::Tensor& output, const simulator::Tensor& reference) {
  double error = 0.0, norm = 0.0;
  for (std::int64_t k = 0; k < output.size(); ++k) {
    error += std::pow(double(output[k]) - reference[k], 2);
    norm += std::pow(double(reference[k]), 2);
  }
  return std::sqrt(error / norm);
}

/// The relative output errors of `before` and `after` against `float_model` on `images`,
/// printed under `what`; {before, after}.
inline std::pair<double, double> errors_before_and_after(nn::Model& float_model, nn::Model& before, nn::Model& after,
                                                         const simulator::Tensor& images, const std::string& what) {
  const simulator::Tensor reference = float_model.forward(images);
  const double a = relative_error(before.forward(images), reference);
  const double b = relative_error(after.forward(images), reference);
  std::cout << what << ": relative output error on " << images.dim(0) << " images " << a << " -> " << b << "\n";
  return {a, b};
}

}  // namespace tessera::testing
