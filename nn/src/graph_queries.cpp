#include "graph_queries.hpp"

#include <limits>

namespace tessera::nn {

const Tensor* constant_input(const Graph& graph, const Node& node, std::size_t input) {
  if (input >= node.inputs.size()) return nullptr;
  const auto found = graph.initializers.find(node.inputs[input]);
  return found == graph.initializers.end() ? nullptr : &found->second.tensor;
}

std::map<std::string, int> read_counts(const Graph& graph) {
  std::map<std::string, int> count;
  for (const Node& node : graph.nodes) {
    for (const std::string& input : node.inputs) ++count[input];
  }
  for (const std::string& output : graph.outputs) ++count[output];
  return count;
}

std::map<std::string, std::size_t> producers(const Graph& graph) {
  std::map<std::string, std::size_t> producer;
  for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
    for (const std::string& output : graph.nodes[n].outputs) producer[output] = n;
  }
  return producer;
}

std::optional<std::pair<float, float>> clip_bounds(const Graph& graph, const Node& node) {
  if (node.op_type != "Clip") return std::nullopt;
  float low = -std::numeric_limits<float>::infinity(), high = std::numeric_limits<float>::infinity();
  if (graph.opset < 11) {
    return std::pair{node.attributes.get_float("min", low), node.attributes.get_float("max", high)};
  }
  const Tensor* min = constant_input(graph, node, 1);
  const Tensor* max = constant_input(graph, node, 2);
  if (node.inputs.size() > 1 && !node.inputs[1].empty() && (min == nullptr || min->size() != 1)) return std::nullopt;
  if (node.inputs.size() > 2 && !node.inputs[2].empty() && (max == nullptr || max->size() != 1)) return std::nullopt;
  if (min != nullptr) low = (*min)[0];
  if (max != nullptr) high = (*max)[0];
  return std::pair{low, high};
}

}  // namespace tessera::nn
