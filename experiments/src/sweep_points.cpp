// Resolving one grid point: its hardware description with the point's values applied.
#include <string>

#include "tessera/experiments/sweep_spec.hpp"
#include "tessera/parameters/config_io.hpp"

namespace tessera::experiments {
using parameters::ConfigError;

namespace {

[[noreturn]] void fail_at(const SweepSpec& spec, const SweepValue& value, const std::string& message) {
  throw ConfigError(spec.file.string(), value.line, value.column, value.key_path, message);
}

template <class Config>
void set_at(Config& config, const std::string& path, const SweepSpec& spec, const SweepValue& value) {
  try {
    parameters::set_parameter(config, path, value.text, spec.file.string());
  } catch (const ConfigError& error) {
    fail_at(spec, value, value.path + ": " + error.reason());
  }
}

void apply_analog(AnalogHardware& analog, const std::string& path, const SweepSpec& spec, const SweepValue& value) {
  // analog.instances.<module>.<path> sets one instance's config; module names hold dots.
  const std::string prefix = "instances.";
  if (path.starts_with(prefix)) {
    for (auto& [name, config] : analog.instances) {
      const std::string head = prefix + name + ".";
      if (path.starts_with(head)) return set_at(config, path.substr(head.size()), spec, value);
    }
    fail_at(spec, value, value.path + ": no instance config with that module name under analog.instances");
  }
  set_at(analog.rpu_config, path, spec, value);
}

// quantization.fold_batch_norms / cross_layer_equalization / fuse_activations / adaround /
// bias_correction switch a pass, quantization.techniques sets them all (adaround_iterations sets
// AdaRound's steps, bias_correction_method empirical or analytical); any other path is a
// QuantizationMap field.
void set_quantization(QuantizationHardware& quantization, const std::string& path, const SweepSpec& spec,
                      const SweepValue& value) {
  bool* pass = quantization.pass(path);
  if (path == "techniques") {
    const std::string error = quantization.set_techniques(split_techniques(value.text));
    if (error.empty()) return;
    fail_at(spec, value, value.path + ": " + error);
  }
  if (path == "bias_correction_method") {
    const std::string error = bias_correction_method_error(value.text);
    if (error.empty()) {
      quantization.bias_correction_method = value.text;
      return;
    }
    fail_at(spec, value, value.path + ": " + error);
  }
  if (path == "adaround_iterations") {
    try {
      std::size_t used = 0;
      const int steps = std::stoi(value.text, &used);
      if (used == value.text.size() && steps >= 1) {
        quantization.adaround_iterations = steps;
        return;
      }
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): reported below
    }
    fail_at(spec, value, value.path + ": expected a number of steps >= 1, found '" + value.text + "'");
  }
  if (pass == nullptr) return set_at(quantization.map, path, spec, value);
  if (value.text == "true" || value.text == "false") {
    *pass = value.text == "true";
    return;
  }
  fail_at(spec, value, value.path + ": expected true or false, found '" + value.text + "'");
}

}  // namespace

ResolvedPoint resolve_point(const SweepSpec& spec, const SweepPoint& point) {
  const Hardware* hardware = nullptr;
  for (const Hardware& h : spec.hardware) {
    if (h.name == point.hardware) hardware = &h;
  }
  ResolvedPoint resolved;
  resolved.t_inference = spec.t_inference;
  for (const SweepValue& value : point.values) {
    if (value.path != "hardware") continue;
    if (hardware == nullptr) {
      std::string names;
      for (const Hardware& h : spec.hardware) names += (names.empty() ? "" : ", ") + h.name;
      fail_at(spec, value, "unknown hardware '" + value.text + "' (this file defines: " + names + ")");
    }
  }
  resolved.hardware = *hardware;
  Hardware& h = resolved.hardware;
  if (!point.value_of("quantization.techniques").empty()) {  // a list and a switch would race
    for (const SweepValue& value : point.values) {
      if (value.path.starts_with("quantization.") && QuantizationHardware{}.pass(value.path.substr(13)) != nullptr) {
        fail_at(spec, value, value.path + ": this point also sets quantization.techniques, which says which passes run");
      }
    }
  }
  for (const SweepValue& value : point.values) {
    if (value.path == "hardware") continue;
    if (value.path == "t_inference") {
      resolved.t_inference = std::stod(value.text);
    } else if (value.path.starts_with("analog.")) {
      if (!h.analog) fail_at(spec, value, "hardware '" + h.name + "' has no analog section for " + value.path);
      apply_analog(*h.analog, value.path.substr(7), spec, value);
    } else if (value.path.starts_with("quantization.")) {
      if (!h.quantization) {
        fail_at(spec, value, "hardware '" + h.name + "' has no quantization section for " + value.path);
      }
      set_quantization(*h.quantization, value.path.substr(13), spec, value);
    }
  }
  return resolved;
}

}  // namespace tessera::experiments
