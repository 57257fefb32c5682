#include "tessera/experiments/hardware_model.hpp"

#include "tessera/nn/errors.hpp"

namespace tessera::experiments {

nn::Model convert_for_hardware(const nn::Model& float_model, const Hardware& hardware, std::uint64_t seed,
                               nn::ConversionReport* report) {
  nn::Model model(float_model.graph());
  nn::ConversionReport quantized, analog;
  if (hardware.quantization) {
    try {
      model = nn::convert_to_quantized(std::move(model), hardware.quantization->map, &quantized);
    } catch (const nn::ModelError& error) {
      throw nn::ModelError("hardware '" + hardware.name + "' quantization: " + error.what());
    }
  }
  if (hardware.analog) {
    nn::AnalogConversion conversion{hardware.analog->rpu_config, hardware.analog->instances, hardware.analog->exclude,
                                    hardware.analog->module_types, seed};
    try {
      model = nn::convert_to_analog(std::move(model), conversion, &analog);
    } catch (const nn::ModelError& error) {
      std::string message = error.what();  // in a sweep file, instance_rpu_configs are "instances"
      if (message.starts_with("instance_rpu_configs:")) message.replace(0, 20, "instances");
      throw nn::ModelError("hardware '" + hardware.name + "' analog: " + message);
    }
  }
  nn::ConversionReport merged;
  for (std::size_t m = 0; m < model.modules().size(); ++m) {
    const nn::ConversionEntry* q = quantized.entries.empty() ? nullptr : &quantized.entries[m];
    const nn::ConversionEntry* a = analog.entries.empty() ? nullptr : &analog.entries[m];
    const bool by_q = q != nullptr && q->became != "unchanged";
    const bool by_a = a != nullptr && a->became != "unchanged";
    if (by_q && by_a) {
      throw nn::ModelError("hardware '" + hardware.name + "': module '" + q->module + "' is claimed by quantization (" +
                           q->rule + ") and by analog (" + a->rule + "); exclude it from one of them");
    }
    merged.entries.push_back(by_q ? *q : a != nullptr ? *a : *q);
  }
  if (report != nullptr) *report = std::move(merged);
  return model;
}

}  // namespace tessera::experiments
