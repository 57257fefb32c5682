#include "tessera/experiments/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "tessera/experiments/npy.hpp"

namespace tessera::experiments {

Dataset load_npy_dataset(const std::string& images_path, const std::string& labels_path, Normalization normalization,
                         std::int64_t limit) {
  if (!(normalization.std > 0.0f)) throw std::runtime_error("normalization std must be > 0");
  const NpyArray images = read_npy(images_path);
  const NpyArray labels = read_npy(labels_path);
  if (images.shape.empty()) throw std::runtime_error(images_path + ": images must have a sample dimension");
  if (labels.shape.size() != 1) throw std::runtime_error(labels_path + ": labels must be a 1-D array");
  if (images.shape.front() != labels.shape.front()) {
    throw std::runtime_error(images_path + " holds " + std::to_string(images.shape.front()) + " samples but " +
                             labels_path + " holds " + std::to_string(labels.shape.front()) + " labels");
  }
  const std::int64_t n = limit > 0 ? std::min(limit, images.shape.front()) : images.shape.front();
  simulator::Shape shape(images.shape.begin(), images.shape.end());
  shape.front() = n;
  Dataset data{simulator::Tensor(shape), {}};
  const bool bytes = images.dtype.substr(1) == "u1";
  for (std::int64_t k = 0; k < data.images.size(); ++k) {
    float x = static_cast<float>(images.values[static_cast<std::size_t>(k)]);
    if (bytes) x /= 255.0f;
    data.images[k] = (x - normalization.mean) / normalization.std;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const double label = labels.values[static_cast<std::size_t>(i)];
    if (!(label >= 0.0) || label != std::floor(label) || label > 1e9) {
      throw std::runtime_error(labels_path + ": label " + std::to_string(i) + " is " + std::to_string(label) +
                               ", not a class index >= 0");
    }
    data.labels.push_back(static_cast<std::int64_t>(label));
  }
  return data;
}

namespace {

// A NaN or Inf in the data would turn into NaN outputs and quietly wrong accuracies: refused
// with the file and the sample.
void require_finite_samples(const Dataset& data, const std::string& path) {
  const std::int64_t samples = data.images.rank() > 0 ? data.images.dim(0) : 0;
  const std::int64_t per_sample = samples > 0 ? data.images.size() / samples : 0;
  for (std::int64_t k = 0; k < data.images.size(); ++k) {
    if (!std::isfinite(data.images[k])) {
      throw std::runtime_error(path + ": sample " + std::to_string(k / per_sample) + " holds a NaN or Inf value (at " +
                               std::to_string(k % per_sample) + " within the sample)");
    }
  }
}

}  // namespace

Dataset load_dataset(const DataSource& source) {
  Dataset data = source.format == DataFormat::npy
                     ? load_npy_dataset(source.images, source.labels, source.normalization, source.limit)
                     : load_idx_dataset(source.images, source.labels, source.normalization, source.limit);
  require_finite_samples(data, source.images);
  return data;
}

}  // namespace tessera::experiments
