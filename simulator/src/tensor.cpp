#include "tessera/simulator/tensor.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <utility>

namespace tessera::simulator {

std::int64_t element_count(const Shape& shape) {
  // The product of the non-zero extents is bounded too: an empty tensor of shape [0, 2^62, 3]
  // holds nothing, but its strides would overflow.
  std::int64_t spanned = 1;
  bool empty = false;
  for (std::int64_t extent : shape) {
    if (extent < 0) throw std::invalid_argument("negative extent in shape " + shape_to_string(shape));
    if (extent == 0) {
      empty = true;
      continue;
    }
    if (spanned > kMaxTensorElements / extent) {
      // Refused up front: a typo or a corrupt file should not exhaust the machine's memory.
      throw std::length_error("a tensor of shape " + shape_to_string(shape) + " would have more than 2^32 elements " +
                              "(16 GiB of floats), the most tessera allocates at once");
    }
    spanned *= extent;
  }
  return empty ? 0 : spanned;
}

namespace {

constexpr std::int64_t kCheckedBytes = std::int64_t{256} << 20;  // smaller tensors are not checked

// A limit set by TESSERA_MEMORY_LIMIT_MB (the fuzz harnesses run under a small one), or none.
std::int64_t configured_limit() {
  const char* limit = std::getenv("TESSERA_MEMORY_LIMIT_MB");
  return limit != nullptr ? std::strtoll(limit, nullptr, 10) << 20 : std::numeric_limits<std::int64_t>::max();
}

// Bytes this process may still allocate: MemAvailable of /proc/meminfo.
std::int64_t available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::int64_t kilobytes = 0;
  while (meminfo >> key >> kilobytes) {
    if (key == "MemAvailable:") return kilobytes * 1024;
    meminfo.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::numeric_limits<std::int64_t>::max();
}

std::string gibibytes(std::int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
  return text;
}

}  // namespace

void require_memory_bytes(std::int64_t bytes, const std::string& what) {
  const std::int64_t limit = configured_limit();
  if (bytes < std::min(kCheckedBytes, limit)) return;
  const std::int64_t available = std::min(available_bytes(), limit);
  if (bytes > available) {
    throw std::length_error(what + " needs " + gibibytes(bytes) + "; only " + gibibytes(available) +
                            " of memory are available");
  }
}

void require_memory(const Shape& shape) {
  require_memory_bytes(element_count(shape) * static_cast<std::int64_t>(sizeof(float)),
                       "a tensor of shape " + shape_to_string(shape));
}

std::string shape_to_string(const Shape& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

Tensor::Tensor(Shape shape, float fill) : shape_(std::move(shape)) {
  require_memory(shape_);
  values_.assign(static_cast<std::size_t>(element_count(shape_)), fill);
}

Tensor::Tensor(Shape shape, std::vector<float> values)
    : shape_(std::move(shape)), values_(values.begin(), values.end()) {
  if (element_count(shape_) != size()) {
    throw std::invalid_argument("tensor of shape " + shape_to_string(shape_) + " needs " +
                                std::to_string(element_count(shape_)) + " values, got " + std::to_string(size()));
  }
}

std::int64_t Tensor::dim(int axis) const {
  if (axis < 0) axis += rank();
  if (axis < 0 || axis >= rank()) {
    throw std::out_of_range("axis " + std::to_string(axis) + " out of range for shape " + shape_to_string(shape_));
  }
  return shape_[static_cast<std::size_t>(axis)];
}

void Tensor::reshape(Shape shape) {
  if (element_count(shape) != size()) {
    throw std::invalid_argument("cannot reshape " + shape_to_string(shape_) + " to " + shape_to_string(shape));
  }
  shape_ = std::move(shape);
}

namespace {
void check_matrix_shape(std::int64_t rows, std::int64_t cols, std::int64_t size, const Shape& shape) {
  if (rows < 0 || cols < 0 || rows * cols != size) {
    throw std::invalid_argument("cannot view tensor of shape " + shape_to_string(shape) + " as a " +
                                std::to_string(rows) + "x" + std::to_string(cols) + " matrix");
  }
}
}  // namespace

void Tensor::resize(Shape shape) {
  if (element_count(shape) > size()) require_memory(shape);
  values_.resize(static_cast<std::size_t>(element_count(shape)));
  shape_ = std::move(shape);
}

MatrixView Tensor::matrix(std::int64_t rows, std::int64_t cols) {
  check_matrix_shape(rows, cols, size(), shape_);
  return MatrixView(values_.data(), rows, cols);
}

ConstMatrixView Tensor::matrix(std::int64_t rows, std::int64_t cols) const {
  check_matrix_shape(rows, cols, size(), shape_);
  return ConstMatrixView(values_.data(), rows, cols);
}

MatrixView Tensor::matrix() {
  if (rank() != 2) throw std::invalid_argument("matrix() needs a rank-2 tensor, got " + shape_to_string(shape_));
  return matrix(shape_[0], shape_[1]);
}

ConstMatrixView Tensor::matrix() const {
  if (rank() != 2) throw std::invalid_argument("matrix() needs a rank-2 tensor, got " + shape_to_string(shape_));
  return matrix(shape_[0], shape_[1]);
}

}  // namespace tessera::simulator
