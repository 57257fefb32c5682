#include "graph_queries.hpp"

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

}  // namespace tessera::nn
