// Loading, saving and overriding configs: the entry points most code needs.
//   auto config = load_config_file<InferenceRPUConfig>("pcm.yaml");
//   set_parameter(config, "forward.out_res", "0.004");      // a sweep override, YAML value
//   std::string text = save_config(config);                  // every field, round-trips exactly
// All failures throw ConfigError with file, line:column and key path.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "tessera/parameters/config_error.hpp"

namespace tessera::parameters {

template <class Config>
Config load_config_string(std::string_view yaml_text, std::string_view source = "<string>");

template <class Config>
Config load_config_file(const std::filesystem::path& path);

/// YAML text with every field of `config`, in declaration order.
template <class Config>
std::string save_config(const Config& config);

/// Writes save_config(config) to `path` atomically (temporary file, then rename).
template <class Config>
void save_config_file(const Config& config, const std::filesystem::path& path);

/// The value at a dotted path, as YAML text ("0.004", "ABS_MAX", or a block for a struct).
template <class Config>
std::string get_parameter(const Config& config, std::string_view dotted_path);

/// Sets the value at a dotted path from YAML text, checked as a YAML file is; on error
/// `config` is left unchanged. `source` names where the override came from. A field of a
/// section (forward.out_res) is written in place, range- and consistency-checked along its path
/// (6-9 us from Python); sections, a variant's type and map entries go through the whole
/// config's YAML (about 350 us), with the same result.
template <class Config>
void set_parameter(Config& config, std::string_view dotted_path, std::string_view yaml_value,
                   std::string_view source = "<override>");

}  // namespace tessera::parameters
