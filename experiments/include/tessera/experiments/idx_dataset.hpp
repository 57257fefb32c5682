// Reading labelled image data in the IDX format of (Fashion-)MNIST, gzipped or not:
//   Dataset test = load_idx_dataset("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
//                                   ".../t10k-labels-idx1-ubyte.gz", {.mean = 0.2860f, .std = 0.3530f});
// Images become floats in [0, 1] (bytes / 255), then (x - mean) / std, shaped [N, 1, H, W].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/simulator/tensor.hpp"

namespace tessera::experiments {

struct Normalization {
  float mean = 0.0f;
  float std = 1.0f;
};

struct Dataset {
  simulator::Tensor images;          ///< [N, 1, H, W] (or [N, features] for rank-2 IDX data)
  std::vector<std::int64_t> labels;  ///< one class per sample
};

/// Reads an IDX file into its dimensions and bytes. Throws std::runtime_error naming the file
/// for a missing file, a bad magic number, an element type other than unsigned byte, or data
/// shorter or longer than the dimensions say.
struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> bytes;
};
IdxArray read_idx(const std::string& path);

/// Images and labels; `limit` > 0 keeps only the first `limit` samples.
Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, Normalization normalization,
                         std::int64_t limit = 0);

}  // namespace tessera::experiments
