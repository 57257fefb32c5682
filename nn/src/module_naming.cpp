#include "module_naming.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <stdexcept>

#include "tessera/nn/errors.hpp"

namespace tessera::nn {
namespace {

bool is_constant(const Graph& graph, const std::string& value) { return graph.initializers.count(value) > 0; }

bool constant_input(const Graph& graph, const Node& node, std::size_t index) {
  return index < node.inputs.size() && is_constant(graph, node.inputs[index]);
}

const Tensor* constant_tensor(const Graph& graph, const Node& node, std::size_t index) {
  if (!constant_input(graph, node, index)) return nullptr;
  return &graph.initializers.at(node.inputs[index]).tensor;
}

int rank_of(const Graph& graph, const std::string& value) {
  if (const auto constant = graph.initializers.find(value); constant != graph.initializers.end()) {
    return static_cast<int>(constant->second.tensor.rank());
  }
  const auto known = graph.ranks.find(value);
  return known == graph.ranks.end() ? -1 : known->second;
}

// "Conv2d" from ("Conv", 2); the ONNX name when the rank is not known.
std::string with_dims(const std::string& stem, int spatial, const std::string& op_type) {
  return spatial >= 1 && spatial <= 3 ? stem + std::to_string(spatial) + "d" : op_type;
}

// The part of torch's scope names that says which module ran a node: "/a/a.0/b/Conv" holds
// the parts a, a.0, b (the last part is the operator). A part that extends the previous one
// ("a" -> "a.0") names a child of the same container; any other part is relative to the name
// so far ("a.0" -> "b" is "a.0.b").
std::string scope_module(const std::vector<std::string>& scope) {
  std::string anchor, full, previous;
  for (std::size_t k = 0; k + 1 < scope.size(); ++k) {
    const std::string& part = scope[k];
    const bool extends =
        !previous.empty() && part.size() > previous.size() && part.compare(0, previous.size() + 1, previous + ".") == 0;
    if (!extends) anchor = full;
    full = anchor.empty() ? part : anchor + "." + part;
    previous = part;
  }
  return full;
}

std::vector<std::string> split_scope(const std::string& name) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t slash = name.find('/', start);
    const std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

// "features.0.weight" names a parameter of module "features.0"; "onnx::Conv_12" and
// "/features/Constant_output_0" name nothing.
std::string module_of_parameter(const std::string& name) {
  if (name.find('/') != std::string::npos || name.find(':') != std::string::npos) return "";
  const auto dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? "" : name.substr(0, dot);
}

std::string module_of(const Node& node, const Graph& graph) {
  std::string from_parameter;
  for (const std::string& input : node.inputs) {
    if (!is_parameter(graph, input)) continue;
    from_parameter = module_of_parameter(input);
    if (!from_parameter.empty()) break;
  }
  if (!node.name.empty() && node.name.front() == '/') {
    const std::vector<std::string> scope = split_scope(node.name);
    if (scope.size() == 1) return scope.front();  // a functional operator of the top module: "/Flatten"
    const std::string module = scope_module(scope);
    // A module that uses a child's weights directly (MultiheadAttention and its out_proj) runs
    // the child's product in its own scope; the weight's name says which module it is.
    const bool child = from_parameter.size() > module.size() + 1 &&
                       from_parameter.compare(0, module.size() + 1, module + ".") == 0;
    return child ? from_parameter : module;
  }
  return from_parameter.empty() ? node.name : from_parameter;
}

// "relu_1" -> ("relu", 1); ("", 0) when the name has no call suffix.
std::pair<std::string, int> split_call_suffix(const std::string& module) {
  const auto underscore = module.rfind('_');
  if (underscore == std::string::npos || underscore == 0 || underscore + 1 == module.size()) return {"", 0};
  const std::string digits = module.substr(underscore + 1);
  if (digits.size() > 4 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return {"", 0};
  return {module.substr(0, underscore), std::stoi(digits)};
}

// What a call of a module runs: its operators in order and the constants they read.
std::vector<std::string> call_signature(const Graph& graph, const std::vector<std::size_t>& nodes) {
  std::vector<std::string> signature;
  for (std::size_t n : nodes) {
    const Node& node = graph.nodes[n];
    signature.push_back(node.op_type);
    for (const std::string& input : node.inputs) {
      if (is_parameter(graph, input)) signature.push_back("@" + input);
    }
  }
  return signature;
}

// Operators that move, shape or select data without computing on it: they do not say what a
// module is (an LSTM module also holds Shape, Gather and Squeeze nodes).
bool is_plumbing(const Node& node, const Graph& graph) {
  static const std::set<std::string, std::less<>> kPlumbing{
      "Cast",  "Concat", "Constant", "ConstantOfShape", "Equal",   "Expand", "Identity", "Range", "Reshape",
      "Shape", "Size",   "Slice",    "Split",           "Squeeze", "Tile",   "Transpose", "Unsqueeze", "Where"};
  if (node.op_type == "Gather") return !(constant_input(graph, node, 0) && rank_of(graph, node.inputs[0]) >= 2);
  return kPlumbing.count(node.op_type) > 0;
}

// Naming runs before the operators check their attributes. An attribute of the wrong type is
// reported there, with its node; here it reads as absent.
template <class Read>
auto read_attribute_or(Read read, decltype(read()) absent) {
  try {
    return read();
  } catch (const std::invalid_argument&) {
    return absent;
  }
}

// How many integers a list attribute holds; -1 when it is not a list of integers.
int list_length(const Node& node, const std::string& name) {
  return read_attribute_or([&] { return static_cast<int>(node.attributes.get_ints(name).size()); }, -1);
}

std::string clip_type(const Graph& graph, const Node& node) {
  float low = read_attribute_or([&] { return node.attributes.get_float("min", -3.4e38f); }, -3.4e38f);
  float high = read_attribute_or([&] { return node.attributes.get_float("max", 3.4e38f); }, 3.4e38f);
  if (const Tensor* t = constant_tensor(graph, node, 1); t != nullptr && t->size() == 1) low = (*t)[0];
  if (const Tensor* t = constant_tensor(graph, node, 2); t != nullptr && t->size() == 1) high = (*t)[0];
  return low == 0.0f && high == 6.0f ? "ReLU6" : "Hardtanh";
}

// A module made only of these operators (and plumbing), with all of `required` among them.
bool made_of(const std::set<std::string>& ops, const std::set<std::string>& allowed,
             const std::set<std::string>& required) {
  return std::includes(allowed.begin(), allowed.end(), ops.begin(), ops.end()) &&
         std::includes(ops.begin(), ops.end(), required.begin(), required.end());
}

std::string single_operator_type(const Graph& graph, const Node& node) {
  static const std::map<std::string, std::string, std::less<>> kRenamed{
      {"Relu", "ReLU"},      {"LeakyRelu", "LeakyReLU"},      {"PRelu", "PReLU"},       {"Elu", "ELU"},
      {"Selu", "SELU"},      {"Celu", "CELU"},                {"Gelu", "GELU"},         {"Sigmoid", "Sigmoid"},
      {"Tanh", "Tanh"},      {"HardSigmoid", "Hardsigmoid"},  {"HardSwish", "Hardswish"}, {"Softmax", "Softmax"},
      {"LogSoftmax", "LogSoftmax"}, {"Softplus", "Softplus"}, {"Softsign", "Softsign"}, {"Flatten", "Flatten"},
      {"Dropout", "Dropout"}, {"Resize", "Upsample"},         {"Upsample", "Upsample"}};
  if (node.op_type == "Clip") return clip_type(graph, node);
  const int spatial_from_input = node.inputs.empty() ? -1 : rank_of(graph, node.inputs[0]) - 2;
  const int spatial_from_kernel = list_length(node, "kernel_shape");
  if (node.op_type == "MaxPool") return with_dims("MaxPool", spatial_from_kernel, node.op_type);
  if (node.op_type == "AveragePool") return with_dims("AvgPool", spatial_from_kernel, node.op_type);
  if (node.op_type == "GlobalAveragePool") return with_dims("AdaptiveAvgPool", spatial_from_input, node.op_type);
  if (node.op_type == "GlobalMaxPool") return with_dims("AdaptiveMaxPool", spatial_from_input, node.op_type);
  const auto renamed = kRenamed.find(node.op_type);
  return renamed == kRenamed.end() ? "" : renamed->second;
}

// The rank an operator's first output has, from its inputs' ranks (-1 when unknown). Covers
// what naming needs (the rank reaching BatchNorm and global pooling), not every operator.
int output_rank(const Graph& graph, const Node& node) {
  static const std::set<std::string, std::less<>> kSameRank{
      "Abs", "AveragePool", "BatchNormalization", "Cast", "Celu", "Clip", "Concat", "Conv", "ConvTranspose", "Dropout",
      "Elu", "Erf", "Exp", "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "HardSwish", "Identity",
      "InstanceNormalization", "LayerNormalization", "LeakyRelu", "Log", "LogSoftmax", "LRN", "MaxPool", "Neg", "Pad",
      "Reciprocal", "Relu", "Resize", "Selu", "Sigmoid", "Slice", "Softmax", "Softplus", "Softsign", "Sqrt", "Tanh",
      "Transpose", "Upsample"};
  static const std::set<std::string, std::less<>> kBroadcast{"Add", "Sub", "Mul", "Div", "Pow", "PRelu", "Max",
                                                             "Min", "Sum", "Mean", "Where", "Equal", "Less", "Greater"};
  const auto rank = [&](std::size_t i) { return i < node.inputs.size() ? rank_of(graph, node.inputs[i]) : -1; };
  const auto count = [&](const char* attribute, std::size_t input) -> int {  // axes as attribute or input
    if (node.attributes.has(attribute)) return list_length(node, attribute);
    const Tensor* t = constant_tensor(graph, node, input);
    return t == nullptr ? -1 : static_cast<int>(t->size());
  };
  const std::string& op = node.op_type;
  if (kSameRank.count(op) > 0) return rank(0);
  if (kBroadcast.count(op) > 0) {
    int widest = -1;
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      if (rank(i) < 0) return -1;
      widest = std::max(widest, rank(i));
    }
    return widest;
  }
  if (op == "Flatten" || op == "Gemm") return 2;
  if (op == "Shape") return 1;
  if (op == "MatMul") return rank(0) >= 2 && rank(1) >= 2 ? std::max(rank(0), rank(1)) : -1;
  if (op == "Reshape") return count("", 1);
  if (op == "Unsqueeze") return rank(0) < 0 || count("axes", 1) < 0 ? -1 : rank(0) + count("axes", 1);
  if (op == "Squeeze") return rank(0) < 0 || count("axes", 1) < 0 ? -1 : rank(0) - count("axes", 1);
  if (op == "Gather") return rank(0) < 0 || rank(1) < 0 ? -1 : rank(0) - 1 + rank(1);
  if (op.rfind("Reduce", 0) == 0) {
    if (read_attribute_or([&] { return node.attributes.get_int("keepdims", 1); }, 1) != 0) return rank(0);
    return rank(0) < 0 || count("axes", 1) < 0 ? -1 : rank(0) - count("axes", 1);
  }
  if (op == "LSTM" || op == "GRU" || op == "RNN") return 4;
  return -1;
}

}  // namespace

void infer_ranks(Graph& graph) {
  for (const Node& node : graph.nodes) {
    if (node.outputs.empty() || node.outputs[0].empty() || graph.ranks.count(node.outputs[0]) > 0) continue;
    if (const int rank = output_rank(graph, node); rank >= 0) graph.ranks[node.outputs[0]] = rank;
  }
}

bool is_parameter(const Graph& graph, const std::string& initializer) {
  const auto found = graph.initializers.find(initializer);
  return found != graph.initializers.end() && graph.constants.count(initializer) == 0 &&
         found->second.type == DataType::kFloat && found->second.tensor.rank() >= 1;
}

void fold_constant_nodes(Graph& graph) {
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  for (Node& node : graph.nodes) {
    if (node.op_type == "Constant" && node.outputs.size() == 1) {
      std::vector<Value> value = make_operator(node, graph.opset)->run({});
      graph.initializers[node.outputs[0]] = std::move(value.at(0));
      graph.constants.insert(node.outputs[0]);
      continue;
    }
    if (node.op_type == "Identity" && node.inputs.size() == 1 && node.outputs.size() == 1 &&
        is_constant(graph, node.inputs[0])) {
      graph.initializers[node.outputs[0]] = graph.initializers.at(node.inputs[0]);
      if (graph.constants.count(node.inputs[0]) > 0) graph.constants.insert(node.outputs[0]);
      continue;
    }
    kept.push_back(std::move(node));
  }
  graph.nodes = std::move(kept);
}

void assign_modules(Graph& graph) {
  std::map<std::string, std::vector<std::size_t>> nodes_of;
  for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
    Node& node = graph.nodes[n];
    node.module = module_of(node, graph);
    node.call = 0;
    nodes_of[node.module].push_back(n);
  }
  for (const auto& [module, nodes] : nodes_of) {
    const auto [base, call] = split_call_suffix(module);
    const auto first_call = nodes_of.find(base);
    if (call == 0 || first_call == nodes_of.end()) continue;
    if (call_signature(graph, nodes) != call_signature(graph, first_call->second)) continue;
    for (std::size_t n : nodes) {
      graph.nodes[n].module = base;
      graph.nodes[n].call = call;
    }
  }
}

std::string module_type_of(const Graph& graph, const std::vector<std::size_t>& node_indices) {
  std::set<std::string> ops;  // what the module computes, plumbing aside
  const Node* first_significant = nullptr;
  for (std::size_t n : node_indices) {
    const Node& node = graph.nodes[n];
    if (is_plumbing(node, graph)) continue;
    ops.insert(node.op_type);
    if (first_significant == nullptr) first_significant = &node;
  }
  // Layers with weights, by the operator that holds them.
  const Node* linear = nullptr;
  for (std::size_t n : node_indices) {
    const Node& node = graph.nodes[n];
    const int spatial = node.inputs.size() > 1 ? rank_of(graph, node.inputs[1]) - 2 : -1;
    if (node.op_type == "Conv") return with_dims("Conv", spatial, node.op_type);
    if (node.op_type == "ConvTranspose") return with_dims("ConvTranspose", spatial, node.op_type);
    if (node.op_type == "LSTM" || node.op_type == "GRU" || node.op_type == "RNN") return node.op_type;
    const bool constant_matrix = constant_input(graph, node, 1) && rank_of(graph, node.inputs[1]) == 2;
    if (linear == nullptr && (node.op_type == "Gemm" || (node.op_type == "MatMul" && constant_matrix))) linear = &node;
  }
  if (linear != nullptr) return ops.count("Softmax") > 0 ? "MultiheadAttention" : "Linear";
  if (ops.count("Gather") > 0) return "Embedding";  // a Gather that is not plumbing reads a weight table
  for (std::size_t n : node_indices) {
    const Node& node = graph.nodes[n];
    const int spatial = node.inputs.empty() ? -1 : rank_of(graph, node.inputs[0]) - 2;
    if (node.op_type == "BatchNormalization") return with_dims("BatchNorm", spatial, node.op_type);
    if (node.op_type == "InstanceNormalization") return with_dims("InstanceNorm", spatial, node.op_type);
    if (node.op_type == "LayerNormalization") return "LayerNorm";
  }
  // Modules torch exports as several operators.
  if (made_of(ops, {"Add", "Div", "Mul", "Pow", "ReduceMean", "Sqrt", "Sub"}, {"Div", "ReduceMean", "Sqrt", "Sub"})) {
    return "LayerNorm";
  }
  if (made_of(ops, {"Add", "Div", "Erf", "Mul"}, {"Erf"})) return "GELU";
  if (made_of(ops, {"HardSigmoid", "Mul"}, {"HardSigmoid", "Mul"})) return "Hardswish";
  if (made_of(ops, {"Mul", "Sigmoid"}, {"Mul", "Sigmoid"})) return "SiLU";
  if (made_of(ops, {"Mul", "Softplus", "Tanh"}, {"Mul", "Softplus", "Tanh"})) return "Mish";
  if (ops.size() == 1) {
    if (std::string type = single_operator_type(graph, *first_significant); !type.empty()) return type;
  }
  if (first_significant != nullptr) return first_significant->op_type;
  return node_indices.empty() ? "" : graph.nodes[node_indices.front()].op_type;
}

}  // namespace tessera::nn
