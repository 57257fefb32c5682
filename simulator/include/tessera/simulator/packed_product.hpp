// The analog tile's matrix product y = x W^T with W packed once per weight change, and a hook
// that runs the tile's element-wise periphery on each block of rows as soon as it is final
// (while it is still in L1/L2). Eigen's GEMM packs W on every call and leaves the product in
// memory; for a 512x512 tile at batch 256 its packing was 8 % of the forward and the first pass
// over the product after it one more cache miss per element.
// Every output element is one chain of multiply-adds over the inputs in order, whatever the
// blocking, so the bits do not depend on the thread count, the batch size or how the rows and
// outputs are split. The kernel runs at the SIMD level in use (cpu_features.hpp): fused
// multiply-adds with AVX-512 or AVX2 (the same bits on both), separate multiplies and adds on
// the generic path.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {

/// W [outputs, inputs] in panels of kPanelWidth outputs, input-major within a panel (the last
/// panel padded with zeros).
class PackedWeights {
 public:
  static constexpr std::int64_t kPanelWidth = 32;

  PackedWeights() = default;
  /// Packs `weights` ([outputs, inputs]).
  explicit PackedWeights(const Tensor& weights);

  std::int64_t outputs() const { return outputs_; }
  std::int64_t inputs() const { return inputs_; }
  std::int64_t panels() const { return (outputs_ + kPanelWidth - 1) / kPanelWidth; }
  const float* panel(std::int64_t index) const { return values_.data() + index * inputs_ * kPanelWidth; }

 private:
  std::int64_t outputs_ = 0;
  std::int64_t inputs_ = 0;
  std::vector<float> values_;
};

/// One product of a packed call: out = inputs * weights^T (inputs [rows, in], out [rows, out]).
struct PackedProduct {
  const Tensor* inputs = nullptr;
  const PackedWeights* weights = nullptr;
  Tensor* out = nullptr;
};

/// Called with (first_row, row_count, first_output, output_count) once those rows of every
/// product are final for those outputs; runs on the thread that computed them.
using FinishedBlock = std::function<void(std::int64_t, std::int64_t, std::int64_t, std::int64_t)>;

/// Computes every product (all of the same shape) over all rows, in parallel over blocks of
/// rows and outputs, calling `finished` on each block. Throws std::invalid_argument on shapes
/// that do not fit.
void packed_products(std::span<const PackedProduct> products, const FinishedBlock& finished);

}  // namespace tessera::simulator
