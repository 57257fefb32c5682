#include "integer_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/linear.hpp"
#include "ops/op_support.hpp"
#include "tessera/simulator/fake_quant_kernel.hpp"

namespace tessera::nn {

std::unique_ptr<IntegerKernel> IntegerKernel::make(const Node& node, const Tensor& quantized_weight,
                                                   const simulator::AffineQuantizer& weight_quantizer,
                                                   const simulator::AffineQuantizer& input_quantizer,
                                                   const Tensor* bias) {
  const bool conv = node.op_type == "Conv";
  const bool linear =
      node.op_type == "MatMul" || (node.op_type == "Gemm" && node.attributes.get_int("transA", 0) == 0 &&
                                   node.attributes.get_float("alpha", 1.0f) == 1.0f);
  if (!conv && !linear) return nullptr;
  const simulator::QuantGrid& wg = weight_quantizer.grid();
  const simulator::QuantGrid& ag = input_quantizer.grid();
  if (wg.qmin < -128 || wg.qmax > 127 || ag.num_steps() > 255 || !input_quantizer.is_initialized() ||
      input_quantizer.encoding_count() != 1) {
    return nullptr;
  }
  // The weight as [out, in] rows: Conv [M, C/g, k...] and Gemm with transB store it so;
  // MatMul and Gemm without transB store [in, out].
  Tensor rows_of_weight = quantized_weight;
  if (conv) {
    if (quantized_weight.rank() < 3) return nullptr;
    rows_of_weight.reshape({quantized_weight.dim(0), quantized_weight.size() / quantized_weight.dim(0)});
  } else {
    if (quantized_weight.rank() != 2) return nullptr;
    const bool out_in = node.op_type == "Gemm" && node.attributes.get_int("transB", 0) != 0;
    if (!out_in) rows_of_weight = ops::transpose_matrix(quantized_weight);
  }
  const std::int64_t out = rows_of_weight.dim(0), width = rows_of_weight.dim(1);
  const std::vector<float>& scales = weight_quantizer.scale();
  if (scales.size() != 1 && static_cast<std::int64_t>(scales.size()) != out) return nullptr;

  std::unique_ptr<IntegerKernel> kernel(new IntegerKernel(node, input_quantizer));
  kernel->conv_ = conv;
  kernel->weight_shape_ = quantized_weight.shape();
  std::vector<std::int8_t> levels(static_cast<std::size_t>(out * width));
  for (std::int64_t n = 0; n < out; ++n) {
    const float scale = scales[scales.size() == 1 ? 0 : static_cast<std::size_t>(n)];
    kernel->weight_scales_.push_back(scale);
    for (std::int64_t k = 0; k < width; ++k) {
      // The fake-quantized weight is level * scale; dividing back recovers the level.
      levels[static_cast<std::size_t>(n * width + k)] =
          static_cast<std::int8_t>(std::nearbyint(rows_of_weight[n * width + k] / scale));
    }
  }
  const std::int64_t groups = conv ? node.attributes.get_int("group", 1) : 1;
  if (groups < 1 || out % groups != 0) return nullptr;
  const std::int64_t per_group = out / groups;
  for (std::int64_t g = 0; g < groups; ++g) {
    kernel->groups_.emplace_back(std::span<const std::int8_t>(levels.data() + g * per_group * width,
                                                              static_cast<std::size_t>(per_group * width)),
                                 per_group, width);
  }
  const std::size_t bias_input = 2;
  if (node.inputs.size() > bias_input && !node.inputs[bias_input].empty()) {
    if (bias == nullptr || bias->size() != out) return nullptr;  // only a constant per-output bias
    const float beta = node.op_type == "Gemm" ? node.attributes.get_float("beta", 1.0f) : 1.0f;
    for (std::int64_t n = 0; n < out; ++n) kernel->bias_.push_back(beta * (*bias)[n]);
  }
  return kernel;
}

std::vector<std::uint8_t> IntegerKernel::input_levels(const Tensor& x, std::int64_t width,
                                                      std::vector<std::int64_t>& nan_rows) const {
  // The input quantizer's own arithmetic (the fake-quant kernel), shifted onto 0..255. A NaN
  // has no level: its row is remembered and its outputs become NaN, as in the float product.
  const simulator::QuantGrid& grid = input_quantizer_.grid();
  const float scale = input_quantizer_.scale()[0];
  const simulator::FakeQuantParams<float> params{scale, 1.0f / scale,
                                                 static_cast<float>(input_quantizer_.zero_point()[0]),
                                                 static_cast<float>(grid.qmin), static_cast<float>(grid.qmax)};
  std::vector<std::uint8_t> levels(static_cast<std::size_t>(x.size()));
  for (std::int64_t k = 0; k < x.size(); ++k) {
    const float level = simulator::quantize_value(x[k], params);
    if (std::isnan(level)) {
      if (nan_rows.empty() || nan_rows.back() != k / width) nan_rows.push_back(k / width);
      levels[static_cast<std::size_t>(k)] = 0;
      continue;
    }
    levels[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(static_cast<std::int64_t>(level) - grid.qmin);
  }
  return levels;
}

namespace {

void fill_rows_with_nan(const std::vector<std::int64_t>& rows, std::int64_t width, std::span<float> y) {
  for (std::int64_t row : rows) {
    std::fill_n(y.begin() + row * width, width, std::numeric_limits<float>::quiet_NaN());
  }
}

}  // namespace

Tensor IntegerKernel::run(const Tensor& x) const { return conv_ ? run_conv(x) : run_linear(x); }

Tensor IntegerKernel::run_linear(const Tensor& x) const {
  const simulator::PackedInt8Weights& w = groups_.front();
  if (x.rank() < 1 || x.dim(x.rank() - 1) != w.in()) {
    ops::invalid(node_, "expects inputs with " + std::to_string(w.in()) + " features, got " +
                            simulator::shape_to_string(x.shape()));
  }
  Shape shape = x.shape();
  shape.back() = w.out();
  Tensor y(shape);
  const simulator::QuantGrid& grid = input_quantizer_.grid();
  std::vector<std::int64_t> nan_rows;
  const std::vector<std::uint8_t> levels = input_levels(x, w.in(), nan_rows);
  simulator::int8_linear(levels, x.size() / w.in(), w, input_quantizer_.scale()[0],
                         static_cast<std::int32_t>(input_quantizer_.zero_point()[0] - grid.qmin), weight_scales_, bias_,
                         y.values());
  fill_rows_with_nan(nan_rows, w.out(), y.values());
  return y;
}

Tensor IntegerKernel::run_conv(const Tensor& x) const {
  const ops::ConvShape shape = ops::conv_shape(node_, x.shape(), weight_shape_);
  Tensor output(ops::conv_output_shape(shape));
  const simulator::QuantGrid& grid = input_quantizer_.grid();
  const auto zero = static_cast<std::int32_t>(input_quantizer_.zero_point()[0] - grid.qmin);
  const std::int64_t per_group = shape.out_per_group();
  // In chunks of samples, as the float convolution: the patch matrix of a whole batch is
  // hundreds of MB, page-faulted afresh on every call.
  const std::int64_t chunk = ops::conv_chunk_samples(shape);
  for (std::int64_t first = 0; first < shape.batch; first += chunk) {
    const std::int64_t samples = std::min(chunk, shape.batch - first);
    for (std::int64_t g = 0; g < shape.groups; ++g) {
      // Padding taps are 0.0: level zero_point.
      const Tensor patches = ops::conv_patches(x, shape, g, first, samples);
      Tensor rows({patches.dim(0), per_group});
      const std::span<const float> scales(weight_scales_.data() + g * per_group, static_cast<std::size_t>(per_group));
      std::vector<std::int64_t> nan_rows;
      const std::vector<std::uint8_t> levels = input_levels(patches, patches.dim(1), nan_rows);
      simulator::int8_linear(levels, patches.dim(0), groups_[static_cast<std::size_t>(g)],
                             input_quantizer_.scale()[0], zero, scales, {}, rows.values());
      fill_rows_with_nan(nan_rows, per_group, rows.values());
      ops::scatter_conv_rows(rows, shape, g, output, first, samples);
    }
  }
  if (!bias_.empty()) ops::add_channel_bias(output, Tensor({static_cast<std::int64_t>(bias_.size())}, bias_));
  return output;
}

}  // namespace tessera::nn
