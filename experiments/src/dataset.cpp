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

Dataset load_dataset(const DataSource& source) {
  if (source.format == DataFormat::npy) {
    return load_npy_dataset(source.images, source.labels, source.normalization, source.limit);
  }
  return load_idx_dataset(source.images, source.labels, source.normalization, source.limit);
}

}  // namespace tessera::experiments
