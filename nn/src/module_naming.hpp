// How an imported graph becomes a tree of torch-style modules: constants folded, each node given
// the module (and the call of it) it came from, and each module the torch class it stands for.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

/// Folds Constant nodes, and Identity nodes of constants, into initializers. torch's exporter
/// writes small operands as Constant nodes and identical weights (two layers that start alike)
/// as Identity nodes of one initializer; folded, those weights are constant inputs like any
/// other, and no module consists of constants alone.
void fold_constant_nodes(Graph& graph);

/// Fills Graph::ranks from the ranks known (graph inputs, constants) through the operators
/// that naming looks behind (what rank reaches a BatchNormalization or a global pooling).
void infer_ranks(Graph& graph);

/// Sets Node::module and Node::call. The module comes from the scope torch.onnx writes into
/// node names ("/layer1/layer1.0/conv1/Conv" -> "layer1.0.conv1"), else from the first
/// state-dict-like initializer ("features.0.weight" -> "features.0"), else the node name. A
/// module torch called twice appears as "relu" and "relu_1": the second becomes call 1 of
/// "relu" when both calls run the same operators on the same weights.
void assign_modules(Graph& graph);

/// The torch class a module made of these nodes stands for (module_types.hpp), e.g. Conv2d for
/// a Conv with a 4-d weight, ReLU6 for Clip(0, 6), Hardswish for HardSigmoid + Mul; a container
/// of functional operators keeps the first operator's name (Add).
std::string module_type_of(const Graph& graph, const std::vector<std::size_t>& nodes);

/// Whether an initializer is a learned parameter: a float tensor of rank >= 1 from the file
/// (shapes, indices, scalars and folded Constant nodes are not).
bool is_parameter(const Graph& graph, const std::string& initializer);

}  // namespace tessera::nn
