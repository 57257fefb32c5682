#include "tessera/nn/conversion.hpp"

#include <sstream>

#include "layers.hpp"
#include "tessera/nn/errors.hpp"

namespace tessera::nn {

bool in_subtree(const std::string& name, const std::string& root) {
  return name == root ||
         (name.size() > root.size() && name.compare(0, root.size(), root) == 0 && name[root.size()] == '.');
}

std::string ConversionReport::to_string() const {
  std::ostringstream out;
  for (const ConversionEntry& e : entries)
    out << e.module << "  " << e.type << " -> " << e.became << "  (" << e.rule << ")\n";
  return out.str();
}

namespace {

std::vector<std::string> module_names(const Model& model) {
  std::vector<std::string> names;
  for (const ModuleInfo& m : model.modules()) names.push_back(m.name);
  return names;
}

void check_names(const Model& model, const std::string& key, const std::vector<std::string>& names,
                 bool containers_allowed) {
  check_module_names(key, names, module_names(model), containers_allowed, model.graph().source);
}

template <class Map>
std::vector<std::string> keys_of(const Map& map) {
  std::vector<std::string> keys;
  for (const auto& entry : map) keys.push_back(entry.first);
  return keys;
}

const std::string* excluding_root(const std::string& module, const std::vector<std::string>& excluded) {
  for (const std::string& root : excluded) {
    if (in_subtree(module, root)) return &root;
  }
  return nullptr;
}

bool has_constant_weight(const Node& node, const Graph& graph) {
  return (node.op_type == "Gemm" || node.op_type == "MatMul" || node.op_type == "Conv") && node.inputs.size() > 1 &&
         graph.initializers.count(node.inputs[1]) > 0;
}

}  // namespace

void check_module_names(const std::string& key, const std::vector<std::string>& names,
                        const std::vector<std::string>& module_names, bool containers_allowed,
                        const std::string& source) {
  std::string listing;
  for (const std::string& m : module_names) listing += (listing.empty() ? "" : ", ") + m;
  for (const std::string& name : names) {
    bool exact = false, container = false;
    for (const std::string& m : module_names) {
      exact = exact || m == name;
      container = container || in_subtree(m, name);
    }
    if (exact || (containers_allowed && container)) continue;
    if (container) {
      throw ModelError(key + ": '" + name + "' is a container; name its layers instead (modules: " + listing + ")");
    }
    throw ModelError(key + ": '" + name + "' is not a module of " + source + " (modules: " + listing + ")");
  }
}

QuantizationRule resolve_quantization(const parameters::QuantizationMap& map, const std::string& module,
                                      const std::string& type) {
  QuantizationRule resolved;
  if (const std::string* root = excluding_root(module, map.excluded_modules)) {
    resolved.excluded = true;  // exclusion also drops input quantization
    resolved.rule = "excluded_modules: " + *root;
    return resolved;
  }
  if (const auto instance = map.instance_qconfig_map.find(module); instance != map.instance_qconfig_map.end()) {
    resolved.module_config = &instance->second;
    resolved.rule = "instance_qconfig_map";
  } else if (const auto by_type = map.module_qconfig_map.find(type); by_type != map.module_qconfig_map.end()) {
    resolved.module_config = &by_type->second;
    resolved.rule = "module_qconfig_map[" + type + "]";
  }
  const auto input = map.input_activation_qconfig_map.find(module);
  if (input != map.input_activation_qconfig_map.end() && input->second.n_bits > 0) {
    resolved.input_quantizer = &input->second;
    resolved.rule = resolved.module_config == nullptr ? "input_activation_qconfig_map"
                                                      : resolved.rule + ", input_activation_qconfig_map";
  }
  return resolved;
}

Model convert_to_analog(const Model& model, const AnalogConversion& conversion, ConversionReport* report) {
  return convert_to_analog(Model(model.graph()), conversion, report);
}

Model convert_to_analog(Model&& model, const AnalogConversion& conversion, ConversionReport* report) {
  check_names(model, "exclude", conversion.exclude, true);
  check_names(model, "instance_rpu_configs", keys_of(conversion.instance_rpu_configs), false);
  Model converted = std::move(model);
  const Graph& graph = converted.graph();
  ConversionReport local;
  for (const ModuleInfo& module : converted.modules()) {
    ConversionEntry entry{module.name, module.type, "unchanged", "type not converted"};
    const auto instance = conversion.instance_rpu_configs.find(module.name);
    if (const std::string* root = excluding_root(module.name, conversion.exclude)) {
      entry.rule = "exclude: " + *root;
    } else if (instance != conversion.instance_rpu_configs.end() || conversion.module_types.count(module.type) > 0) {
      const parameters::InferenceRPUConfig& config =
          instance != conversion.instance_rpu_configs.end() ? instance->second : conversion.rpu_config;
      for (std::size_t n : module.nodes) {
        if (!has_constant_weight(graph.nodes[n], graph)) continue;
        converted.replace_operator(n, make_analog_layer(graph.nodes[n], graph, config, conversion.seed));
        entry.became = "Analog" + module.type;
      }
      entry.rule = instance != conversion.instance_rpu_configs.end() ? "instance_rpu_configs" : "module type";
      if (entry.became == "unchanged") entry.rule = "no constant weight to map";
    }
    local.entries.push_back(entry);
  }
  if (report != nullptr) *report = std::move(local);
  return converted;
}

Model convert_to_quantized(const Model& model, const parameters::QuantizationMap& map, ConversionReport* report) {
  return convert_to_quantized(Model(model.graph()), map, report);
}

Model convert_to_quantized(Model&& model, const parameters::QuantizationMap& map, ConversionReport* report) {
  check_names(model, "excluded_modules", map.excluded_modules, true);
  check_names(model, "instance_qconfig_map", keys_of(map.instance_qconfig_map), false);
  check_names(model, "input_activation_qconfig_map", keys_of(map.input_activation_qconfig_map), false);
  Model converted = std::move(model);
  const Graph& graph = converted.graph();
  ConversionReport local;
  for (const ModuleInfo& module : converted.modules()) {
    const QuantizationRule resolved = resolve_quantization(map, module.name, module.type);
    ConversionEntry entry{module.name, module.type, "unchanged", resolved.rule};
    const parameters::QuantizedModuleConfig* chosen = resolved.module_config;
    if (resolved.excluded || (chosen == nullptr && resolved.input_quantizer == nullptr)) {
      local.entries.push_back(entry);
      continue;
    }
    for (std::size_t k = 0; k < module.nodes.size(); ++k) {
      const std::size_t n = module.nodes[k];
      const Node& node = graph.nodes[n];
      QuantizedNodeConfig config;
      if (k == 0) config.input = resolved.input_quantizer;
      if (chosen != nullptr && has_constant_weight(node, graph)) config.weight = &chosen->module_qconfig.weight_quant;
      if (chosen != nullptr && k + 1 == module.nodes.size()) config.output = &chosen->module_qconfig.activation_quant;
      if (config.input == nullptr && config.weight == nullptr && config.output == nullptr) continue;
      converted.replace_operator(n, make_quantized_layer(node, graph, make_operator(node, graph.opset), config));
    }
    std::string became = chosen == nullptr                  ? module.type
                         : chosen->quantized_module.empty() ? "Quant" + module.type
                                                            : chosen->quantized_module;
    if (resolved.input_quantizer != nullptr) became = "QuantizedInputModule(" + became + ")";
    entry.became = became;
    local.entries.push_back(entry);
  }
  if (report != nullptr) *report = std::move(local);
  return converted;
}

}  // namespace tessera::nn
