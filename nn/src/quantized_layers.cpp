// Fake-quantized layers: quantize-dequantize around the float operator (the seeds'
// FakeQuantizationMixin). The weight is quantized once, from its own range; activation
// quantizers get their encodings from calibration data (Model::compute_encodings).
#include <cmath>
#include <optional>

#include "integer_kernels.hpp"
#include "layers.hpp"
#include "ops/op_support.hpp"
#include "tessera/simulator/affine_quantizer.hpp"

namespace tessera::nn {
namespace {

using simulator::QuantizeDequantize;

std::unique_ptr<QuantizeDequantize> activation_quantizer(const parameters::ActivationQuantConfig* config) {
  if (config == nullptr || config->n_bits <= 0) return nullptr;
  return std::make_unique<QuantizeDequantize>(simulator::activation_quantizer_options(*config));
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
    if ((node.op_type == "Gemm" || node.op_type == "Conv") && node.inputs.size() > 2) {
      const auto bias = graph.initializers.find(node.inputs[2]);
      if (bias != graph.initializers.end()) bias_ = &bias->second.tensor;
    }
    if (config.weight == nullptr || config.weight->n_bits <= 0) return;
    const auto found = node.inputs.size() > 1 ? graph.initializers.find(node.inputs[1]) : graph.initializers.end();
    if (found == graph.initializers.end()) ops::unsupported(node, "weight quantization needs a constant weight");
    const Tensor& weight = found->second.tensor;
    ops::require_finite(node, weight, "weight");
    weight_ = &weight;
    weight_quantizer_ = std::make_unique<QuantizeDequantize>(
        simulator::weight_quantizer_options(*config.weight, weight.shape(), output_axis(node)));
    {
      auto calibration = weight_quantizer_->compute_encodings();
      (*weight_quantizer_)(weight);
      calibration.finish();
    }
    quantized_weight_ = Value::floats((*weight_quantizer_)(weight));
  }

  std::vector<Value> run(std::span<const Value* const> inputs) override {
    if (integer_) {
      std::vector<Value> outputs{Value::floats(integer_->run(ops::input(inputs, 0, node_).tensor))};
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
    integer_ = quantized_weight_ && input_quantizer_
                   ? IntegerKernel::make(node_, quantized_weight_->tensor, *weight_quantizer_, *input_quantizer_, bias_)
                   : nullptr;
    return integer_ != nullptr;
  }
  void encodings_changed() override {
    if (weight_quantizer_) quantized_weight_ = Value::floats((*weight_quantizer_)(*weight_));
    if (integer_) use_integer_kernels();  // rebuild with the new scales
  }
  void program() override { inner_->program(); }
  void set_backend(simulator::Backend backend) override {
    inner_->set_backend(backend);
    for (auto* q : {input_quantizer_.get(), output_quantizer_.get()}) {
      if (q != nullptr) q->set_backend(backend);
    }
  }
  void drift(double t) override { inner_->drift(t); }
  void list_encodings(std::vector<TensorEncoding>& out) const override {
    if (input_quantizer_) out.push_back({node_.inputs[0], EncodingRole::input, input_quantizer_.get()});
    if (weight_quantizer_) out.push_back({node_.inputs[1], EncodingRole::weight, weight_quantizer_.get()});
    if (output_quantizer_) out.push_back({node_.outputs[0], EncodingRole::output, output_quantizer_.get()});
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
  const Node& node_;
  const Tensor* bias_ = nullptr;
  const Tensor* weight_ = nullptr;  ///< the float weight, when it is quantized
  std::unique_ptr<IntegerKernel> integer_;
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
