#include "tessera/parameters/config_io.hpp"

#include "tessera/parameters/text_file.hpp"

#include <fstream>
#include <map>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>
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

template <class T>
struct IsVariant : std::false_type {};
template <class... A>
struct IsVariant<std::variant<A...>> : std::true_type {};
template <class T>
struct IsMap : std::false_type {};
template <class K, class V>
struct IsMap<std::map<K, V>> : std::true_type {};

// Sets the field at `segments` (names of struct fields, through the current alternative of
// variants) from `node` in place, the way the whole-config decode would set it: the leaf (a
// number, flag, text, enum or list) decoded and range-checked, the structs above it
// consistency-checked. `handled` stays false where the path needs the general route instead:
// a section or a whole variant replaced, a variant's type, a map entry, an unknown name, or a
// value the checks refuse (that route then reports it, with its message).
class LeafSetter {
 public:
  LeafSetter(std::span<const std::string> segments, const YAML::Node& node, yaml::Location where)
      : segments_(segments), node_(node), where_(std::move(where)) {}

  template <class Field>
  void operator()(std::string_view name, Field& field, const Check& check = kAnyValue, std::string_view = {}) {
    if (visited_ || name != segments_.front()) return;
    visited_ = true;
    const yaml::Location where = where_.child(name);
    if (segments_.size() == 1) {
      if constexpr (!ConfigStruct<Field> && !IsVariant<Field>::value && !IsMap<Field>::value) {
        Field value = field;
        yaml::decode(node_, value, where);
        yaml::check_field_range(value, check, node_, where);
        field = std::move(value);
        handled = true;
      }
      return;
    }
    const std::span<const std::string> rest = segments_.subspan(1);
    if constexpr (ConfigStruct<Field>) {
      handled = set_in(field, rest, node_, where);
    } else if constexpr (IsVariant<Field>::value) {
      if (rest.front() != "type") {
        handled = std::visit([&](auto& alternative) { return set_in(alternative, rest, node_, where); }, field);
      }
    }
  }

  /// Sets the field at `segments` of `value`; false where the general route must do it
  /// (`value` may then be half-changed: callers work on a copy).
  template <class T>
  static bool set_in(T& value, std::span<const std::string> segments, const YAML::Node& node,
                     const yaml::Location& where) {
    LeafSetter setter(segments, node, where);
    T::visit_fields(value, setter);
    if (!setter.handled) return false;
    if constexpr (requires { value.consistency_problem(); }) {
      if (value.consistency_problem()) return false;
    }
    return true;
  }

  bool handled = false;

 private:
  std::span<const std::string> segments_;
  const YAML::Node& node_;
  yaml::Location where_;
  bool visited_ = false;
};

std::vector<std::string> split_path(std::string_view dotted_path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = dotted_path.find('.', start);
    segments.emplace_back(dotted_path.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return segments;
    start = dot + 1;
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
  const YAML::Node value = yaml::parse(yaml_value, std::string(source));
  // The common write, one field of a section (forward.out_res), in place: encoding and decoding
  // the whole config per attribute write cost more than the rest of a typical Python setup.
  if constexpr (ConfigStruct<Config>) {
    Config changed = config;
    bool handled = false;
    try {
      handled = LeafSetter::set_in(changed, split_path(dotted_path), value, where);
    } catch (const ConfigError&) {
      handled = false;  // refused: the general route below reports it with its usual message
    }
    if (handled) {
      config = std::move(changed);
      return;
    }
  }
  YAML::Node root = yaml::encode(config);
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
