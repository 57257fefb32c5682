// Labelled evaluation data from IDX files (Debian's Fashion-MNIST) or .npy pairs, as a sweep
// file's `data` section names it.
//   Dataset test = load_dataset({.format = DataFormat::idx, .images = "...", .labels = "...",
//                                .normalization = {0.2860f, 0.3530f}, .limit = 2000});
// Byte images (IDX, or .npy of dtype uint8) become x / 255 first; then (x - mean) / std.
#pragma once

#include <cstdint>
#include <string>

#include "tessera/experiments/idx_dataset.hpp"

namespace tessera::experiments {

enum class DataFormat { idx, npy };

struct DataSource {
  DataFormat format = DataFormat::idx;
  std::string images;  ///< path; IDX may be gzipped
  std::string labels;  ///< path; one integer class per sample
  Normalization normalization{};
  std::int64_t limit = 0;  ///< > 0 keeps the first `limit` samples
};

/// Throws std::runtime_error naming the file for unreadable data, a sample-count mismatch or
/// labels that are not whole numbers >= 0.
Dataset load_dataset(const DataSource& source);

/// .npy images ([N, ...], any numeric dtype, kept in their shape) and labels ([N]).
Dataset load_npy_dataset(const std::string& images_path, const std::string& labels_path, Normalization normalization,
                         std::int64_t limit = 0);

}  // namespace tessera::experiments
