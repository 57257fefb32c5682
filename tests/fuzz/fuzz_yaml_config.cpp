// YAML configs: any text either loads or is refused with a ConfigError; what loads saves and
// loads back to the same text (the first byte picks InferenceRPUConfig or QuantizationMap).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tessera/parameters/config_error.hpp"
#include "tessera/parameters/config_io.hpp"
#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"

namespace {

template <class Config>
void round_trip(std::string_view text) {
  using namespace tessera::parameters;
  try {
    const Config config = load_config_string<Config>(text, "fuzz.yaml");
    const std::string saved = save_config(config);
    if (save_config(load_config_string<Config>(saved, "saved.yaml")) != saved) std::abort();
  } catch (const ConfigError&) {
    // refused with a positioned message: the expected outcome for most inputs
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    round_trip<tessera::parameters::InferenceRPUConfig>(text);
  } else {
    round_trip<tessera::parameters::QuantizationMap>(text);
  }
  return 0;
}
