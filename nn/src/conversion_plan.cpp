#include "tessera/nn/conversion_plan.hpp"

#include <algorithm>
#include <sstream>

#include "tessera/nn/errors.hpp"
#include "tessera/nn/module_types.hpp"
#include "tessera/parameters/config_error.hpp"

namespace tessera::nn {
namespace {

const std::string* excluding_root(const std::string& module, const std::vector<std::string>& excluded) {
  for (const std::string& root : excluded) {
    if (in_subtree(module, root)) return &root;
  }
  return nullptr;
}

std::vector<std::string> module_names(const ConversionPlan& plan) {
  std::vector<std::string> names;
  for (const PlannedModule& m : plan.modules) names.push_back(m.module);
  return names;
}

template <class Map>
std::vector<std::string> keys_of(const Map& map) {
  std::vector<std::string> keys;
  for (const auto& entry : map) keys.push_back(entry.first);
  return keys;
}

// A module whose weight matrix should be on tiles or quantized: a known matrix layer, or a
// module of unknown type with parameters of its own (its forward uses them directly).
bool holds_weight_matrix(const PlannedModule& m) {
  const ModuleTypeTraits traits = module_type_traits(m.type);
  return traits.weight_matrix || (m.holds_weights && !traits.normalization && !traits.analog);
}

bool is_known_type(const std::string& type) {
  const std::vector<std::string>& known = torch_module_types();
  return std::binary_search(known.begin(), known.end(), type);
}

// Torch module types and functional ONNX operators; anything else is a container or a module
// of the user's own class.
bool is_valid_type(const std::string& type) {
  static const std::vector<std::string> valid = valid_module_types();
  return std::binary_search(valid.begin(), valid.end(), type);
}

// "QuantizedInputModule(QuantizedOutputModule(AnalogLinear))" style names for an analog layer
// that also carries activation quantizers.
std::string describe(const PlannedModule& m) {
  std::string core = m.type;
  if (m.analog) {
    core = "Analog" + m.type;
    if (m.quantizes_outputs()) core = "QuantizedOutputModule(" + core + ")";
  } else if (m.quantization) {
    core = m.quantization->quantized_module.empty() ? "Quant" + m.type : m.quantization->quantized_module;
  }
  if (m.input_quantization) core = "QuantizedInputModule(" + core + ")";
  return m.is_converted() ? core : "unchanged";
}

std::string why_digital(const PlannedModule& m) {
  if (!module_type_traits(m.type).analog) {
    return is_known_type(m.type) ? m.type + " has no analog implementation"
                                 : "type " + m.type + " is not one tessera converts (its parameters stay digital)";
  }
  return "type " + m.type + " is not in module_types";
}

void refuse_digital_weights(const ConversionPlan& plan, const std::string& conversion) {
  const std::vector<std::string> left = plan.digital_without_exclusion();
  if (left.empty()) return;
  std::string listing;
  for (const PlannedModule& m : plan.modules) {
    if (m.digital_without_exclusion) listing += "\n  " + m.module + " (" + m.type + "): " + m.rule;
  }
  throw ModelError(
      conversion + " (strict): " + std::to_string(left.size()) +
      " module(s) with weights would stay digital without being excluded; convert or exclude them:" + listing);
}

// The rules that converted a module, quantization first.
std::string combined_rule(const PlannedModule& m) {
  if (m.quantization_rule.empty()) return m.analog_rule;
  return m.analog_rule.empty() ? m.quantization_rule : m.quantization_rule + "; " + m.analog_rule;
}

}  // namespace

bool PlannedModule::quantizes_weights() const {
  return quantization && quantization->module_qconfig.weight_quant.n_bits > 0;
}

bool PlannedModule::quantizes_outputs() const {
  return quantization && quantization->module_qconfig.activation_quant.n_bits > 0;
}

bool in_subtree(const std::string& name, const std::string& root) {
  return name == root ||
         (name.size() > root.size() && name.compare(0, root.size(), root) == 0 && name[root.size()] == '.');
}

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
      throw ModelError(key + ": '" + parameters::excerpt(name) +
                       "' is a container; name its layers instead (modules: " + listing + ")");
    }
    throw ModelError(key + ": '" + parameters::excerpt(name) + "' is not a module of " + source +
                     " (modules: " + listing + ")");
  }
}

const PlannedModule* ConversionPlan::find(const std::string& module) const {
  for (const PlannedModule& m : modules) {
    if (m.module == module) return &m;
  }
  return nullptr;
}

std::string ConversionPlan::to_string() const {
  std::ostringstream out;
  for (const PlannedModule& m : modules)
    out << m.module << "  " << m.type << " -> " << m.became << "  (" << m.rule << ")\n";
  return out.str();
}

std::vector<std::string> ConversionPlan::digital_without_exclusion() const {
  std::vector<std::string> names;
  for (const PlannedModule& m : modules) {
    if (m.digital_without_exclusion) names.push_back(m.module);
  }
  return names;
}

ConversionPlan float_plan(const std::vector<ModuleDescription>& modules, const std::string& source) {
  ConversionPlan plan;
  plan.source = source;
  for (const ModuleDescription& d : modules) {
    PlannedModule m;
    m.module = d.module;
    m.type = d.type;
    m.holds_weights = d.holds_weights;
    plan.modules.push_back(std::move(m));
  }
  return plan;
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

ConversionPlan plan_analog(const ConversionPlan& current, const AnalogConversion& conversion) {
  const std::vector<std::string> names = module_names(current);
  check_module_names("exclude", conversion.exclude, names, true, current.source);
  check_module_names("instance_rpu_configs", keys_of(conversion.instance_rpu_configs), names, false, current.source);
  const std::vector<std::string> types(conversion.module_types.begin(), conversion.module_types.end());
  check_module_types("module_types", types);
  for (const std::string& type : types) {
    if (!module_type_traits(type).analog) {
      throw ModelError("module_types: " + type +
                       " has no analog implementation (types that do: Linear, Conv1d, "
                       "Conv2d, Conv3d, LSTM, GRU, RNN, MultiheadAttention)");
    }
  }
  ConversionPlan plan = current;
  plan.analog_seed = conversion.seed;
  for (PlannedModule& m : plan.modules) {
    m.digital_without_exclusion = false;
    if (const std::string* root = excluding_root(m.module, conversion.exclude)) {
      if (!m.is_converted()) m.rule = "exclude: " + *root;
      continue;
    }
    const auto instance = conversion.instance_rpu_configs.find(m.module);
    const bool by_instance = instance != conversion.instance_rpu_configs.end();
    const bool by_type = conversion.module_types.count(m.type) > 0;
    if (by_instance && !module_type_traits(m.type).analog) {
      throw ModelError("instance_rpu_configs: '" + m.module + "' is a " + m.type +
                       ", which has no analog implementation");
    }
    if (!by_instance && !by_type) {
      if (!m.analog && !m.quantizes_weights() && holds_weight_matrix(m)) {
        m.digital_without_exclusion = true;
        m.rule = (m.is_converted() ? m.rule + "; " : "") + "stays digital: " + why_digital(m);
      } else if (!m.is_converted()) {
        m.rule = "type not converted";
      }
      continue;
    }
    if (m.quantizes_weights()) {
      throw ModelError("module '" + m.module + "' (" + m.type + ") already has " +
                       std::to_string(m.quantization->module_qconfig.weight_quant.n_bits) + "-bit weights (" +
                       m.quantization_rule + "); analog tiles hold their own weights: exclude it from one of the " +
                       "two conversions");
    }
    m.analog = by_instance ? instance->second : conversion.rpu_config;
    m.analog_rule = by_instance ? "instance_rpu_configs" : "module type";
    m.rule = combined_rule(m);
    m.became = describe(m);
  }
  if (conversion.strict) refuse_digital_weights(plan, "convert_to_analog");
  return plan;
}

ConversionPlan plan_quantized(const ConversionPlan& current, const parameters::QuantizationMap& map, bool strict) {
  const std::vector<std::string> names = module_names(current);
  check_module_names("excluded_modules", map.excluded_modules, names, true, current.source);
  check_module_names("instance_qconfig_map", keys_of(map.instance_qconfig_map), names, false, current.source);
  check_module_names("input_activation_qconfig_map", keys_of(map.input_activation_qconfig_map), names, false,
                     current.source);
  check_module_types("module_qconfig_map", keys_of(map.module_qconfig_map));
  ConversionPlan plan = current;
  std::vector<std::string> wrapped_whole;  // containers quantized as one module: their children are inside
  for (PlannedModule& m : plan.modules) {
    m.digital_without_exclusion = false;
    const QuantizationRule rule = resolve_quantization(map, m.module, m.type);
    const std::string* inside = excluding_root(m.module, wrapped_whole);
    if (rule.excluded || inside != nullptr || (rule.module_config == nullptr && rule.input_quantizer == nullptr)) {
      if (!m.is_converted()) m.rule = inside != nullptr ? "inside " + *inside : rule.rule;
      if (!rule.excluded && inside == nullptr && !m.analog && !m.quantizes_weights() && holds_weight_matrix(m)) {
        m.digital_without_exclusion = true;
        m.rule = (m.is_converted() ? m.rule + "; " : "") + "stays digital: no rule quantizes its weights";
      }
      continue;
    }
    const ModuleTypeTraits traits = module_type_traits(m.type);
    const bool weights = rule.module_config != nullptr && rule.module_config->module_qconfig.weight_quant.n_bits > 0;
    if (weights && m.analog && holds_weight_matrix(m)) {
      throw ModelError("module '" + m.module + "' (" + m.type + ") is analog (" + m.analog_rule + "); " + rule.rule +
                       " would quantize its weights too: exclude it from one of the two conversions");
    }
    if (weights && holds_weight_matrix(m) && !traits.quantized_weights) {
      throw ModelError(rule.rule + ": the weights of '" + m.module + "' (" + m.type +
                       ") cannot be quantized yet; exclude it or give it activation quantization only");
    }
    if (rule.module_config != nullptr) m.quantization = *rule.module_config;
    if (rule.input_quantizer != nullptr) m.input_quantization = *rule.input_quantizer;
    m.quantization_rule = rule.rule;
    m.rule = combined_rule(m);
    m.became = describe(m);
    if (rule.module_config != nullptr && !is_valid_type(m.type)) {
      wrapped_whole.push_back(m.module);  // a torch container (Sequential, a block): one quantizer on its output
    }
    if (!m.analog && holds_weight_matrix(m) && !m.quantizes_weights()) {
      m.digital_without_exclusion = true;
      m.rule += "; stays digital: its weights are not quantized";
    }
  }
  if (strict) refuse_digital_weights(plan, "convert_to_quantized");
  return plan;
}

bool is_fusable_activation(const std::string& type) {
  return type == "ReLU" || type == "ReLU6" || type == "Hardtanh" || type == "Hardswish";
}

ConversionPlan plan_fused(const ConversionPlan& current, const std::vector<ActivationPair>& pairs,
                          const parameters::QuantizationMap& map, std::vector<ActivationPair>* fused) {
  ConversionPlan plan = current;
  for (const ActivationPair& pair : pairs) {
    PlannedModule* layer = nullptr;
    PlannedModule* activation = nullptr;
    for (PlannedModule& m : plan.modules) {
      if (m.module == pair.layer) layer = &m;
      if (m.module == pair.activation) activation = &m;
    }
    if (layer == nullptr || activation == nullptr) {
      throw ModelError("activation fusion: '" + (layer == nullptr ? pair.layer : pair.activation) +
                       "' is not a module of " + plan.source);
    }
    if (!is_fusable_activation(activation->type)) {
      throw ModelError("activation fusion: '" + pair.activation + "' is a " + activation->type +
                       ", not an activation a quantizer can move behind (ReLU, ReLU6, Hardtanh, Hardswish)");
    }
    if (!layer->quantizes_outputs()) continue;
    const parameters::ActivationQuantConfig& output = layer->quantization->module_qconfig.activation_quant;
    if (resolve_quantization(map, activation->module, activation->type).excluded) {
      layer->rule += "; not fused with " + pair.activation + " (excluded from quantization)";
      continue;
    }
    if (activation->quantizes_outputs() && !(activation->quantization->module_qconfig.activation_quant == output)) {
      layer->rule += "; not fused with " + pair.activation + " (it quantizes its output with another config)";
      continue;
    }
    if (!activation->quantizes_outputs()) {
      parameters::QuantizedModuleConfig moved;
      moved.module_qconfig.weight_quant.n_bits = 0;
      moved.module_qconfig.activation_quant = output;
      activation->quantization = moved;
      activation->quantization_rule = "fused: the output quantizer of " + pair.layer;
      activation->rule = combined_rule(*activation);
      activation->became = describe(*activation);
    }
    layer->quantization->module_qconfig.activation_quant.n_bits = 0;
    layer->rule += "; fused: output quantized after " + pair.activation;
    layer->became = describe(*layer);
    if (fused != nullptr) fused->push_back(pair);
  }
  return plan;
}

}  // namespace tessera::nn
