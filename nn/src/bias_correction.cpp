#include "tessera/nn/bias_correction.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "graph_queries.hpp"
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

}  // namespace

Model correct_biases(const Model& quantized, const Tensor& data, std::int64_t batch_size,
                     std::vector<CorrectedBias>* report) {
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

  Model float_model(graph);
  const auto float_means = channel_means(float_model, layers, data, batch_size);
  const ConversionPlan measured_plan = weights_only(plan);
  std::vector<CorrectedBias> corrected;
  for (std::size_t n : layers) {
    Model measured = apply_plan(Model(graph), measured_plan);
    const std::vector<double> quantized_means = channel_means(measured, {n}, data, batch_size).at(n);
    const std::vector<double>& reference = float_means.at(n);
    std::vector<double> shift(reference.size());
    CorrectedBias entry{graph.nodes[n].module, 0.0, 0.0};
    for (std::size_t c = 0; c < shift.size(); ++c) {
      shift[c] = quantized_means[c] - reference[c];
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
