#include "tessera/nn/model.hpp"

#include <set>

#include "tessera/nn/errors.hpp"
#include "tessera/simulator/backend.hpp"

namespace tessera::nn {
namespace {

// The module a node belongs to: the prefix of its first dotted initializer ("features.0.weight"
// -> "features.0"), else the scope torch.onnx writes into node names ("/features/features.1/Relu"
// -> "features.1"), else the node name itself.
std::string module_of(const Node& node, const Graph& graph) {
  for (const std::string& input : node.inputs) {
    const auto dot = input.rfind('.');
    if (graph.initializers.count(input) > 0 && dot != std::string::npos && dot > 0) return input.substr(0, dot);
  }
  // torch.onnx writes one scope part per module level, each a dotted name relative to an
  // anchor: a part that extends the previous one ("seq" -> "seq.0") stays under the same anchor;
  // any other part starts a level below the name so far ("0" -> "act" is "0.act").
  std::vector<std::string> scope;
  std::size_t start = 0;
  while (start <= node.name.size()) {
    const std::size_t slash = node.name.find('/', start);
    const std::string part = node.name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) scope.push_back(part);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (scope.size() >= 2) {
    std::string anchor, full, previous;
    for (std::size_t k = 0; k + 1 < scope.size(); ++k) {
      const std::string& part = scope[k];
      const bool extends = !previous.empty() && part.size() > previous.size() &&
                           part.compare(0, previous.size() + 1, previous + ".") == 0;
      if (!extends) anchor = full;
      full = anchor.empty() ? part : anchor + "." + part;
      previous = part;
    }
    return full;
  }
  return node.name;
}

std::string module_type(const Node& node, const Graph& graph) {
  auto weight_rank = [&]() -> std::int64_t {
    if (node.inputs.size() < 2) return -1;
    const auto found = graph.initializers.find(node.inputs[1]);
    return found == graph.initializers.end() ? -1 : found->second.tensor.rank();
  };
  if (node.op_type == "Conv") {
    const std::int64_t rank = weight_rank();
    return rank >= 3 ? "Conv" + std::to_string(rank - 2) + "d" : "Conv";
  }
  if (node.op_type == "Gemm" || (node.op_type == "MatMul" && weight_rank() == 2)) return "Linear";
  if (node.op_type == "Relu") return "ReLU";
  if (node.op_type == "BatchNormalization") return "BatchNorm";
  return node.op_type;
}

bool is_principal(const std::string& type) { return type == "Linear" || type.rfind("Conv", 0) == 0; }

}  // namespace

Model::Model(Graph graph) : graph_(std::move(graph)) {
  std::set<std::string> defined(graph_.inputs.begin(), graph_.inputs.end());
  for (const auto& entry : graph_.initializers) defined.insert(entry.first);
  std::map<std::string, std::size_t> module_index;
  for (std::size_t n = 0; n < graph_.nodes.size(); ++n) {
    Node& node = graph_.nodes[n];
    if (node.name.empty()) node.name = node.op_type + "_" + std::to_string(n);
    for (const std::string& name : node.inputs) {
      if (!name.empty() && defined.count(name) == 0) {
        throw ModelError(graph_.source + ": " + node.describe() + ": input '" + name +
                         "' is not a graph input, an initializer or the output of an earlier node");
      }
    }
    for (const std::string& name : node.outputs) defined.insert(name);
    node.module = module_of(node, graph_);
    const auto [position, inserted] = module_index.emplace(node.module, modules_.size());
    if (inserted) modules_.push_back(ModuleInfo{node.module, module_type(node, graph_), {}, {}, 0});
    ModuleInfo& module = modules_[position->second];
    module.nodes.push_back(n);
    const std::string type = module_type(node, graph_);
    if (is_principal(type) && !is_principal(module.type)) module.type = type;
    for (const std::string& name : node.inputs) {
      const auto initializer = graph_.initializers.find(name);
      if (initializer == graph_.initializers.end()) continue;
      if (std::find(module.weights.begin(), module.weights.end(), name) != module.weights.end()) continue;
      module.weights.push_back(name);
      module.parameter_count += initializer->second.tensor.size();
    }
  }
  for (const std::string& name : graph_.outputs) {
    if (defined.count(name) == 0) throw ModelError(graph_.source + ": graph output '" + name + "' is never produced");
  }
  for (const Node& node : graph_.nodes) {
    try {
      operators_.push_back(make_operator(node, graph_.opset));
    } catch (const UnsupportedError& error) {
      throw UnsupportedError(graph_.source + ": " + error.what());
    } catch (const ModelError& error) {
      throw ModelError(graph_.source + ": " + error.what());
    }
  }
  // Free every intermediate value after the last node that reads it.
  std::map<std::string, std::size_t> last_use;
  for (std::size_t n = 0; n < graph_.nodes.size(); ++n) {
    for (const std::string& name : graph_.nodes[n].inputs) last_use[name] = n;
  }
  for (const std::string& name : graph_.outputs) last_use[name] = graph_.nodes.size();
  released_after_.resize(graph_.nodes.size());
  for (const auto& [name, n] : last_use) {
    if (n < graph_.nodes.size() && graph_.initializers.count(name) == 0) released_after_[n].push_back(name);
  }
}

const ModuleInfo* Model::find_module(const std::string& name) const {
  for (const ModuleInfo& module : modules_) {
    if (module.name == name) return &module;
  }
  return nullptr;
}

std::vector<Value> Model::run(const std::vector<Value>& inputs, const NodeObserver& observe) {
  if (inputs.size() != graph_.inputs.size()) {
    throw ModelError(graph_.source + ": the model takes " + std::to_string(graph_.inputs.size()) + " inputs, got " +
                     std::to_string(inputs.size()));
  }
  std::map<std::string, Value> values;
  for (std::size_t i = 0; i < inputs.size(); ++i) values[graph_.inputs[i]] = inputs[i];
  std::vector<const Value*> arguments;
  for (std::size_t n = 0; n < graph_.nodes.size(); ++n) {
    const Node& node = graph_.nodes[n];
    arguments.clear();
    for (const std::string& name : node.inputs) {
      if (name.empty()) {
        arguments.push_back(nullptr);
        continue;
      }
      const auto initializer = graph_.initializers.find(name);
      arguments.push_back(initializer != graph_.initializers.end() ? &initializer->second : &values.at(name));
    }
    std::vector<Value> outputs;
    try {
      outputs = operators_[n]->run(arguments);
    } catch (const ModelError&) {
      throw;
    } catch (const std::exception& error) {
      throw ModelError(graph_.source + ": " + node.describe() + ": " + error.what());
    }
    if (observe) observe(n, outputs);
    for (std::size_t o = 0; o < node.outputs.size() && o < outputs.size(); ++o) {
      if (!node.outputs[o].empty()) values[node.outputs[o]] = std::move(outputs[o]);
    }
    for (const std::string& name : released_after_[n]) values.erase(name);
  }
  std::vector<Value> results;
  for (const std::string& name : graph_.outputs) {
    const auto initializer = graph_.initializers.find(name);
    results.push_back(initializer != graph_.initializers.end() ? initializer->second : values.at(name));
  }
  return results;
}

Tensor Model::forward(const Tensor& input) { return run({Value::floats(input)}).front().tensor; }

void Model::set_backend(simulator::Backend backend) {
  if (backend == simulator::Backend::cuda) simulator::cuda::require_device(graph_.source);
  for (auto& op : operators_) op->set_backend(backend);
}

void Model::program() {
  for (auto& op : operators_) op->program();
}

void Model::drift(double t_inference) {
  for (auto& op : operators_) op->drift(t_inference);
}

void Model::compute_encodings(const std::function<void(Model&)>& feed) {
  for (auto& op : operators_) op->begin_calibration();
  try {
    feed(*this);
  } catch (...) {
    for (auto& op : operators_) op->end_calibration();
    throw;
  }
  for (auto& op : operators_) op->end_calibration();
}

std::vector<std::string> Model::use_integer_kernels() {
  std::vector<std::string> switched;
  for (std::size_t n = 0; n < operators_.size(); ++n) {
    if (operators_[n]->use_integer_kernels()) switched.push_back(graph_.nodes[n].module);
  }
  return switched;
}

void Model::replace_operator(std::size_t node, std::unique_ptr<Operator> op) { operators_.at(node) = std::move(op); }

}  // namespace tessera::nn
