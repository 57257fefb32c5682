// Every config struct: saving and loading gives the same value back (with defaults and with
// every field changed), the field list covers every member, and aihwkit's defaults hold.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "parameters/config_types.hpp"
#include "tessera/parameters/config_io.hpp"
#include "tessera/parameters/field_docs.hpp"
#include "tessera/parameters/yaml_codec.hpp"

namespace tessera::parameters {
namespace {

// ---- a visitor that changes every field to another valid value -------------------------------
template <class T>
struct IsVariant : std::false_type {};
template <class... A>
struct IsVariant<std::variant<A...>> : std::true_type {};

class Perturber {
 public:
  template <class Field>
  void operator()(std::string_view, Field& field, const Check& check = kAnyValue, std::string_view = {}) {
    perturb(field, check);
  }

  template <class Field>
  static void perturb(Field& field, const Check& check) {
    if constexpr (std::is_same_v<Field, bool>) {
      field = !field;
    } else if constexpr (std::is_same_v<Field, int>) {
      field = check.allows(field + 1) ? field + 1 : field - 1;
    } else if constexpr (std::is_same_v<Field, double>) {
      for (double candidate : {field * 1.5 + 0.25, field * 0.5, field * 0.5 + 0.125, check.min + 0.125}) {
        if (candidate != field && check.allows(candidate)) {
          field = candidate;
          return;
        }
      }
      ADD_FAILURE() << "no perturbation found for a double field";
    } else if constexpr (std::is_same_v<Field, std::string>) {
      field += "_changed";
    } else if constexpr (std::is_enum_v<Field>) {
      const auto& names = EnumNames<Field>::kNames;
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i].first == field) {
          field = names[(i + 1) % names.size()].first;
          return;
        }
      }
    } else if constexpr (std::is_same_v<Field, std::vector<double>>) {
      if (field.empty()) {
        field.push_back(0.5);
      } else {
        field[0] = field[0] * 1.25 + 0.1;
      }
    } else if constexpr (std::is_same_v<Field, std::vector<std::string>>) {
      field.push_back("extra.module");
    } else if constexpr (IsVariant<Field>::value) {
      const std::size_t next = (field.index() + 1) % std::variant_size_v<Field>;
      field = alternative(next, field);
      std::visit([](auto& value) { perturb(value, kAnyValue); }, field);
    } else if constexpr (requires { typename Field::mapped_type; }) {
      using Key = typename Field::key_type;
      typename Field::mapped_type value{};
      perturb(value, kAnyValue);
      if constexpr (std::is_same_v<Key, std::string>) {
        field.emplace("extra.module", value);
      } else {
        field.emplace(Key{7.5}, value);
      }
    } else {
      Perturber visitor;
      Field::visit_fields(field, visitor);
    }
  }

 private:
  template <class Variant>
  static Variant alternative(std::size_t index, const Variant&) {
    return alternative_impl<Variant>(index, std::make_index_sequence<std::variant_size_v<Variant>>());
  }
  template <class Variant, std::size_t... I>
  static Variant alternative_impl(std::size_t index, std::index_sequence<I...>) {
    using Factory = Variant (*)();
    constexpr Factory kFactories[] = {+[]() { return Variant(std::in_place_index<I>); }...};
    return kFactories[index]();
  }
};

// ---- how many members an aggregate has ------------------------------------------------------
struct AnyMember {
  template <class T>
  operator T() const;  // only used in unevaluated contexts
};

template <class T, std::size_t... I>
constexpr bool brace_constructible(std::index_sequence<I...>) {
  return requires { T{((void)I, AnyMember{})...}; };
}

template <class T, std::size_t N = 48>
constexpr std::size_t member_count() {
  if constexpr (N == 0) {
    return 0;
  } else if constexpr (brace_constructible<T>(std::make_index_sequence<N>())) {
    return N;
  } else {
    return member_count<T, N - 1>();
  }
}

class FieldCounter {
 public:
  template <class Field>
  void operator()(std::string_view, Field&, const Check& = kAnyValue, std::string_view = {}) {
    ++count;
  }
  std::size_t count = 0;
};

template <class Config>
class ConfigRoundTrip : public ::testing::Test {};
TYPED_TEST_SUITE(ConfigRoundTrip, testing::AllConfigTypes);

TYPED_TEST(ConfigRoundTrip, DefaultsSurviveSaveAndLoad) {
  const TypeParam original{};
  const std::string text = save_config(original);
  EXPECT_EQ(load_config_string<TypeParam>(text), original) << text;
}

TYPED_TEST(ConfigRoundTrip, EveryChangedFieldSurvivesSaveAndLoad) {
  TypeParam changed{};
  Perturber::perturb(changed, kAnyValue);
  if constexpr (member_count<TypeParam>() > 0) {
    EXPECT_NE(changed, TypeParam{});
  }
  const std::string text = save_config(changed);
  EXPECT_EQ(load_config_string<TypeParam>(text), changed) << text;
}

template <class Config>
std::size_t listed_fields() {
  Config value{};
  FieldCounter counter;
  Config::visit_fields(value, counter);
  return counter.count;
}

// Members a config declares, counting those of the config it extends (`Base`).
template <class Config>
std::size_t declared_members() {
  if constexpr (requires { typename Config::Base; }) {
    return member_count<Config>() - 1 + declared_members<typename Config::Base>();
  } else {
    return member_count<Config>();
  }
}

TYPED_TEST(ConfigRoundTrip, FieldListNamesEveryMember) {
  EXPECT_EQ(listed_fields<TypeParam>(), declared_members<TypeParam>())
      << "visit_fields of " << TypeParam::kTypeName << " must list every member";
}

// Python's help() and docs/config_reference.md show these: a field added without one fails here.
class UndocumentedFields {
 public:
  template <class Field>
  void operator()(std::string_view name, Field&, const Check& = kAnyValue, std::string_view doc = {}) {
    if (doc.empty()) names.emplace_back(name);
  }
  std::vector<std::string> names;
};

TYPED_TEST(ConfigRoundTrip, EveryFieldHasADocumentationString) {
  TypeParam value{};
  UndocumentedFields undocumented;
  TypeParam::visit_fields(value, undocumented);
  EXPECT_TRUE(undocumented.names.empty())
      << TypeParam::kTypeName << " fields without a documentation string in visit_fields: "
      << ::testing::PrintToString(undocumented.names);
}

TEST(FieldDocs, PathsFollowSectionsAndTheCurrentAlternative) {
  const std::vector<FieldDoc> docs = field_docs(InferenceRPUConfig{});
  auto doc_of = [&](const std::string& path) {
    for (const FieldDoc& entry : docs) {
      if (entry.path == path) return entry.doc;
    }
    return std::string("<missing>");
  };
  EXPECT_EQ(doc_of("forward.out_noise"), "std of Gaussian noise at each output, before the ADC");
  EXPECT_EQ(doc_of("noise_model.t_read"), "s, duration of one read (1/f noise)");
  EXPECT_NE(doc_of("noise_model.type").find("PCMLikeNoiseModel"), std::string::npos);
  EXPECT_NE(doc_of("noise_model.g_converter.g_max"), "<missing>");
  for (const FieldDoc& entry : docs) EXPECT_FALSE(entry.doc.empty()) << entry.path;
}

// set_parameter writes one field in place where it can; every write must equal the route
// through the whole config's YAML (encode, replace the node, decode), or both must refuse.
TEST(SetParameter, EveryFieldWriteEqualsTheWholeConfigRoute) {
  InferenceRPUConfig changed{};
  Perturber::perturb(changed, kAnyValue);
  const InferenceRPUConfig start{};
  int in_place = 0;
  for (const FieldDoc& entry : field_docs(changed)) {
    // A variant's type always takes the general route (which starts the new kind from its
    // defaults, a step this test's route lacks).
    if (entry.path.ends_with(".type")) continue;
    const std::string value = get_parameter(changed, entry.path);
    std::optional<InferenceRPUConfig> expected;
    try {
      YAML::Node root = yaml::encode(start);
      const yaml::Location where("<test>");
      yaml::replace_path(root, entry.path, yaml::parse(value, "<test>"), where);
      expected = load_config_string<InferenceRPUConfig>(yaml::emit(root));
    } catch (const ConfigError&) {
    }
    InferenceRPUConfig written = start;
    if (!expected) {
      EXPECT_THROW(set_parameter(written, entry.path, value), ConfigError) << entry.path;
      continue;
    }
    set_parameter(written, entry.path, value);
    EXPECT_EQ(written, *expected) << entry.path << " = " << value;
    in_place += yaml::parse(value, "<test>").IsScalar() ? 1 : 0;
  }
  EXPECT_GT(in_place, 40);  // the leaves of the default alternatives were written, not only refused
}

TEST(SetParameter, ARefusedWriteLeavesTheConfigAndNamesThePath) {
  InferenceRPUConfig config{};
  const InferenceRPUConfig before = config;
  try {
    set_parameter(config, "forward.out_noise", "-1", "<override>");
    FAIL() << "a negative out_noise was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("forward.out_noise"), std::string::npos) << error.what();
  }
  EXPECT_EQ(config, before);
  // g_min above g_max: the converter's consistency check along the path refuses it.
  EXPECT_THROW(set_parameter(config, "noise_model.g_converter.g_min", "30"), ConfigError);
  EXPECT_EQ(config, before);
}

TYPED_TEST(ConfigRoundTrip, EmptyDocumentGivesDefaults) {
  EXPECT_EQ(load_config_string<TypeParam>(""), TypeParam{});
  EXPECT_EQ(load_config_string<TypeParam>("# only a comment\n"), TypeParam{});
}

// ---- the peers' defaults ---------------------------------------------------------------------
TEST(ConfigDefaults, QuantizationFollowsAihwkit) {
  EXPECT_EQ(BaseQuantConfig{}.n_bits, 0);
  EXPECT_TRUE(BaseQuantConfig{}.symmetric);
  EXPECT_EQ(ActivationQuantConfig{}.range_estimator, RangeEstimator::running_minmax);
  EXPECT_EQ(WeightQuantConfig{}.range_estimator, RangeEstimator::current_minmax);
  EXPECT_FALSE(WeightQuantConfig{}.per_channel);
  EXPECT_DOUBLE_EQ(RangeEstimatorParameters{}.momentum, 0.9);
  EXPECT_DOUBLE_EQ(RangeEstimatorParameters{}.averaging_constant, 0.01);
  EXPECT_EQ(RangeEstimatorParameters{}.num_candidates, 100);
}

TEST(ConfigDefaults, IOParametersFollowAihwkit) {
  const IOParameters io{};
  EXPECT_DOUBLE_EQ(io.inp_res, 1.0 / 126.0);
  EXPECT_DOUBLE_EQ(io.out_res, 1.0 / 510.0);
  EXPECT_DOUBLE_EQ(io.out_bound, 12.0);
  EXPECT_DOUBLE_EQ(io.out_noise, 0.06);
  EXPECT_DOUBLE_EQ(io.inp_bound, 1.0);
  EXPECT_EQ(io.noise_management, NoiseManagementType::ABS_MAX);
  EXPECT_EQ(io.bound_management, BoundManagementType::ITERATIVE);
  EXPECT_EQ(io.w_noise_type, WeightNoiseType::NONE);
  EXPECT_NEAR(io.ir_drop_g_ratio, 571428.57, 0.01);
  EXPECT_DOUBLE_EQ(io.max_bm_factor, 1000.0);
  EXPECT_DOUBLE_EQ(io.max_bm_res, 0.25);
}

TEST(ConfigDefaults, InferenceRPUConfigFollowsAihwkit) {
  const InferenceRPUConfig config{};
  ASSERT_TRUE(std::holds_alternative<PCMLikeNoiseModel>(config.noise_model));
  const auto& pcm = std::get<PCMLikeNoiseModel>(config.noise_model);
  EXPECT_EQ(pcm.prog_coeff, (std::vector<double>{0.26348, 1.9650, -1.1731}));
  EXPECT_DOUBLE_EQ(pcm.t_0, 20.0);
  EXPECT_DOUBLE_EQ(pcm.t_read, 250e-9);
  EXPECT_DOUBLE_EQ(std::get<SinglePairConductanceConverter>(pcm.g_converter).g_max, 25.0);
  EXPECT_TRUE(std::holds_alternative<GlobalDriftCompensation>(config.drift_compensation));
  EXPECT_EQ(config.mapping.max_input_size, 512);
  EXPECT_TRUE(config.mapping.digital_bias);
  EXPECT_EQ(config.modifier.coeffs, (std::vector<double>{0.0105392, 0.0768, -0.046925}));
  EXPECT_DOUBLE_EQ(config.clip.sigma, 2.5);
}

TEST(ConfigYaml, ReadsAUserFileWithVariantsMapsAndCaseInsensitiveEnums) {
  const auto config = load_config_string<InferenceRPUConfig>(R"(
forward:
  out_res: 0.0039
  noise_management: abs_max
  w_noise_type: PCM_READ
  w_noise: 0.0175
noise_model:
  type: StateIndependentNoiseModel
  drift_nu_mean: 0.05
  g_converter: {type: DualPairConductanceConverter, f_lst: [1, 4]}
drift_compensation: PerColumnDriftCompensation
)");
  EXPECT_DOUBLE_EQ(config.forward.out_res, 0.0039);
  EXPECT_EQ(config.forward.w_noise_type, WeightNoiseType::PCM_READ);
  const auto& model = std::get<StateIndependentNoiseModel>(config.noise_model);
  EXPECT_DOUBLE_EQ(model.drift_nu_mean, 0.05);
  EXPECT_DOUBLE_EQ(model.drift_nu_std, 0.05);  // untouched default
  EXPECT_EQ(std::get<DualPairConductanceConverter>(model.g_converter).f_lst, (std::vector<double>{1, 4}));
  EXPECT_TRUE(std::holds_alternative<PerColumnDriftCompensation>(config.drift_compensation));

  const auto none = load_config_string<InferenceRPUConfig>("drift_compensation: null\n");
  EXPECT_TRUE(std::holds_alternative<NoDriftCompensation>(none.drift_compensation));
}

TEST(ConfigYaml, QuantizationMapByTypeInstanceInputAndExclusion) {
  const auto map = load_config_string<QuantizationMap>(R"(
module_qconfig_map:
  Linear:
    quantized_module: QuantLinear
    module_qconfig: {weight_quant: {n_bits: 8, per_channel: true}, activation_quant: {n_bits: 8}}
instance_qconfig_map:
  features.0:
    quantized_module: QuantConv2d
    module_qconfig: {weight_quant: {n_bits: 4, range_estimator: MSE}}
input_activation_qconfig_map:
  features.0: {n_bits: 8, symmetric: false}
excluded_modules: [classifier.2]
)");
  EXPECT_EQ(map.module_qconfig_map.at("Linear").module_qconfig.weight_quant.n_bits, 8);
  EXPECT_TRUE(map.module_qconfig_map.at("Linear").module_qconfig.weight_quant.per_channel);
  EXPECT_EQ(map.instance_qconfig_map.at("features.0").module_qconfig.weight_quant.range_estimator, RangeEstimator::MSE);
  EXPECT_FALSE(map.input_activation_qconfig_map.at("features.0").symmetric);
  EXPECT_EQ(map.excluded_modules, (std::vector<std::string>{"classifier.2"}));
}

TEST(ConfigYaml, SavedTextIsReadableYamlWithEnumNames) {
  InferenceRPUConfig config{};
  config.forward.bound_management = BoundManagementType::NONE;
  const std::string text = save_config(config);
  EXPECT_NE(text.find("bound_management: NONE"), std::string::npos) << text;
  EXPECT_NE(text.find("type: PCMLikeNoiseModel"), std::string::npos) << text;
  EXPECT_NE(text.find("type: SinglePairConductanceConverter"), std::string::npos) << text;
}

TEST(ConfigYaml, StringsThatLookLikeNumbersAreQuotedAndStayStrings) {
  QuantizationMap map{};
  map.excluded_modules = {"1", "3.0", "true", "null", "", "features.0", "1e3"};
  map.instance_qconfig_map["0"].quantized_module = "2";
  const std::string text = save_config(map);
  EXPECT_NE(text.find("- \"1\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("- \"3.0\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("- features.0\n"), std::string::npos) << text;  // no quotes where none are needed
  EXPECT_NE(text.find("\"0\":"), std::string::npos) << text;
  EXPECT_EQ(load_config_string<QuantizationMap>(text), map);
  // A dotted get hands back text that reads as a string too (what Python builds its values from).
  EXPECT_EQ(get_parameter(map, "excluded_modules"),
            "- \"1\"\n- \"3.0\"\n- \"true\"\n- \"null\"\n- \"\"\n- features.0\n- \"1e3\"");
}

TEST(ConfigYaml, FileSaveIsAtomicAndLoadsBack) {
  const auto path = std::filesystem::temp_directory_path() / "tessera_roundtrip_test.yaml";
  InferenceRPUConfig config{};
  config.forward.out_noise = 0.02;
  save_config_file(config, path);
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  EXPECT_EQ(load_config_file<InferenceRPUConfig>(path), config);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace tessera::parameters
