// Hardware presets: small YAML files in presets/ that name an analog tile configuration
// (InferenceRPUConfig fields under `analog:`) or a digital one (QuantizationMap fields under
// `quantization:`), with a one-line `description:`.
//   Preset pcm = load_preset("pcm_inference");     // presets/pcm_inference.yaml
//   Preset mine = load_preset("my_tile.yaml", sweep_file.parent_path());   // a path works too
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"

namespace tessera::experiments {

struct Preset {
  std::string name;
  std::string description;
  std::filesystem::path file;
  std::optional<parameters::InferenceRPUConfig> analog;     ///< set for analog presets
  std::optional<parameters::QuantizationMap> quantization;  ///< set for digital presets
};

/// $TESSERA_PRESETS_DIR if set, else the folder given to use_presets_directory (an installed
/// Python package's own copy), else the presets/ folder of the source tree.
std::filesystem::path presets_directory();
/// Where presets are found when $TESSERA_PRESETS_DIR is not set (the Python package calls it
/// with the copy it ships; the environment is left alone).
void use_presets_directory(const std::filesystem::path& folder);

/// Names of the presets in presets_directory(), sorted.
std::vector<std::string> preset_names();

/// The file for a preset name, or for a path (one containing '/' or ending in .yaml, taken
/// relative to `relative_to`); nullopt when there is none.
std::optional<std::filesystem::path> find_preset(const std::string& name_or_path,
                                                 const std::filesystem::path& relative_to = {});

/// Loads a preset by name or path. Throws parameters::ConfigError (file, line, key path) for
/// a bad file, and for an unknown name with the closest known name.
Preset load_preset(const std::string& name_or_path, const std::filesystem::path& relative_to = {});

}  // namespace tessera::experiments
