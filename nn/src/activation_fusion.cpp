#include "tessera/nn/activation_fusion.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "tessera/nn/conversion.hpp"

namespace tessera::nn {
namespace {

bool is_product_layer(const std::string& type) {
  return type == "Linear" || type == "Conv1d" || type == "Conv2d" || type == "Conv3d";
}

// The module whose every call's output (the call's last node's first output) is read by nodes
// of one fusable activation module only; nullopt when there is none.
std::optional<std::string> sole_activation_reader(const Model& model, const ModuleInfo& layer,
                                                  const std::vector<const ModuleInfo*>& module_of_node) {
  const Graph& graph = model.graph();
  std::map<int, std::size_t> last_node_of_call;
  for (std::size_t n : layer.nodes) last_node_of_call[graph.nodes[n].call] = n;
  std::optional<std::string> activation;
  for (const auto& [call, n] : last_node_of_call) {
    const std::string& value = graph.nodes[n].outputs.at(0);
    for (const std::string& output : graph.outputs) {
      if (output == value) return std::nullopt;
    }
    bool read = false;
    for (std::size_t reader = 0; reader < graph.nodes.size(); ++reader) {
      const Node& node = graph.nodes[reader];
      if (std::find(node.inputs.begin(), node.inputs.end(), value) == node.inputs.end()) continue;
      const ModuleInfo* module = module_of_node[reader];
      if (module == nullptr || !is_fusable_activation(module->type)) return std::nullopt;
      if (activation && *activation != module->name) return std::nullopt;
      activation = module->name;
      read = true;
    }
    if (!read) return std::nullopt;
  }
  return activation;
}

}  // namespace

std::vector<ActivationPair> activation_pairs(const Model& model) {
  std::vector<const ModuleInfo*> module_of_node(model.graph().nodes.size(), nullptr);
  for (const ModuleInfo& module : model.modules()) {
    for (std::size_t n : module.nodes) module_of_node[n] = &module;
  }
  std::vector<ActivationPair> pairs;
  for (const ModuleInfo& module : model.modules()) {
    if (!is_product_layer(module.type)) continue;
    if (auto activation = sole_activation_reader(model, module, module_of_node)) {
      pairs.push_back({module.name, *activation});
    }
  }
  return pairs;
}

Model fuse_activations(Model&& model, const parameters::QuantizationMap& map, std::vector<ActivationPair>* fused) {
  const ConversionPlan plan = plan_fused(model.plan(), activation_pairs(model), map, fused);
  return apply_plan(std::move(model), plan);
}

}  // namespace tessera::nn
