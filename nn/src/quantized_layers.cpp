// Fake-quantized layers: quantize-dequantize around the float operator (the seeds'
// FakeQuantizationMixin). The weight is quantized once, from its own range; activation
// quantizers get their encodings from calibration data (Model::compute_encodings).
#include <cmath>
#include <optional>

#include "layers.hpp"
#include "ops/linear.hpp"
#include "ops/op_support.hpp"
#include "tessera/simulator/affine_quantizer.hpp"
#include "tessera/simulator/int8_gemm.hpp"

namespace tessera::nn {
namespace {

using simulator::QuantizeDequantize;
using simulator::QuantizerOptions;

std::unique_ptr<QuantizeDequantize> activation_quantizer(const parameters::ActivationQuantConfig* config) {
  if (config == nullptr || config->n_bits <= 0) return nullptr;
  QuantizerOptions options;
  options.bitwidth = config->n_bits;
  options.symmetric = config->symmetric;
  options.range_estimator = config->range_estimator;
  options.range_estimator_params = config->range_estimator_params;
  return std::make_unique<QuantizeDequantize>(options);
}

// The axis of a weight that indexes output channels.
int output_axis(const Node& node) {
  if (node.op_type == "Gemm") return node.attributes.get_int("transB", 0) != 0 ? 0 : 1;
  if (node.op_type == "MatMul") return 1;
  return 0;  // Conv: [M, C/g, k...]
}

class QuantizedLayer final : public Operator {
 public:
  QuantizedLayer(const Node& node, const Graph& graph, std::unique_ptr<Operator> inner,
                 const QuantizedNodeConfig& config)
      : node_(node),
        inner_(std::move(inner)),
        input_quantizer_(activation_quantizer(config.input)),
        output_quantizer_(activation_quantizer(config.output)) {
    if (node.op_type == "Gemm" && node.inputs.size() > 2) {
      const auto bias = graph.initializers.find(node.inputs[2]);
      if (bias != graph.initializers.end()) bias_ = &bias->second.tensor;
    }
    if (config.weight == nullptr || config.weight->n_bits <= 0) return;
    const auto found = node.inputs.size() > 1 ? graph.initializers.find(node.inputs[1]) : graph.initializers.end();
    if (found == graph.initializers.end()) ops::unsupported(node, "weight quantization needs a constant weight");
    const Tensor& weight = found->second.tensor;
    ops::require_finite(node, weight, "weight");
    QuantizerOptions options;
    options.bitwidth = config.weight->n_bits;
    options.symmetric = config.weight->symmetric;
    options.range_estimator = config.weight->range_estimator;
    options.range_estimator_params = config.weight->range_estimator_params;
    if (config.weight->per_channel) options.shape = simulator::per_channel_shape(weight.shape(), output_axis(node));
    weight_quantizer_ = std::make_unique<QuantizeDequantize>(options);
    {
      auto calibration = weight_quantizer_->compute_encodings();
      (*weight_quantizer_)(weight);
      calibration.finish();
    }
    quantized_weight_ = Value::floats((*weight_quantizer_)(weight));
  }

  std::vector<Value> run(std::span<const Value* const> inputs) override {
    if (integer_) {
      std::vector<Value> outputs{Value::floats(run_integer(ops::input(inputs, 0, node_).tensor))};
      if (output_quantizer_) outputs[0].tensor = (*output_quantizer_)(outputs[0].tensor);
      return outputs;
    }
    std::vector<const Value*> arguments(inputs.begin(), inputs.end());
    std::optional<Value> quantized_input;
    if (input_quantizer_ && !arguments.empty() && arguments[0] != nullptr) {
      quantized_input = Value::floats((*input_quantizer_)(arguments[0]->tensor));
      arguments[0] = &*quantized_input;
    }
    if (quantized_weight_) arguments[1] = &*quantized_weight_;
    std::vector<Value> outputs = inner_->run(arguments);
    if (output_quantizer_) outputs[0].tensor = (*output_quantizer_)(outputs[0].tensor);
    return outputs;
  }
  bool use_integer_kernels() override {
    integer_ = make_integer_linear();
    return integer_.has_value();
  }
  void program() override { inner_->program(); }
  void drift(double t) override { inner_->drift(t); }
  void list_encodings(std::vector<TensorEncoding>& out) const override {
    if (input_quantizer_) out.push_back({node_.inputs[0], false, input_quantizer_.get()});
    if (weight_quantizer_) out.push_back({node_.inputs[1], true, weight_quantizer_.get()});
    if (output_quantizer_) out.push_back({node_.outputs[0], false, output_quantizer_.get()});
  }
  void begin_calibration() override {
    for (auto* q : {input_quantizer_.get(), output_quantizer_.get()}) {
      if (q != nullptr) q->begin_calibration();
    }
  }
  void end_calibration() override {
    for (auto* q : {input_quantizer_.get(), output_quantizer_.get()}) {
      if (q != nullptr && q->is_calibrating()) q->end_calibration();
    }
  }

 private:
  // The int8 form of this layer, when its quantizers allow one: y = x W^T + b with x on an
  // 8-bit grid of its own input quantizer and W on a signed 8-bit grid.
  struct IntegerLinear {
    simulator::PackedInt8Weights weights;
    std::vector<float> weight_scales;  // per output channel
    std::vector<float> bias;
  };

  std::optional<IntegerLinear> make_integer_linear() const {
    const bool linear =
        node_.op_type == "MatMul" || (node_.op_type == "Gemm" && node_.attributes.get_int("transA", 0) == 0 &&
                                      node_.attributes.get_float("alpha", 1.0f) == 1.0f);
    if (!linear || !quantized_weight_ || !input_quantizer_ || !input_quantizer_->is_initialized()) return std::nullopt;
    const simulator::QuantGrid& wg = weight_quantizer_->grid();
    const simulator::QuantGrid& ag = input_quantizer_->grid();
    if (wg.qmin < -128 || wg.qmax > 127 || ag.num_steps() > 255 || input_quantizer_->encoding_count() != 1) {
      return std::nullopt;
    }
    const Tensor& w = quantized_weight_->tensor;
    if (w.rank() != 2) return std::nullopt;
    // Logical weight [out, in]: Gemm with transB = 1 stores it so; MatMul and transB = 0 store [in, out].
    const bool stored_out_in = node_.op_type == "Gemm" && node_.attributes.get_int("transB", 0) != 0;
    const Tensor logical = stored_out_in ? w : ops::transpose_matrix(w);
    const std::int64_t out = logical.dim(0), in = logical.dim(1);
    const std::vector<float>& scales = weight_quantizer_->scale();
    if (scales.size() != 1 && static_cast<std::int64_t>(scales.size()) != out) return std::nullopt;
    std::vector<float> channel_scales(static_cast<std::size_t>(out));
    std::vector<std::int8_t> levels(static_cast<std::size_t>(out * in));
    for (std::int64_t n = 0; n < out; ++n) {
      const float scale = scales[scales.size() == 1 ? 0 : static_cast<std::size_t>(n)];
      channel_scales[static_cast<std::size_t>(n)] = scale;
      for (std::int64_t k = 0; k < in; ++k) {
        // The fake-quantized weight is level * scale; dividing back recovers the level.
        levels[static_cast<std::size_t>(n * in + k)] =
            static_cast<std::int8_t>(std::nearbyint(logical[n * in + k] / scale));
      }
    }
    std::vector<float> bias;
    if (node_.op_type == "Gemm" && node_.inputs.size() > 2 && !node_.inputs[2].empty()) {
      if (bias_ == nullptr || bias_->size() != out) return std::nullopt;  // only a per-output bias
      const float beta = node_.attributes.get_float("beta", 1.0f);
      for (std::int64_t n = 0; n < out; ++n) bias.push_back(beta * (*bias_)[n]);
    }
    return IntegerLinear{simulator::PackedInt8Weights(levels, out, in), std::move(channel_scales), std::move(bias)};
  }

  Tensor run_integer(const Tensor& x) const {
    const std::int64_t in = integer_->weights.in(), out = integer_->weights.out();
    if (x.rank() < 1 || x.dim(x.rank() - 1) != in) {
      ops::invalid(node_, "expects inputs with " + std::to_string(in) + " features, got " +
                              simulator::shape_to_string(x.shape()));
    }
    const std::int64_t rows = x.size() / in;
    // The input quantizer's levels, shifted onto 0..255: the same rounding as its fake quantization.
    const float scale = input_quantizer_->scale()[0];
    const std::int64_t zero = input_quantizer_->zero_point()[0];
    const simulator::QuantGrid& grid = input_quantizer_->grid();
    const float inverse = 1.0f / scale;
    std::vector<std::uint8_t> levels(static_cast<std::size_t>(x.size()));
    for (std::int64_t k = 0; k < x.size(); ++k) {
      float level = std::nearbyint(x[k] * inverse) + static_cast<float>(zero);
      level = std::min(std::max(level, static_cast<float>(grid.qmin)), static_cast<float>(grid.qmax));
      levels[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(static_cast<std::int64_t>(level) - grid.qmin);
    }
    Shape shape = x.shape();
    shape.back() = out;
    Tensor y(shape);
    simulator::int8_linear(levels, rows, integer_->weights, scale, static_cast<std::int32_t>(zero - grid.qmin),
                           integer_->weight_scales, integer_->bias, y.values());
    return y;
  }

  const Node& node_;
  const Tensor* bias_ = nullptr;
  std::optional<IntegerLinear> integer_;
  std::unique_ptr<Operator> inner_;
  std::unique_ptr<QuantizeDequantize> input_quantizer_;
  std::unique_ptr<QuantizeDequantize> output_quantizer_;
  std::unique_ptr<QuantizeDequantize> weight_quantizer_;
  std::optional<Value> quantized_weight_;
};

}  // namespace

std::unique_ptr<Operator> make_quantized_layer(const Node& node, const Graph& graph, std::unique_ptr<Operator> inner,
                                               const QuantizedNodeConfig& config) {
  return std::make_unique<QuantizedLayer>(node, graph, std::move(inner), config);
}

}  // namespace tessera::nn
