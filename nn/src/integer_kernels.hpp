// The int8 execution of a quantized Gemm, MatMul or Conv (Model::use_integer_kernels): the
// input's levels on its own 8-bit quantizer's grid, the weight's levels on a signed 8-bit grid,
// summed exactly in int32 by simulator::int8_linear and requantized; convolutions go through
// the same im2col patches as every other convolution (padding is level zero_point, the float 0).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "ops/conv.hpp"
#include "tessera/nn/graph.hpp"
#include "tessera/simulator/affine_quantizer.hpp"
#include "tessera/simulator/int8_gemm.hpp"

namespace tessera::nn {

class IntegerKernel {
 public:
  /// Null when the quantizers do not allow one: weights beyond a signed 8-bit grid, an input
  /// quantizer that is missing, uncalibrated, per channel or wider than 8 bits, or an op form
  /// the kernel does not cover (Gemm with transA or alpha != 1, a non-constant bias).
  static std::unique_ptr<IntegerKernel> make(const Node& node, const Tensor& quantized_weight,
                                             const simulator::AffineQuantizer& weight_quantizer,
                                             const simulator::AffineQuantizer& input_quantizer, const Tensor* bias);

  Tensor run(const Tensor& x) const;

 private:
  IntegerKernel(const Node& node, const simulator::AffineQuantizer& input_quantizer)
      : node_(node), input_quantizer_(input_quantizer) {}
  /// Levels of x read as rows of `width`; rows holding a NaN are listed in nan_rows.
  std::vector<std::uint8_t> input_levels(const Tensor& x, std::int64_t width,
                                         std::vector<std::int64_t>& nan_rows) const;
  Tensor run_linear(const Tensor& x) const;
  Tensor run_conv(const Tensor& x) const;

  const Node& node_;
  const simulator::AffineQuantizer& input_quantizer_;
  bool conv_ = false;
  Shape weight_shape_;                                // the ONNX weight's shape (Conv)
  std::vector<simulator::PackedInt8Weights> groups_;  // one per convolution group; one for Linear
  std::vector<float> weight_scales_;                  // per output channel
  std::vector<float> bias_;                           // per output channel, or empty
};

}  // namespace tessera::nn
