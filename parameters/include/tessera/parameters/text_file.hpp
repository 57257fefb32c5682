// Reading a YAML file whole, checked first: a missing file, a device or pipe (/dev/zero would
// be read until memory runs out) or a file larger than any config is refused by name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace tessera::parameters {

/// Largest YAML file tessera reads (configs, presets, sweep files are a few kB).
inline constexpr std::uintmax_t kMaxYamlFileBytes = 16u << 20;

/// The text of `path`; throws ConfigError naming the file when it does not exist, is not a
/// regular file, is larger than kMaxYamlFileBytes or cannot be read. `what` names it in
/// messages ("sweep file").
std::string read_yaml_file(const std::filesystem::path& path, const std::string& what);

}  // namespace tessera::parameters
