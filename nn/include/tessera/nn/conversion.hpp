// Converting a float model layer by layer (ARCHITECTURE.md decisions 5-7):
//   convert_to_analog     Linear/Gemm, constant-weight MatMul and Conv1d/2d/3d (grouped too)
//                         become analog layers backed by tile arrays.
//   convert_to_quantized  a QuantizationMap decides, per module: excluded_modules (prunes the
//                         subtree) > instance_qconfig_map (by name) > module_qconfig_map (by
//                         type) > unchanged; input_activation_qconfig_map quantizes inputs.
// Both return a new model and a report of what each module became and which rule decided.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tessera/nn/model.hpp"
#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"

namespace tessera::nn {

struct ConversionEntry {
  std::string module;  ///< dotted name
  std::string type;    ///< its type, e.g. Conv2d
  std::string became;  ///< e.g. "AnalogConv2d", "QuantLinear", "unchanged"
  std::string rule;    ///< e.g. "excluded_modules: features", "module_qconfig_map[Linear]"
};

struct ConversionReport {
  std::vector<ConversionEntry> entries;
  /// One line per module: "features.0  Conv2d -> AnalogConv2d  (module type)".
  std::string to_string() const;
};

struct AnalogConversion {
  parameters::InferenceRPUConfig rpu_config{};                                   ///< for every converted layer
  std::map<std::string, parameters::InferenceRPUConfig> instance_rpu_configs{};  ///< by module name
  std::vector<std::string> exclude{};  ///< module names; a name excludes its whole subtree
  std::set<std::string> module_types{"Linear", "Conv1d", "Conv2d", "Conv3d"};  ///< what is converted
  std::uint64_t seed = 0;  ///< noise seed; each layer derives its streams from its name
};

/// Throws ModelError for names (exclusions, instance configs) that match no module. The
/// const& overloads start from the model's float operators; the && overloads keep the
/// operators a model already has, so conversions chain:
///   convert_to_analog(convert_to_quantized(model, map), conversion)
Model convert_to_analog(const Model& model, const AnalogConversion& conversion, ConversionReport* report = nullptr);
Model convert_to_analog(Model&& model, const AnalogConversion& conversion, ConversionReport* report = nullptr);

/// Throws ModelError for map entries that name no module, or a module type that cannot be
/// quantized as asked.
Model convert_to_quantized(const Model& model, const parameters::QuantizationMap& map,
                           ConversionReport* report = nullptr);
Model convert_to_quantized(Model&& model, const parameters::QuantizationMap& map, ConversionReport* report = nullptr);

/// True when `name` is `root` or lies in its subtree ("features" covers "features.0").
bool in_subtree(const std::string& name, const std::string& root);

/// The rule of a QuantizationMap that applies to one module, by the priority
/// exclusion > instance > type. The torch front end (python/) uses the same function.
struct QuantizationRule {
  bool excluded = false;                                               ///< in excluded_modules' subtree
  const parameters::QuantizedModuleConfig* module_config = nullptr;    ///< weight/output quantizers, if any
  const parameters::ActivationQuantConfig* input_quantizer = nullptr;  ///< its own input quantizer, if any
  std::string rule = "no rule";  ///< e.g. "excluded_modules: features", "module_qconfig_map[Linear]"
};
QuantizationRule resolve_quantization(const parameters::QuantizationMap& map, const std::string& module,
                                      const std::string& type);

/// Checks that every name listed under `key` names a module of `module_names` exactly or, when
/// containers are allowed, the root of some. Throws ModelError naming the key, the name and the
/// modules there are.
void check_module_names(const std::string& key, const std::vector<std::string>& names,
                        const std::vector<std::string>& module_names, bool containers_allowed,
                        const std::string& source);

}  // namespace tessera::nn
