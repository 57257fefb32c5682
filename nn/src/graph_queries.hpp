// Questions graph passes ask of an ONNX graph (BatchNorm folding, cross-layer equalization).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

/// The constant tensor at a node's input, or null when that input is absent or computed.
const Tensor* constant_input(const Graph& graph, const Node& node, std::size_t input);
/// How often each value is read (by nodes, and once more for each graph output it is).
std::map<std::string, int> read_counts(const Graph& graph);
/// The index of the node that produces each value.
std::map<std::string, std::size_t> producers(const Graph& graph);
/// A Clip's (min, max), an absent bound as -inf / +inf; nullopt for other ops and for bounds
/// that are computed or not scalars.
std::optional<std::pair<float, float>> clip_bounds(const Graph& graph, const Node& node);

}  // namespace tessera::nn
