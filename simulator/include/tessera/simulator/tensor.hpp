// A small dense float tensor: a shape plus one contiguous row-major buffer, with Eigen views
// onto it (no copies) for the linear algebra. Its storage comes from the tensor buffer pool.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tessera/simulator/buffer_pool.hpp"

namespace tessera::simulator {

using Shape = std::vector<std::int64_t>;

/// Most elements one tensor may have: 2^32 floats are 16 GiB.
inline constexpr std::int64_t kMaxTensorElements = std::int64_t{1} << 32;

/// Elements of a shape (1 for a scalar shape {}); throws std::invalid_argument for a negative extent and
/// std::length_error when the non-zero extents multiply beyond kMaxTensorElements (before anything is
/// allocated; an empty shape may not span more either, so strides never overflow).
std::int64_t element_count(const Shape& shape);
/// Throws std::length_error, before anything is allocated, when a float tensor of `shape` would
/// need more memory than the machine has available (MemAvailable; TESSERA_MEMORY_LIMIT_MB can
/// lower the limit). Tensors under 256 MiB are not checked.
void require_memory(const Shape& shape);
/// The same check for `bytes` that `what` (named in the message) will allocate.
void require_memory_bytes(std::int64_t bytes, const std::string& what);
/// "[2, 3, 4]"
std::string shape_to_string(const Shape& shape);

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixView = Eigen::Map<RowMajorMatrix>;
using ConstMatrixView = Eigen::Map<const RowMajorMatrix>;
using VectorView = Eigen::Map<Eigen::VectorXf>;
using ConstVectorView = Eigen::Map<const Eigen::VectorXf>;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, float fill = 0.0f);
  Tensor(Shape shape, std::vector<float> values);

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  std::int64_t dim(int axis) const;
  std::int64_t size() const { return static_cast<std::int64_t>(values_.size()); }

  float* data() { return values_.data(); }
  const float* data() const { return values_.data(); }
  std::span<float> values() { return values_; }
  std::span<const float> values() const { return values_; }
  float& operator[](std::int64_t index) { return values_[static_cast<std::size_t>(index)]; }
  float operator[](std::int64_t index) const { return values_[static_cast<std::size_t>(index)]; }

  /// Same buffer, new shape with the same element count.
  void reshape(Shape shape);
  /// New shape of any size, reusing the buffer's capacity; values are unspecified afterwards.
  /// For workspaces that are refilled on every use.
  void resize(Shape shape);
  /// The buffer as a rows x cols row-major matrix (rows * cols == size()).
  MatrixView matrix(std::int64_t rows, std::int64_t cols);
  ConstMatrixView matrix(std::int64_t rows, std::int64_t cols) const;
  /// A rank-2 tensor as a matrix.
  MatrixView matrix();
  ConstMatrixView matrix() const;
  VectorView flat() { return VectorView(values_.data(), size()); }
  ConstVectorView flat() const { return ConstVectorView(values_.data(), size()); }

  bool operator==(const Tensor&) const = default;

 private:
  Shape shape_;
  std::vector<float, PooledAllocator<float>> values_;  // large buffers are reused (buffer_pool.hpp)
};

}  // namespace tessera::simulator
