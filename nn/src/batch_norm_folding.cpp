#include "tessera/nn/batch_norm_folding.hpp"

#include <cmath>
#include <map>

#include "graph_queries.hpp"
#include "tessera/nn/errors.hpp"

namespace tessera::nn {
namespace {

// Per output channel of a layer's weight: {element index -> channel}. Conv: axis 0; Gemm: the
// axis of B that indexes outputs.
std::int64_t output_axis(const Node& layer) {
  if (layer.op_type == "Gemm") return layer.attributes.get_int("transB", 0) != 0 ? 0 : 1;
  return 0;
}

// A name for the folded bias: the layer's own "<module>.bias" when free.
std::string bias_name(const Graph& graph, const Node& layer) {
  const std::string& weight = layer.inputs[1];
  const auto dot = weight.rfind('.');
  std::string name = dot == std::string::npos ? weight + ".bias" : weight.substr(0, dot) + ".bias";
  while (graph.initializers.count(name) > 0) name += "_folded";
  return name;
}

bool fold_pair(Graph& graph, Node& layer, const Node& norm, const std::map<std::string, int>& read_count) {
  if (layer.op_type != "Conv" && layer.op_type != "Gemm") return false;
  if (layer.outputs.size() != 1 || read_count.at(layer.outputs[0]) != 1) return false;
  if (norm.attributes.get_int("training_mode", 0) != 0 || norm.outputs.empty()) return false;
  const Tensor* weight = constant_input(graph, layer, 1);
  const Tensor *scale = constant_input(graph, norm, 1), *shift = constant_input(graph, norm, 2);
  const Tensor *mean = constant_input(graph, norm, 3), *var = constant_input(graph, norm, 4);
  if (weight == nullptr || scale == nullptr || shift == nullptr || mean == nullptr || var == nullptr) return false;
  if (read_count.at(layer.inputs[1]) != 1) return false;  // a weight other layers read too stays as it is
  if (layer.op_type == "Gemm" && (layer.attributes.get_float("alpha", 1.0f) != 1.0f ||
                                  layer.attributes.get_float("beta", 1.0f) != 1.0f)) {
    return false;
  }
  const std::int64_t axis = output_axis(layer);
  if (weight->rank() < 2) return false;
  const std::int64_t channels = weight->dim(static_cast<int>(axis));
  if (scale->size() != channels || shift->size() != channels || mean->size() != channels || var->size() != channels) {
    return false;
  }
  const Tensor* bias = constant_input(graph, layer, 2);
  if (layer.inputs.size() > 2 && !layer.inputs[2].empty() && (bias == nullptr || bias->size() != channels ||
                                                              read_count.at(layer.inputs[2]) != 1)) {
    return false;
  }
  const float epsilon = norm.attributes.get_float("epsilon", 1e-5f);
  std::vector<float> factor(static_cast<std::size_t>(channels));
  Tensor folded_bias({channels});
  for (std::int64_t c = 0; c < channels; ++c) {
    factor[static_cast<std::size_t>(c)] = (*scale)[c] / std::sqrt((*var)[c] + epsilon);
    const float b = bias != nullptr ? (*bias)[c] : 0.0f;
    folded_bias[c] = (b - (*mean)[c]) * factor[static_cast<std::size_t>(c)] + (*shift)[c];
  }
  Tensor folded_weight = *weight;
  const std::int64_t inner = axis == 0 ? weight->size() / channels : 1;
  for (std::int64_t k = 0; k < folded_weight.size(); ++k) {
    const std::int64_t c = axis == 0 ? k / inner : k % channels;
    folded_weight[k] *= factor[static_cast<std::size_t>(c)];
  }
  graph.initializers[layer.inputs[1]].tensor = std::move(folded_weight);
  if (bias != nullptr) {
    graph.initializers[layer.inputs[2]].tensor = std::move(folded_bias);
  } else {
    const std::string name = bias_name(graph, layer);
    graph.initializers[name] = Value::floats(std::move(folded_bias));
    layer.inputs.resize(3);
    layer.inputs[2] = name;
  }
  layer.outputs[0] = norm.outputs[0];  // the layer now produces what the BatchNorm did
  ChannelStatistics& statistics = graph.batch_norm_statistics[norm.outputs[0]];
  for (std::int64_t c = 0; c < channels; ++c) {
    statistics.mean.push_back((*shift)[c]);
    statistics.std.push_back(std::abs((*scale)[c]));
  }
  return true;
}

}  // namespace

Model fold_batch_norms(const Model& model, std::vector<FoldedBatchNorm>* folded) {
  for (const PlannedModule& m : model.plan().modules) {
    if (m.is_converted()) {
      throw ModelError(model.graph().source + ": fold BatchNorms before converting ('" + m.module +
                       "' is already " + m.became + ")");
    }
  }
  Graph graph = model.graph();
  const std::map<std::string, int> read_count = read_counts(graph);
  const std::map<std::string, std::size_t> producer = producers(graph);
  std::vector<bool> removed(graph.nodes.size(), false);
  std::vector<FoldedBatchNorm> pairs;
  for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& norm = graph.nodes[n];
    if (norm.op_type != "BatchNormalization" || norm.inputs.empty()) continue;
    const auto source = producer.find(norm.inputs[0]);
    if (source == producer.end()) continue;
    Node& layer = graph.nodes[source->second];
    const std::string layer_module = layer.module;
    if (fold_pair(graph, layer, norm, read_count)) {
      removed[n] = true;
      pairs.push_back({norm.module, layer_module});
    }
  }
  std::vector<Node> kept;
  for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
    if (!removed[n]) kept.push_back(std::move(graph.nodes[n]));
  }
  graph.nodes = std::move(kept);
  if (folded != nullptr) *folded = std::move(pairs);
  return Model(std::move(graph));
}

}  // namespace tessera::nn
