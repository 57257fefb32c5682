#include "tessera/nn/model.hpp"

#include <map>
#include <set>

#include "layers.hpp"
#include "module_naming.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/simulator/backend.hpp"

namespace tessera::nn {
namespace {

// Encoding propagation: the quantizer whose grid a value lies on, i.e. the output quantizer of
// the node that produced it, seen through nodes that only move or select values (Flatten,
// Reshape, MaxPool, Relu, ...) and quantize nothing themselves.
class InputEncodings {
 public:
  InputEncodings(const Graph& graph, const std::vector<std::unique_ptr<Operator>>& operators) : graph_(graph) {
    for (std::size_t n = 0; n < operators.size(); ++n) {
      for (const std::string& output : graph.nodes[n].outputs) producer_[output] = n;
      std::vector<TensorEncoding> listed;
      operators[n]->list_encodings(listed);
      quantizes_.push_back(!listed.empty());
      for (const TensorEncoding& e : listed) {
        if (e.role == EncodingRole::output) output_encoding_[e.tensor] = e.quantizer;
      }
    }
  }

  const simulator::AffineQuantizer* of(const std::string& value) const {
    for (std::string current = value;;) {
      if (const auto found = output_encoding_.find(current); found != output_encoding_.end()) return found->second;
      const auto producer = producer_.find(current);
      if (producer == producer_.end() || quantizes_[producer->second]) return nullptr;
      const Node& node = graph_.nodes[producer->second];
      if (!keeps_the_grid(node.op_type) || node.inputs.empty()) return nullptr;
      current = node.inputs[0];
    }
  }

 private:
  // Ops whose outputs are some of their input's values (or 0, which every affine grid holds).
  static bool keeps_the_grid(const std::string& op) {
    return op == "Flatten" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" || op == "Identity" ||
           op == "Transpose" || op == "MaxPool" || op == "GlobalMaxPool" || op == "Relu";
  }

  const Graph& graph_;
  std::map<std::string, std::size_t> producer_;
  std::vector<bool> quantizes_;
  std::map<std::string, simulator::AffineQuantizer*> output_encoding_;
};

}  // namespace

Model::Model(Graph graph) : graph_(std::move(graph)) {
  if (graph_.input_types.size() != graph_.inputs.size()) graph_.input_types.resize(graph_.inputs.size());
  std::set<std::string> defined(graph_.inputs.begin(), graph_.inputs.end());
  for (const auto& entry : graph_.initializers) defined.insert(entry.first);
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
  }
  try {
    fold_constant_nodes(graph_);
  } catch (const UnsupportedError& error) {
    throw UnsupportedError(graph_.source + ": " + error.what());
  } catch (const ModelError& error) {
    throw ModelError(graph_.source + ": " + error.what());
  }
  infer_ranks(graph_);
  assign_modules(graph_);
  std::map<std::string, std::size_t> module_index;
  for (std::size_t n = 0; n < graph_.nodes.size(); ++n) {
    const Node& node = graph_.nodes[n];
    const auto [position, inserted] = module_index.emplace(node.module, modules_.size());
    if (inserted) modules_.push_back(ModuleInfo{node.module, "", {}, {}, 0});
    ModuleInfo& module = modules_[position->second];
    module.nodes.push_back(n);
    for (const std::string& name : node.inputs) {
      if (!is_parameter(graph_, name)) continue;
      if (std::find(module.weights.begin(), module.weights.end(), name) != module.weights.end()) continue;
      module.weights.push_back(name);
      module.parameter_count += graph_.initializers.at(name).tensor.size();
    }
  }
  std::vector<ModuleDescription> descriptions;
  for (ModuleInfo& module : modules_) {
    module.type = module_type_of(graph_, module.nodes);
    descriptions.push_back({module.name, module.type, !module.weights.empty()});
  }
  plan_ = float_plan(descriptions, graph_.source);
  if (graph_.outputs.empty()) throw ModelError(graph_.source + ": the graph has no outputs (nothing to compute)");
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
  const auto held = lock_.hold();
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

Tensor Model::forward(const Tensor& input) { return forward(Value::floats(input)); }

Tensor Model::forward(const Value& input) {
  if (graph_.inputs.size() != 1) {
    throw ModelError(graph_.source + ": forward takes a model with one input; this one has " +
                     std::to_string(graph_.inputs.size()) + " (use run)");
  }
  if (input.type != graph_.input_types.front()) {
    throw ModelError(graph_.source + ": input '" + graph_.inputs.front() + "' holds " +
                     std::string(data_type_name(graph_.input_types.front())) + " values, found " +
                     std::string(data_type_name(input.type)) + " values");
  }
  return run({input}).front().tensor;
}

void Model::set_backend(simulator::Backend backend) {
  const auto held = lock_.hold();
  if (backend == simulator::Backend::cuda) simulator::cuda::require_device(graph_.source);
  for (auto& op : operators_) op->set_backend(backend);
}

void Model::program() {
  const auto held = lock_.hold();
  for (auto& op : operators_) op->program();
}

void Model::drift(double t_inference) {
  const auto held = lock_.hold();
  for (auto& op : operators_) op->drift(t_inference);
}

void Model::compute_encodings(const std::function<void(Model&)>& feed) {
  {
    const auto held = lock_.hold();
    for (auto& op : operators_) op->begin_calibration();
  }
  // The feed runs without the lock held: it may run batches from threads of its own.
  try {
    feed(*this);
  } catch (...) {
    // The caller's error is the one to see: ending a calibration that saw no data would throw
    // one of its own.
    const auto held = lock_.hold();
    for (auto& op : operators_) {
      try {
        op->end_calibration();
      } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch)
      }
    }
    throw;
  }
  const auto held = lock_.hold();
  for (auto& op : operators_) op->end_calibration();
}

std::vector<std::string> Model::use_integer_kernels() {
  const auto held = lock_.hold();
  integer_kernels_ = true;
  const InputEncodings encodings(graph_, operators_);
  std::vector<std::string> switched;
  for (std::size_t n = 0; n < operators_.size(); ++n) {
    const Node& node = graph_.nodes[n];
    const simulator::AffineQuantizer* input = node.inputs.empty() ? nullptr : encodings.of(node.inputs[0]);
    if (operators_[n]->use_integer_kernels(input)) switched.push_back(node.module);
  }
  return switched;
}

Model Model::copy() const {
  const auto held = lock_.hold();
  Model copied = apply_plan(Model(graph_), plan_);
  for (std::size_t n = 0; n < operators_.size(); ++n) carry_encodings(*operators_[n], *copied.operators_[n]);
  return copied;
}

void Model::replace_operator(std::size_t node, std::unique_ptr<Operator> op) {
  const auto held = lock_.hold();
  operators_.at(node) = std::move(op);
}

}  // namespace tessera::nn
