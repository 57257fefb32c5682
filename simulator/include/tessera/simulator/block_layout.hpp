// How a quantizer's encodings tile its input: the seeds' per-block scheme, where element
// (j_0..j_{D-1}) uses encoding (j_0 / B_0, .., j_{D-1} / B_{D-1}). Per-tensor and per-channel
// are special cases. The layout is normalised so the innermost loop runs over contiguous
// elements that share one encoding (or, for a per-element last axis, step through encodings).
#pragma once

#include <cstdint>

#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {

class BlockLayout {
 public:
  /// `encoding_shape` is right-aligned to the data (missing leading dims are 1). Without
  /// `block_size` each encoding dim must be 1 or equal the data dim; with it (entries -1 are
  /// inferred) encoding_dim * block_size == data_dim. Throws std::invalid_argument otherwise.
  BlockLayout(const Shape& data_shape, const Shape& encoding_shape, const Shape& block_size = {});

  std::int64_t element_count() const { return element_count_; }
  /// Rows of the normalised layout: for_each_run(..., parallel) spreads these over threads.
  std::int64_t row_count() const { return data_dims_.back() == 0 ? 0 : element_count_ / data_dims_.back(); }
  std::int64_t encoding_count() const { return encoding_count_; }

  /// Calls run(first_element, length, first_encoding, encoding_step) for every maximal run of
  /// contiguous elements; encoding_step is 0 (one encoding for the run) or 1 (one per element).
  /// Runs are independent, so `parallel` may spread them over OpenMP threads.
  template <class RunFunction>
  void for_each_run(RunFunction run, bool parallel = false) const;

 private:
  // Normalised dims: trailing dims sharing one encoding are merged into their neighbour.
  Shape data_dims_;
  Shape block_dims_;
  Shape encoding_strides_;
  std::int64_t element_count_ = 0;
  std::int64_t encoding_count_ = 0;
};

template <class RunFunction>
void BlockLayout::for_each_run(RunFunction run, bool parallel) const {
  const int rank = static_cast<int>(data_dims_.size());
  const std::int64_t row_length = data_dims_.back();
  const std::int64_t block_length = block_dims_.back();
  const std::int64_t rows = row_length == 0 ? 0 : element_count_ / row_length;
  const bool element_wise = block_length == 1 && row_length > 1;
#pragma omp parallel for schedule(static) if (parallel && rows > 1)
  for (std::int64_t row = 0; row < rows; ++row) {
    std::int64_t encoding_base = 0;
    std::int64_t rest = row;
    for (int axis = rank - 2; axis >= 0; --axis) {
      const std::int64_t index = rest % data_dims_[axis];
      rest /= data_dims_[axis];
      encoding_base += (index / block_dims_[axis]) * encoding_strides_[axis];
    }
    const std::int64_t row_start = row * row_length;
    if (element_wise) {
      run(row_start, row_length, encoding_base, std::int64_t{1});
    } else {
      for (std::int64_t begin = 0; begin < row_length; begin += block_length) {
        run(row_start + begin, block_length, encoding_base + begin / block_length, std::int64_t{0});
      }
    }
  }
}

}  // namespace tessera::simulator
