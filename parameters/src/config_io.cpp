#include "tessera/parameters/config_io.hpp"

#include "tessera/parameters/text_file.hpp"

#include <fstream>
#include <sstream>
#include <system_error>

#include "tessera/parameters/drift_compensation.hpp"
#include "tessera/parameters/io.hpp"
#include "tessera/parameters/mapping.hpp"
#include "tessera/parameters/noise_models.hpp"
#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"
#include "tessera/parameters/yaml_codec.hpp"

namespace tessera::parameters {
namespace {

template <class Config>
Config decode_document(const YAML::Node& document, const yaml::Location& where) {
  Config config{};
  if (document.IsDefined() && !document.IsNull()) yaml::decode(document, config, where);
  return config;
}

// Setting a variant's "type" to another alternative starts that alternative from its
// defaults: the old alternative's fields would be unknown keys of the new one.
void drop_fields_of_old_alternative(YAML::Node& root, std::string_view dotted_path, const YAML::Node& value,
                                    const yaml::Location& where) {
  constexpr std::string_view kTypeKey = "type";
  if (!dotted_path.ends_with(kTypeKey)) return;
  if (dotted_path.size() != kTypeKey.size() && dotted_path[dotted_path.size() - kTypeKey.size() - 1] != '.') return;
  const std::string_view parent_path = dotted_path.size() == kTypeKey.size()
                                           ? std::string_view()
                                           : dotted_path.substr(0, dotted_path.size() - kTypeKey.size() - 1);
  YAML::Node parent = parent_path.empty() ? root : yaml::find_path(root, parent_path, where);
  if (!parent.IsMap() || !parent["type"].IsDefined() || !value.IsScalar()) return;
  if (equal_ignoring_case(parent["type"].Scalar(), value.Scalar())) return;
  YAML::Node fresh(YAML::NodeType::Map);
  fresh["type"] = value;
  if (parent_path.empty()) {
    root = fresh;
  } else {
    yaml::replace_path(root, parent_path, fresh, where);
  }
}

}  // namespace

template <class Config>
Config load_config_string(std::string_view yaml_text, std::string_view source) {
  const std::string name(source);
  return decode_document<Config>(yaml::parse(yaml_text, name), yaml::Location(name));
}

template <class Config>
Config load_config_file(const std::filesystem::path& path) {
  return load_config_string<Config>(read_yaml_file(path, "config file"), path.string());
}

template <class Config>
std::string save_config(const Config& config) {
  return yaml::emit(yaml::encode(config));
}

template <class Config>
void save_config_file(const Config& config, const std::filesystem::path& path) {
  const std::string text = save_config(config);
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw ConfigError(path.string(), 0, 0, "", "cannot write the file");
  }
  std::filesystem::rename(temporary, path);
}

template <class Config>
std::string get_parameter(const Config& config, std::string_view dotted_path) {
  const YAML::Node root = yaml::encode(config);
  const YAML::Node node = yaml::find_path(root, dotted_path, yaml::Location("<get>"));
  std::string text = yaml::emit(node);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

template <class Config>
void set_parameter(Config& config, std::string_view dotted_path, std::string_view yaml_value, std::string_view source) {
  const yaml::Location where{std::string(source)};
  YAML::Node root = yaml::encode(config);
  const YAML::Node value = yaml::parse(yaml_value, std::string(source));
  drop_fields_of_old_alternative(root, dotted_path, value, where);
  yaml::replace_path(root, dotted_path, value, where);
  config = decode_document<Config>(root, where);
}

// One explicit instantiation set per config type, so yaml-cpp stays out of users' headers.
#define TESSERA_INSTANTIATE_CONFIG_IO(Config)                                          \
  template Config load_config_string<Config>(std::string_view, std::string_view);      \
  template Config load_config_file<Config>(const std::filesystem::path&);              \
  template std::string save_config<Config>(const Config&);                             \
  template void save_config_file<Config>(const Config&, const std::filesystem::path&); \
  template std::string get_parameter<Config>(const Config&, std::string_view);         \
  template void set_parameter<Config>(Config&, std::string_view, std::string_view, std::string_view);

TESSERA_INSTANTIATE_CONFIG_IO(RangeEstimatorParameters)
TESSERA_INSTANTIATE_CONFIG_IO(BaseQuantConfig)
TESSERA_INSTANTIATE_CONFIG_IO(ActivationQuantConfig)
TESSERA_INSTANTIATE_CONFIG_IO(WeightQuantConfig)
TESSERA_INSTANTIATE_CONFIG_IO(QuantizationConfig)
TESSERA_INSTANTIATE_CONFIG_IO(QuantizedModuleConfig)
TESSERA_INSTANTIATE_CONFIG_IO(QuantizationMap)
TESSERA_INSTANTIATE_CONFIG_IO(IOParameters)
TESSERA_INSTANTIATE_CONFIG_IO(MappingParameter)
TESSERA_INSTANTIATE_CONFIG_IO(WeightClipParameter)
TESSERA_INSTANTIATE_CONFIG_IO(WeightRemapParameter)
TESSERA_INSTANTIATE_CONFIG_IO(WeightModifierParameter)
TESSERA_INSTANTIATE_CONFIG_IO(InputRangeParameter)
TESSERA_INSTANTIATE_CONFIG_IO(PrePostProcessingParameter)
TESSERA_INSTANTIATE_CONFIG_IO(SinglePairConductanceConverter)
TESSERA_INSTANTIATE_CONFIG_IO(DualPairConductanceConverter)
TESSERA_INSTANTIATE_CONFIG_IO(NPairConductanceConverter)
TESSERA_INSTANTIATE_CONFIG_IO(PCMLikeNoiseModel)
TESSERA_INSTANTIATE_CONFIG_IO(CustomDriftTable)
TESSERA_INSTANTIATE_CONFIG_IO(CustomDriftPCMLikeNoiseModel)
TESSERA_INSTANTIATE_CONFIG_IO(StateIndependentNoiseModel)
TESSERA_INSTANTIATE_CONFIG_IO(ReRamWan2022NoiseModel)
TESSERA_INSTANTIATE_CONFIG_IO(NullNoiseModel)
TESSERA_INSTANTIATE_CONFIG_IO(GlobalDriftCompensation)
TESSERA_INSTANTIATE_CONFIG_IO(PerColumnDriftCompensation)
TESSERA_INSTANTIATE_CONFIG_IO(InferenceRPUConfig)

#undef TESSERA_INSTANTIATE_CONFIG_IO

}  // namespace tessera::parameters
