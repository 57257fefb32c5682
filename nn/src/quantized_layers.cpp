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

// The axis of a weight that indexes output channels (per-channel encodings follow it).
int output_axis(const Node& node) {
  if (node.op_type == "Gemm") return node.attributes.get_int("transB", 0) != 0 ? 0 : 1;
  if (node.op_type == "MatMul") return 1;
  if (node.op_type == "LSTM" || node.op_type == "GRU" || node.op_type == "RNN") return 1;  // [dirs, gates*H, .]
  if (node.op_type == "Gather") return 0;  // one encoding per table row, as torch's quantized Embedding
  return 0;                                // Conv: [M, C/g, k...]
}

// One constant weight of the node, quantized from its own range.
struct QuantizedWeight {
  std::size_t input = 0;
  const Tensor* weight = nullptr;
  std::unique_ptr<QuantizeDequantize> quantizer;
  Value quantized;

  void quantize() { quantized = Value::floats((*quantizer)(*weight)); }
};

class QuantizedLayer final : public Operator {
 public:
  QuantizedLayer(const Node& node, const Graph& graph, std::unique_ptr<Operator> inner, QuantizedNodeConfig config)
      : node_(node),
        inner_(std::move(inner)),
        input_quantizer_(std::move(config.input)),
        output_quantizer_(std::move(config.output)) {
    if ((node.op_type == "Gemm" || node.op_type == "Conv") && node.inputs.size() > 2) {
      const auto bias = graph.initializers.find(node.inputs[2]);
      if (bias != graph.initializers.end()) bias_ = &bias->second.tensor;
    }
    if (config.weight == nullptr || config.weight->n_bits <= 0) return;
    for (std::size_t input : weight_inputs(node, graph)) {
      const Tensor& weight = graph.initializers.at(node.inputs[input]).tensor;
      ops::require_finite(node, weight, "weight");
      QuantizedWeight w{input, &weight, nullptr, {}};
      w.quantizer = std::make_unique<QuantizeDequantize>(
          simulator::weight_quantizer_options(*config.weight, weight.shape(), output_axis(node)));
      {
        auto calibration = w.quantizer->compute_encodings();
        (*w.quantizer)(weight);
        calibration.finish();
      }
      w.quantize();
      weights_.push_back(std::move(w));
    }
    if (weights_.empty()) ops::unsupported(node, "weight quantization needs a constant weight");
  }

  std::vector<Value> run(std::span<const Value* const> inputs) override {
    if (integer_ && !calibrating_) {  // calibration observes the fake-quant twin
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
    for (const QuantizedWeight& w : weights_) arguments[w.input] = &w.quantized;
    std::vector<Value> outputs = inner_->run(arguments);
    if (output_quantizer_) outputs[0].tensor = (*output_quantizer_)(outputs[0].tensor);
    return outputs;
  }
  bool use_integer_kernels(const simulator::AffineQuantizer* input_encoding) override {
    // Its own input quantizer is what the fake-quant twin applies; without one, an input already
    // on its producer's grid is quantized to the same levels by that grid.
    const simulator::AffineQuantizer* input = input_quantizer_ ? input_quantizer_.get() : input_encoding;
    const bool eligible = weights_.size() == 1 && weights_[0].input == 1 && input != nullptr &&
                          (node_.op_type == "Gemm" || node_.op_type == "MatMul" || node_.op_type == "Conv");
    integer_ = eligible
                   ? IntegerKernel::make(node_, weights_[0].quantized.tensor, *weights_[0].quantizer, *input, bias_)
                   : nullptr;
    integer_input_ = integer_ ? input : nullptr;
    return integer_ != nullptr;
  }
  void encodings_changed() override {
    for (QuantizedWeight& w : weights_) w.quantize();
    if (integer_) use_integer_kernels(integer_input_);  // rebuild with the new scales
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
    for (const QuantizedWeight& w : weights_) {
      out.push_back({node_.inputs[w.input], EncodingRole::weight, w.quantizer.get()});
    }
    if (output_quantizer_) out.push_back({node_.outputs[0], EncodingRole::output, output_quantizer_.get()});
  }
  void begin_calibration() override {
    calibrating_ = true;
    for (auto* q : {input_quantizer_.get(), output_quantizer_.get()}) {
      if (q != nullptr) q->begin_calibration();
    }
  }
  void end_calibration() override {
    calibrating_ = false;
    for (auto* q : {input_quantizer_.get(), output_quantizer_.get()}) {
      if (q != nullptr && q->is_calibrating()) q->end_calibration();
    }
  }

 private:
  const Node& node_;
  std::unique_ptr<Operator> inner_;
  std::unique_ptr<QuantizeDequantize> input_quantizer_;
  std::unique_ptr<QuantizeDequantize> output_quantizer_;
  std::vector<QuantizedWeight> weights_;
  const Tensor* bias_ = nullptr;
  std::unique_ptr<IntegerKernel> integer_;
  const simulator::AffineQuantizer* integer_input_ = nullptr;  ///< the input encoding integer_ uses
  bool calibrating_ = false;
};

}  // namespace

void carry_encodings(const Operator& from, Operator& to) {
  std::vector<TensorEncoding> old, fresh;
  from.list_encodings(old);
  to.list_encodings(fresh);
  bool changed = false;
  for (const TensorEncoding& target : fresh) {
    for (const TensorEncoding& source : old) {
      if (source.tensor != target.tensor || source.role != target.role || !source.quantizer->is_initialized()) continue;
      if (source.quantizer == target.quantizer) continue;
      target.quantizer->set_encodings(source.quantizer->scale(), source.quantizer->zero_point());
      changed = true;
    }
  }
  if (changed) to.encodings_changed();
}

std::unique_ptr<QuantizeDequantize> activation_quantizer(const parameters::ActivationQuantConfig* config) {
  if (config == nullptr || config->n_bits <= 0) return nullptr;
  return std::make_unique<QuantizeDequantize>(simulator::activation_quantizer_options(*config));
}

std::unique_ptr<Operator> make_quantized_layer(const Node& node, const Graph& graph, std::unique_ptr<Operator> inner,
                                               QuantizedNodeConfig config) {
  return std::make_unique<QuantizedLayer>(node, graph, std::move(inner), std::move(config));
}

}  // namespace tessera::nn
