// The conversion plan (ARCHITECTURE.md decision 9): for every module, what it becomes (float,
// quantized with which quantizers, analog with which rpu_config) and which rule decided. One
// planner serves both front ends: the ONNX model (nn::Model) and tessera.torch describe their
// modules (name, type, what they hold) and execute the plan they get back, so a feature cannot
// exist on one path only. Plans compose: planning analog on top of a quantized plan keeps the
// quantizers where they do not conflict and refuses where they do.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"

namespace tessera::nn {

/// What a front end knows of one module.
struct ModuleDescription {
  std::string module;          ///< dotted name, e.g. "layer1.0.conv1"
  std::string type;            ///< torch class name (module_types.hpp), e.g. "Conv2d"
  bool holds_weights = false;  ///< has parameters of its own
};

/// What one module becomes.
struct PlannedModule {
  std::string module;  ///< dotted name
  std::string type;    ///< torch class name
  bool holds_weights = false;
  std::optional<parameters::InferenceRPUConfig> analog;                 ///< on tiles with this config
  std::optional<parameters::QuantizedModuleConfig> quantization;        ///< weight and output quantizers
  std::optional<parameters::ActivationQuantConfig> input_quantization;  ///< its own input quantizer
  std::string became = "unchanged";  ///< e.g. "AnalogConv2d", "QuantLinear", "QuantizedInputModule(ReLU)"
  std::string rule = "no rule";      ///< what decided, or why a module with weights stayed digital
  std::string quantization_rule;     ///< the QuantizationMap rule that quantized it, if any
  std::string analog_rule;           ///< the analog rule that put it on tiles, if any
  /// A module with a weight matrix that stayed digital though nothing excluded it.
  bool digital_without_exclusion = false;

  bool is_converted() const { return analog || quantization || input_quantization; }
  /// Weight quantization with n_bits > 0 (conflicts with analog weights).
  bool quantizes_weights() const;
  bool quantizes_outputs() const;
  bool operator==(const PlannedModule&) const = default;
};

struct ConversionPlan {
  std::string source = "the model";    ///< the model's file or class, for messages
  std::vector<PlannedModule> modules;  ///< in the front end's order
  std::uint64_t analog_seed = 0;       ///< noise seed of the analog layers

  const PlannedModule* find(const std::string& module) const;
  /// One line per module: "features.0  Conv2d -> AnalogConv2d  (module_types)".
  std::string to_string() const;
  /// Names of modules holding a weight matrix that stayed digital without an exclusion.
  std::vector<std::string> digital_without_exclusion() const;
  bool operator==(const ConversionPlan&) const = default;
};

/// The plan of an unconverted model: every module unchanged.
ConversionPlan float_plan(const std::vector<ModuleDescription>& modules, const std::string& source);

/// What convert_to_analog is asked for.
struct AnalogConversion {
  parameters::InferenceRPUConfig rpu_config{};                                   ///< for every converted layer
  std::map<std::string, parameters::InferenceRPUConfig> instance_rpu_configs{};  ///< by module name
  std::vector<std::string> exclude{};  ///< module names; a name excludes its whole subtree
  /// Types converted (module_types.hpp): every type with an analog implementation by default.
  std::set<std::string> module_types{"Linear", "Conv1d", "Conv2d", "Conv3d", "LSTM", "GRU", "RNN",
                                     "MultiheadAttention"};
  std::uint64_t seed = 0;  ///< noise seed; each layer derives its streams from its name
  /// Refuse (ModelError listing them) when a module with a weight matrix stays digital without
  /// being excluded: an unsupported type, a type not in module_types.
  bool strict = false;
};

/// Adds analog conversion to a plan. Throws ModelError for names that match no module, types
/// outside the vocabulary or without an analog implementation, modules whose weights the plan
/// already quantizes, and (strict) weight matrices left digital.
ConversionPlan plan_analog(const ConversionPlan& current, const AnalogConversion& conversion);

/// The rule of a QuantizationMap that applies to one module, by the priority
/// exclusion > instance > type.
struct QuantizationRule {
  bool excluded = false;                                               ///< in excluded_modules' subtree
  const parameters::QuantizedModuleConfig* module_config = nullptr;    ///< weight/output quantizers, if any
  const parameters::ActivationQuantConfig* input_quantizer = nullptr;  ///< its own input quantizer, if any
  std::string rule = "no rule";  ///< e.g. "excluded_modules: features", "module_qconfig_map[Linear]"
};
QuantizationRule resolve_quantization(const parameters::QuantizationMap& map, const std::string& module,
                                      const std::string& type);

/// Adds quantization by a QuantizationMap (exclusion > instance > type) to a plan. Throws
/// ModelError for names that match no module, types outside the vocabulary, weight
/// quantization of analog modules or of types that have no weights to quantize.
ConversionPlan plan_quantized(const ConversionPlan& current, const parameters::QuantizationMap& map,
                              bool strict = false);

/// A weight layer whose output only an activation module reads, as a front end finds it in its
/// graph (activation_pairs() for ONNX models, torch.fx in tessera.torch): every call of the
/// layer feeds only the activation, nothing between them.
struct ActivationPair {
  std::string layer;       ///< a Conv/Linear module
  std::string activation;  ///< the ReLU, ReLU6, Hardtanh or Hardswish module reading its output
  bool operator==(const ActivationPair&) const = default;
};

/// Activation types an output quantizer can move behind (ReLU, ReLU6, Hardtanh, Hardswish).
bool is_fusable_activation(const std::string& type);

/// Activation fusion (torch.ao's ConvReLU2d, AIMET's supergroups) on a quantized plan: for each
/// pair whose layer quantizes its output, that quantizer moves behind the activation, so the
/// pair quantizes once where deployed int8 kernels do. The activation quantizes its output with
/// the layer's config, or keeps its own when it has one with the same config. A pair is left
/// as it is (and its rows say why) when the map excludes the activation or the activation
/// already quantizes with another config. A reused activation module (a ResNet block's ReLU)
/// quantizes the output of every call, as torch.ao's fused add_relu does. `fused` receives the
/// pairs applied.
ConversionPlan plan_fused(const ConversionPlan& current, const std::vector<ActivationPair>& pairs,
                          const parameters::QuantizationMap& map, std::vector<ActivationPair>* fused = nullptr);

/// True when `name` is `root` or lies in its subtree ("features" covers "features.0").
bool in_subtree(const std::string& name, const std::string& root);

/// Checks that every name listed under `key` names a module of `module_names` exactly or, when
/// containers are allowed, the root of some. Throws ModelError naming the key, the name and the
/// modules there are.
void check_module_names(const std::string& key, const std::vector<std::string>& names,
                        const std::vector<std::string>& module_names, bool containers_allowed,
                        const std::string& source);

}  // namespace tessera::nn
