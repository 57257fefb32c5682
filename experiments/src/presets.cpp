#include "tessera/experiments/presets.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "tessera/parameters/text_file.hpp"
#include "tessera/parameters/yaml_codec.hpp"

#ifndef TESSERA_DEFAULT_PRESETS_DIR
#define TESSERA_DEFAULT_PRESETS_DIR "presets"
#endif

namespace tessera::experiments {
namespace fs = std::filesystem;
using parameters::ConfigError;
namespace yaml = parameters::yaml;

namespace {

bool looks_like_path(const std::string& name) {
  return name.find('/') != std::string::npos || name.ends_with(".yaml") || name.ends_with(".yml");
}

std::string read_text(const fs::path& path) { return parameters::read_yaml_file(path, "preset file"); }

}  // namespace

namespace {

struct PresetsFolder {
  std::mutex mutex;
  fs::path folder = TESSERA_DEFAULT_PRESETS_DIR;
};

PresetsFolder& presets_folder() {
  static PresetsFolder instance;
  return instance;
}

}  // namespace

fs::path presets_directory() {
  if (const char* dir = std::getenv("TESSERA_PRESETS_DIR"); dir != nullptr && *dir != '\0') return dir;
  PresetsFolder& chosen = presets_folder();
  const std::lock_guard lock(chosen.mutex);
  return chosen.folder;
}

void use_presets_directory(const fs::path& folder) {
  PresetsFolder& chosen = presets_folder();
  const std::lock_guard lock(chosen.mutex);
  chosen.folder = folder;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(presets_directory(), error)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<fs::path> find_preset(const std::string& name_or_path, const fs::path& relative_to) {
  const fs::path file =
      looks_like_path(name_or_path) ? relative_to / name_or_path : presets_directory() / (name_or_path + ".yaml");
  std::error_code error;
  if (!fs::is_regular_file(file, error)) return std::nullopt;
  return file;
}

Preset load_preset(const std::string& name_or_path, const fs::path& relative_to) {
  const std::optional<fs::path> file = find_preset(name_or_path, relative_to);
  if (!file) {
    if (looks_like_path(name_or_path)) {
      throw ConfigError((relative_to / name_or_path).string(), 0, 0, "", "no such preset file");
    }
    const std::vector<std::string> names = preset_names();
    std::string message = "unknown preset '" + name_or_path + "'";
    if (auto guess = yaml::closest_name(name_or_path, names); !guess.empty())
      message += "; did you mean '" + guess + "'?";
    std::string known;
    for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
    message += " (presets in " + presets_directory().string() + ": " + (known.empty() ? "none" : known) + ")";
    throw ConfigError("", 0, 0, "", message);
  }
  const std::string source = file->string();
  const YAML::Node root = yaml::parse(read_text(*file), source);
  const yaml::Location where(source);
  if (!root.IsMap())
    where.fail(root, "expected a map with description and analog or quantization, found " + yaml::describe_node(root));
  yaml::reject_unknown_keys(root, {"description", "analog", "quantization"}, where, "preset");
  Preset preset;
  preset.name = looks_like_path(name_or_path) ? file->stem().string() : name_or_path;
  preset.file = *file;
  if (root["description"]) yaml::decode(root["description"], preset.description, where.child("description"));
  const bool analog = root["analog"].IsDefined();
  const bool quantization = root["quantization"].IsDefined();
  if (analog == quantization) {
    where.fail(root,
               "a preset holds exactly one of 'analog' (InferenceRPUConfig fields) and 'quantization' "
               "(QuantizationMap fields)");
  }
  if (analog) {
    preset.analog.emplace();
    yaml::decode(root["analog"], *preset.analog, where.child("analog"));
  } else {
    preset.quantization.emplace();
    yaml::decode(root["quantization"], *preset.quantization, where.child("quantization"));
  }
  return preset;
}

}  // namespace tessera::experiments
