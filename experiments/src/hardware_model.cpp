#include "tessera/experiments/hardware_model.hpp"

#include "tessera/nn/activation_fusion.hpp"
#include "tessera/nn/batch_norm_folding.hpp"
#include "tessera/nn/cross_layer_equalization.hpp"
#include "tessera/nn/errors.hpp"

namespace tessera::experiments {

nn::Model reference_for_hardware(const nn::Model& float_model, const Hardware& hardware) {
  nn::Model model = hardware.quantization && hardware.quantization->fold_batch_norms ? nn::fold_batch_norms(float_model)
                                                                                     : float_model.copy();
  if (hardware.quantization && hardware.quantization->cross_layer_equalization) {
    model = nn::cross_layer_equalization(model);
  }
  return model;
}

nn::Model convert_for_hardware(const nn::Model& float_model, const Hardware& hardware, std::uint64_t seed,
                               nn::ConversionPlan* plan) {
  nn::Model model = reference_for_hardware(float_model, hardware);
  if (hardware.quantization) {
    try {
      model = nn::convert_to_quantized(std::move(model), hardware.quantization->map);
      if (hardware.quantization->fuse_activations) {
        model = nn::fuse_activations(std::move(model), hardware.quantization->map);
      }
    } catch (const nn::ModelError& error) {
      throw nn::ModelError("hardware '" + hardware.name + "' quantization: " + error.what());
    }
  }
  if (hardware.analog) {
    nn::AnalogConversion conversion{hardware.analog->rpu_config, hardware.analog->instances, hardware.analog->exclude,
                                    hardware.analog->module_types, seed};
    try {
      model = nn::convert_to_analog(std::move(model), conversion);
    } catch (const nn::ModelError& error) {
      std::string message = error.what();  // in a sweep file, instance_rpu_configs are "instances"
      if (message.starts_with("instance_rpu_configs:")) message.replace(0, 20, "instances");
      throw nn::ModelError("hardware '" + hardware.name + "' analog: " + message);
    }
  }
  if (plan != nullptr) *plan = model.plan();
  return model;
}

Hardware all_but_module(const Hardware& hardware, const std::string& left_out) {
  Hardware without = hardware;
  if (without.analog) without.analog->exclude.push_back(left_out);
  if (without.quantization) without.quantization->map.excluded_modules.push_back(left_out);
  return without;
}

Hardware only_module(const Hardware& hardware, const std::string& keep, const std::vector<std::string>& converted) {
  Hardware isolated = hardware;
  for (const std::string& other : converted) {
    if (other == keep || keep.starts_with(other + ".")) continue;
    if (isolated.analog) isolated.analog->exclude.push_back(other);
    if (isolated.quantization) isolated.quantization->map.excluded_modules.push_back(other);
  }
  return isolated;
}

}  // namespace tessera::experiments
