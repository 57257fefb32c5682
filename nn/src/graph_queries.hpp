// Questions graph passes ask of an ONNX graph (BatchNorm folding, cross-layer equalization).
#pragma once

#include <map>
#include <string>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

/// The constant tensor at a node's input, or null when that input is absent or computed.
const Tensor* constant_input(const Graph& graph, const Node& node, std::size_t input);
/// How often each value is read (by nodes, and once more for each graph output it is).
std::map<std::string, int> read_counts(const Graph& graph);
/// The index of the node that produces each value.
std::map<std::string, std::size_t> producers(const Graph& graph);

}  // namespace tessera::nn
