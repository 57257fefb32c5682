#include "tessera/nn/bias_correction.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "graph_queries.hpp"
#include "ops/conv.hpp"
#include "post_training.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/errors.hpp"

namespace tessera::nn {
namespace {

// Per-channel (axis 1) means of the outputs of `nodes` over all of `data`.
std::map<std::size_t, std::vector<double>> channel_means(Model& model, const std::vector<std::size_t>& nodes,
                                                         const Tensor& data, std::int64_t batch_size) {
  std::map<std::size_t, std::vector<double>> sums;
  std::map<std::size_t, double> counts;
  const Model::NodeObserver observe = [&](std::size_t node, const std::vector<Value>& outputs) {
    if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) return;
    const Tensor& y = outputs.at(0).tensor;
    const std::int64_t channels = y.rank() >= 2 ? y.dim(1) : 1;
    const std::int64_t inner = y.rank() >= 2 ? y.size() / (y.dim(0) * channels) : 1;
    std::vector<double>& sum = sums[node];
    sum.resize(static_cast<std::size_t>(channels), 0.0);
    for (std::int64_t k = 0; k < y.size(); ++k) sum[static_cast<std::size_t>((k / inner) % channels)] += y[k];
    counts[node] += static_cast<double>(y.size() / channels);
  };
  for_each_batch(data, batch_size, [&](const Tensor& batch) { model.run({Value::floats(batch)}, observe); });
  for (auto& [node, sum] : sums) {
    for (double& s : sum) s /= counts[node];
  }
  return sums;
}

// The plan with only its weight quantizers: the model whose output means are measured.
ConversionPlan weights_only(ConversionPlan plan) {
  for (PlannedModule& m : plan.modules) {
    m.analog.reset();
    m.input_quantization.reset();
    if (m.quantization) m.quantization->module_qconfig.activation_quant.n_bits = 0;
  }
  return plan;
}

// Subtracts `shift` (per output channel) from a layer's bias, adding a bias where it has none.
void subtract_from_bias(Graph& graph, Node& layer, const std::vector<double>& shift) {
  const double beta = layer.op_type == "Gemm" ? layer.attributes.get_float("beta", 1.0f) : 1.0;
  const auto channels = static_cast<std::int64_t>(shift.size());
  if (layer.inputs.size() < 3 || layer.inputs[2].empty()) {
    std::string name = layer.module + ".bias";
    while (graph.initializers.count(name) > 0) name += "_corrected";
    graph.initializers[name] = Value::floats(Tensor({channels}, 0.0f));
    layer.inputs.resize(3);
    layer.inputs[2] = name;
  }
  Tensor& bias = graph.initializers.at(layer.inputs[2]).tensor;
  for (std::int64_t c = 0; c < channels; ++c) {
    bias[c] = static_cast<float>(bias[c] - shift[static_cast<std::size_t>(c)] / beta);
  }
}

// Shapes of every node output for one sample of `data`, by value name (graph inputs too).
std::map<std::string, Shape> value_shapes(const Graph& graph, const Tensor& data) {
  std::map<std::string, Shape> shapes;
  Model model(graph);
  Shape shape = data.shape();
  shape[0] = 1;
  const Tensor one(shape, std::vector<float>(data.values().begin(), data.values().begin() + data.size() / data.dim(0)));
  shapes[graph.inputs.at(0)] = one.shape();
  model.run({Value::floats(one)}, [&](std::size_t node, const std::vector<Value>& outputs) {
    for (std::size_t k = 0; k < outputs.size() && k < graph.nodes[node].outputs.size(); ++k) {
      shapes[graph.nodes[node].outputs[k]] = outputs[k].tensor.shape();
    }
  });
  return shapes;
}

// The expected input of layer `n` per channel where a folded BatchNorm's statistics give it:
// the BatchNorm's output, or a Relu / Clip of it. Empty otherwise.
std::vector<double> expected_input(const Graph& graph, const Node& layer,
                                   const std::map<std::string, std::size_t>& producer) {
  std::string value = layer.inputs.at(0);
  double low = -std::numeric_limits<double>::infinity(), high = std::numeric_limits<double>::infinity();
  if (const auto p = producer.find(value); p != producer.end()) {
    const Node& activation = graph.nodes[p->second];
    if (activation.op_type == "Relu") {
      low = 0.0;
      value = activation.inputs.at(0);
    } else if (const auto bounds = clip_bounds(graph, activation)) {
      low = bounds->first;
      high = bounds->second;
      value = activation.inputs.at(0);
    }
  }
  const auto statistics = graph.batch_norm_statistics.find(value);
  if (statistics == graph.batch_norm_statistics.end()) return {};
  std::vector<double> expected;
  for (std::size_t c = 0; c < statistics->second.mean.size(); ++c) {
    expected.push_back(clipped_normal_mean(statistics->second.mean[c], statistics->second.std[c], low, high));
  }
  return expected;
}

// shift_o = sum (W_q - W)[o, c, k] E[x_c] inside_k for layer `n`, or empty when the layer's input
// distribution is unknown or does not fit its weight.
std::vector<double> analytical_shift(const Model& quantized, const Graph& graph, std::size_t n,
                                     const std::map<std::string, std::size_t>& producer,
                                     const std::map<std::string, Shape>& shapes) {
  const Node& layer = graph.nodes[n];
  const std::vector<double> expected = expected_input(graph, layer, producer);
  const simulator::AffineQuantizer* quantizer = weight_quantizer(quantized, n);
  if (expected.empty() || quantizer == nullptr || !shapes.contains(layer.inputs[0])) return {};
  const Tensor& weight = *constant_input(graph, layer, 1);
  simulator::QuantizeDequantize grid(quantizer->options());
  grid.set_encodings(quantizer->scale(), quantizer->zero_point());
  const Tensor quantized_weight = grid(weight);
  if (layer.op_type == "Gemm") {
    if (layer.attributes.get_int("transA", 0) != 0) return {};
    const bool out_in = layer.attributes.get_int("transB", 0) != 0;
    const std::int64_t outputs = weight.dim(out_in ? 0 : 1), inputs = weight.dim(out_in ? 1 : 0);
    if (static_cast<std::int64_t>(expected.size()) != inputs) return {};
    const double alpha = layer.attributes.get_float("alpha", 1.0f);
    std::vector<double> shift(static_cast<std::size_t>(outputs), 0.0);
    for (std::int64_t o = 0; o < outputs; ++o) {
      for (std::int64_t i = 0; i < inputs; ++i) {
        const std::int64_t k = out_in ? o * inputs + i : i * outputs + o;
        shift[static_cast<std::size_t>(o)] += alpha * (quantized_weight[k] - weight[k]) * expected[static_cast<std::size_t>(i)];
      }
    }
    return shift;
  }
  const ops::ConvShape conv = ops::conv_shape(layer, shapes.at(layer.inputs[0]), weight.shape());
  if (static_cast<std::int64_t>(expected.size()) != conv.in_channels) return {};
  const std::int64_t positions = conv.window.output_size(), taps = conv.window.window_size();
  std::vector<double> inside(static_cast<std::size_t>(taps), 0.0);
  for (std::int64_t p = 0; p < positions; ++p) {
    for (std::int64_t k = 0; k < taps; ++k) {
      if (conv.tap_offsets[static_cast<std::size_t>(p * taps + k)] >= 0) inside[static_cast<std::size_t>(k)] += 1.0;
    }
  }
  for (double& fraction : inside) fraction /= static_cast<double>(positions);
  const std::int64_t per_group = conv.in_per_group();
  std::vector<double> shift(static_cast<std::size_t>(conv.out_channels), 0.0);
  for (std::int64_t o = 0; o < conv.out_channels; ++o) {
    const std::int64_t first_channel = (o / conv.out_per_group()) * per_group;
    for (std::int64_t c = 0; c < per_group; ++c) {
      for (std::int64_t k = 0; k < taps; ++k) {
        const std::int64_t index = (o * per_group + c) * taps + k;
        shift[static_cast<std::size_t>(o)] += (quantized_weight[index] - weight[index]) *
                                              expected[static_cast<std::size_t>(first_channel + c)] *
                                              inside[static_cast<std::size_t>(k)];
      }
    }
  }
  return shift;
}

}  // namespace

double clipped_normal_mean(double mean, double std, double lo, double hi) {
  if (!(std > 0.0)) return std::clamp(mean, lo, hi);
  constexpr double kInverseSqrt2Pi = 0.39894228040143267794;
  const auto cdf = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
  const auto pdf = [&](double z) { return std::isinf(z) ? 0.0 : kInverseSqrt2Pi * std::exp(-0.5 * z * z); };
  const double a = (lo - mean) / std, b = (hi - mean) / std;
  // E = lo P(z < lo) + E[z; lo <= z <= hi] + hi P(z > hi), each term 0 where its bound is infinite.
  const double below = std::isinf(lo) ? 0.0 : lo * cdf(a);
  const double above = std::isinf(hi) ? 0.0 : hi * (1.0 - cdf(b));
  return below + mean * (cdf(b) - cdf(a)) + std * (pdf(a) - pdf(b)) + above;
}

Model correct_biases(const Model& quantized, const Tensor& data, std::int64_t batch_size,
                     std::vector<CorrectedBias>* report, BiasCorrectionMethod method) {
  check_calibration_data(quantized, data, batch_size, "bias correction");
  Graph graph = quantized.graph();
  const ConversionPlan& plan = quantized.plan();
  const std::map<std::string, int> reads = read_counts(graph);
  std::vector<std::size_t> layers;  // those with a bias of their own (or none)
  for (std::size_t n : quantized_weight_layers(quantized, "bias correction")) {
    const Node& node = graph.nodes[n];
    const bool has_bias = node.inputs.size() > 2 && !node.inputs[2].empty();
    if (has_bias && (constant_input(graph, node, 2) == nullptr || reads.at(node.inputs[2]) != 1)) continue;
    layers.push_back(n);
  }
  if (layers.empty()) {
    throw ModelError(graph.source + ": bias correction: the quantized layers' biases are shared; none to correct");
  }

  // Analytical shifts first: they need the float weights, not the corrections before them.
  std::map<std::size_t, std::vector<double>> computed;
  if (method == BiasCorrectionMethod::analytical) {
    const std::map<std::string, std::size_t> producer = producers(graph);
    const std::map<std::string, Shape> shapes = value_shapes(graph, data);
    for (std::size_t n : layers) {
      std::vector<double> shift = analytical_shift(quantized, graph, n, producer, shapes);
      if (!shift.empty()) computed[n] = std::move(shift);
    }
  }
  Model float_model(graph);
  const auto float_means = channel_means(float_model, layers, data, batch_size);
  const ConversionPlan measured_plan = weights_only(plan);
  std::vector<CorrectedBias> corrected;
  for (std::size_t n : layers) {
    CorrectedBias entry{graph.nodes[n].module, 0.0, 0.0, computed.contains(n) ? "analytical" : "empirical"};
    std::vector<double> shift;
    if (computed.contains(n)) {
      shift = computed.at(n);
    } else {
      Model measured = apply_plan(Model(graph), measured_plan);
      const std::vector<double> quantized_means = channel_means(measured, {n}, data, batch_size).at(n);
      const std::vector<double>& reference = float_means.at(n);
      shift.resize(reference.size());
      for (std::size_t c = 0; c < shift.size(); ++c) shift[c] = quantized_means[c] - reference[c];
    }
    for (std::size_t c = 0; c < shift.size(); ++c) {
      entry.mean_abs_shift += std::abs(shift[c]) / static_cast<double>(shift.size());
      entry.largest_shift = std::max(entry.largest_shift, std::abs(shift[c]));
    }
    subtract_from_bias(graph, graph.nodes[n], shift);
    corrected.push_back(entry);
  }
  if (report != nullptr) *report = std::move(corrected);
  return apply_plan(Model(std::move(graph)), plan);
}

}  // namespace tessera::nn
