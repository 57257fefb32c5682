// Sweep files: any text either loads or is refused with a ConfigError naming a position.
#include <cstdint>
#include <filesystem>
#include <string>

#include "tessera/experiments/sweep_spec.hpp"
#include "tessera/parameters/config_error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    // Relative paths resolve against the source tree's test data, where tiny.yaml's model is.
    tessera::experiments::load_sweep_string(text, std::filesystem::path(TESSERA_TEST_DATA_DIR) / "sweeps" / "fuzz.yaml");
  } catch (const tessera::parameters::ConfigError&) {
  }
  return 0;
}
