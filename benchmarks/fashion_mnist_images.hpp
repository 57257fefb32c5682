// The first 256 Fashion-MNIST test images, normalised as the bundled models were trained
// (mean 0.2860, std 0.3530): the batch the whole-model benchmarks run.
#pragma once

#include <string>

#include "tessera/experiments/idx_dataset.hpp"

namespace tessera::benchmarks {

inline simulator::Tensor fashion_mnist_test_images() {
  const std::string data = "/usr/share/datasets/fashion-mnist/";
  return experiments::load_idx_dataset(data + "t10k-images-idx3-ubyte.gz", data + "t10k-labels-idx1-ubyte.gz",
                                       {0.2860f, 0.3530f}, 256)
      .images;
}

}  // namespace tessera::benchmarks
