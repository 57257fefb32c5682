// Bad configs are rejected with one clear message naming the file, line:column and key
// path, what was expected and what was found. Each case below asserts all of it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tessera/parameters/config_io.hpp"
#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"

namespace tessera::parameters {
namespace {

struct BadConfig {
  const char* name;
  const char* yaml;
  const char* key_path;
  int line;
  int column;
  const char* message;  ///< must appear in the error text
};

void PrintTo(const BadConfig& bad, std::ostream* out) { *out << bad.name; }

template <class Config>
void expect_rejected(const BadConfig& bad) {
  try {
    load_config_string<Config>(bad.yaml, "bad.yaml");
    ADD_FAILURE() << "accepted: " << bad.yaml;
  } catch (const ConfigError& error) {
    const std::string what = error.what();
    EXPECT_EQ(error.source(), "bad.yaml");
    EXPECT_EQ(error.key_path(), bad.key_path) << what;
    EXPECT_EQ(error.line(), bad.line) << what;
    EXPECT_EQ(error.column(), bad.column) << what;
    EXPECT_NE(what.find(bad.message), std::string::npos)
        << "message: " << what << "\nexpected to contain: " << bad.message;
    const std::string location = "bad.yaml:" + std::to_string(bad.line) + ":" + std::to_string(bad.column) + ": ";
    EXPECT_EQ(what.rfind(location, 0), 0u) << what;
  }
}

class BadRpuConfig : public ::testing::TestWithParam<BadConfig> {};
class BadQuantizationMap : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadRpuConfig, IsRejectedWithPositionAndReason) { expect_rejected<InferenceRPUConfig>(GetParam()); }
TEST_P(BadQuantizationMap, IsRejectedWithPositionAndReason) { expect_rejected<QuantizationMap>(GetParam()); }

INSTANTIATE_TEST_SUITE_P(
    Cases, BadRpuConfig,
    ::testing::Values(
        BadConfig{"typo_in_forward_key", "forward:\n  out_ress: 0.1\n", "forward.out_ress", 2, 3,
                  "unknown key 'out_ress' in IOParameters; did you mean 'out_res'?"},
        BadConfig{"typo_in_top_level_key", "foward:\n  out_res: 0.1\n", "foward", 1, 1,
                  "unknown key 'foward' in InferenceRPUConfig; did you mean 'forward'?"},
        BadConfig{"unknown_key_lists_valid_keys", "clip:\n  banana: 1\n", "clip.banana", 2, 3,
                  "unknown key 'banana' in WeightClipParameter (valid keys: fixed_value, sigma, type)"},
        BadConfig{"word_for_number", "forward:\n  out_res: high\n", "forward.out_res", 2, 12,
                  "expected a number, found 'high'"},
        BadConfig{"negative_resolution", "forward:\n  inp_res: -1\n", "forward.inp_res", 2, 12,
                  "expected a number >= 0 (0 turns the converter off; values > 1 count steps), found -1"},
        BadConfig{"negative_noise", "forward:\n  out_noise: -0.1\n", "forward.out_noise", 2, 14,
                  "expected a number >= 0, found -0.1"},
        BadConfig{"nan_noise", "forward:\n  out_noise: .nan\n", "forward.out_noise", 2, 14,
                  "expected a finite number, found .nan"},
        BadConfig{"probability_above_one", "modifier:\n  pdrop: 1.5\n", "modifier.pdrop", 2, 10,
                  "expected a number in [0, 1], found 1.5"},
        BadConfig{"not_a_bool", "forward:\n  is_perfect: maybe\n", "forward.is_perfect", 2, 15,
                  "expected true or false, found 'maybe'"},
        BadConfig{"enum_typo", "forward:\n  noise_management: ABS_MAXX\n", "forward.noise_management", 2, 21,
                  "unknown value 'ABS_MAXX'; did you mean 'ABS_MAX'?"},
        BadConfig{"enum_given_a_list", "forward:\n  bound_management: [1]\n", "forward.bound_management", 2, 21,
                  "expected one of NONE, ITERATIVE, ITERATIVE_WORST_CASE, SHIFT, found a list"},
        BadConfig{"list_for_number", "forward:\n  out_bound: [1, 2]\n", "forward.out_bound", 2, 14,
                  "expected a number, found a list"},
        BadConfig{"quoted_number", "forward:\n  out_res: \"0.5\"\n", "forward.out_res", 2, 12,
                  "expected a number, found the string \"0.5\""},
        BadConfig{"quoted_flag", "forward:\n  is_perfect: 'true'\n", "forward.is_perfect", 2, 15,
                  "expected true or false, found the string \"true\""},
        BadConfig{"section_is_a_scalar", "forward: 3\n", "forward", 1, 10,
                  "expected a map of IOParameters fields, found '3'"},
        BadConfig{"document_is_a_list", "- 1\n", "", 1, 1, "expected a map of InferenceRPUConfig fields, found a list"},
        BadConfig{"noise_model_type_typo", "noise_model:\n  type: PCMLike\n", "noise_model.type", 2, 9,
                  "unknown type 'PCMLike'; did you mean 'PCMLikeNoiseModel'?"},
        BadConfig{"field_of_another_noise_model", "noise_model:\n  type: PCMLikeNoiseModel\n  drift_nu_mean: 0.1\n",
                  "noise_model.drift_nu_mean", 3, 3, "unknown key 'drift_nu_mean' in PCMLikeNoiseModel"},
        BadConfig{"noise_model_as_list", "noise_model: [a]\n", "noise_model", 1, 14,
                  "expected a type name or a map with a 'type' key, found a list"},
        BadConfig{"g_min_above_g_max", "noise_model:\n  g_converter: {g_min: 30}\n", "noise_model.g_converter.g_min", 2,
                  24, "g_min (30 uS) must be below g_max (25 uS)"},
        BadConfig{"dual_pair_with_three_factors",
                  "noise_model:\n  g_converter: {type: DualPairConductanceConverter, f_lst: [1, 2, 3]}\n",
                  "noise_model.g_converter.f_lst", 2, 60,
                  "a dual-pair converter needs exactly 2 significance factors, found 3"},
        BadConfig{"empty_prog_coeff", "noise_model:\n  prog_coeff: []\n", "noise_model.prog_coeff", 2, 15,
                  "prog_coeff needs at least one coefficient"},
        BadConfig{"word_in_coefficient_list", "noise_model:\n  prog_coeff: [0.1, x, 0.3]\n",
                  "noise_model.prog_coeff[1]", 2, 21, "expected a number, found 'x'"},
        BadConfig{"drift_table_lengths_differ",
                  "noise_model:\n  type: CustomDriftPCMLikeNoiseModel\n  custom_drift_model:\n    g_lst: [0, 10, 25]\n"
                  "    nu_mean_lst: [0.1, 0.05]\n",
                  "noise_model.custom_drift_model.nu_mean_lst", 5, 18, "nu_mean_lst has 2 entries but g_lst has 3"},
        BadConfig{"drift_table_not_increasing",
                  "noise_model:\n  type: CustomDriftPCMLikeNoiseModel\n  custom_drift_model: {g_lst: [0, 25, 10]}\n",
                  "noise_model.custom_drift_model.g_lst", 3, 31, "g_lst must be strictly increasing"},
        BadConfig{"reram_time_without_coefficients",
                  "noise_model:\n  type: ReRamWan2022NoiseModel\n  coeff_dic: {1.0: []}\n", "noise_model.coeff_dic", 3,
                  14, "every time point needs at least one coefficient"},
        BadConfig{"negative_tile_size", "mapping:\n  max_input_size: -5\n", "mapping.max_input_size", 2, 19,
                  "expected an integer >= 0 (0 means no limit), found -5"},
        BadConfig{"integer_overflow", "mapping:\n  max_input_size: 99999999999\n", "mapping.max_input_size", 2, 19,
                  "expected an integer that fits in 32 bits, found 99999999999"},
        BadConfig{"duplicate_key", "forward:\n  out_res: 0.1\n  out_res: 0.2\n", "forward.out_res", 3, 3,
                  "duplicate key 'out_res'"},
        BadConfig{"yaml_syntax_error", "forward:\n  out_res: [1, 2\n", "", 3, 1, "YAML syntax error"},
        BadConfig{"unknown_drift_compensation", "drift_compensation: Global\n", "drift_compensation.type", 1, 21,
                  "unknown type 'Global'"}));

INSTANTIATE_TEST_SUITE_P(
    Cases, BadQuantizationMap,
    ::testing::Values(
        BadConfig{"bitwidth_above_32", "default_qconfig:\n  weight_quant:\n    n_bits: 64\n",
                  "default_qconfig.weight_quant.n_bits", 3, 13,
                  "expected an integer <= 32 (n_bits <= 0 turns quantization off), found 64"},
        BadConfig{"fractional_bitwidth", "default_qconfig:\n  activation_quant: {n_bits: 7.5}\n",
                  "default_qconfig.activation_quant.n_bits", 2, 30, "expected an integer, found '7.5'"},
        BadConfig{"excluded_modules_not_a_list", "excluded_modules: classifier\n", "excluded_modules", 1, 19,
                  "expected a list, found 'classifier'"},
        BadConfig{"typo_inside_instance_entry",
                  "instance_qconfig_map:\n  features.0:\n    module_qconfig: {weight_quant: {nbits: 8}}\n",
                  "instance_qconfig_map.features.0.module_qconfig.weight_quant.nbits", 3, 37,
                  "unknown key 'nbits' in WeightQuantConfig; did you mean 'n_bits'?"},
        BadConfig{"percentile_below_50",
                  "default_qconfig:\n  activation_quant:\n    range_estimator: percentile\n"
                  "    range_estimator_params: {percentile: 30}\n",
                  "default_qconfig.activation_quant.range_estimator_params.percentile", 4, 42,
                  "expected a number in [50, 100], found 30"},
        BadConfig{"unknown_range_estimator", "default_qconfig:\n  weight_quant: {range_estimator: minmax}\n",
                  "default_qconfig.weight_quant.range_estimator", 2, 35, "unknown value 'minmax'"},
        BadConfig{"quoted_bitwidth", "default_qconfig:\n  weight_quant: {n_bits: '8'}\n",
                  "default_qconfig.weight_quant.n_bits", 2, 26, "expected an integer, found the string \"8\""},
        BadConfig{"type_map_is_a_list", "module_qconfig_map: [Linear]\n", "module_qconfig_map", 1, 21,
                  "expected a map, found a list"}));

TEST(BadConfigFile, MissingFileIsNamed) {
  try {
    load_config_file<InferenceRPUConfig>("/nonexistent/tessera/config.yaml");
    FAIL() << "a missing file was accepted";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(), "/nonexistent/tessera/config.yaml: no such file");
  }
}

TEST(BadConfigFile, DevicesAndHugeFilesAreRefusedBeforeReading) {
  try {
    load_config_file<InferenceRPUConfig>("/dev/zero");  // would be read until memory runs out
    FAIL() << "/dev/zero was accepted";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(), "/dev/zero: not a regular file (a folder, a device or a pipe); a config file is a YAML "
                               "text file");
  }
  const auto path = std::filesystem::temp_directory_path() / ("tessera_huge_" + std::to_string(::getpid()) + ".yaml");
  { std::ofstream(path) << "forward: {}\n"; }
  std::filesystem::resize_file(path, std::uintmax_t{40} << 20);  // sparse: no disk is written
  try {
    load_config_file<InferenceRPUConfig>(path);
    FAIL() << "a 40 MiB config was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("the file holds 40 MiB; a config file is at most 16 MiB"),
              std::string::npos)
        << error.what();
  }
  std::filesystem::remove(path);
}

TEST(BadConfigFile, MessagesQuoteAtMostAnExcerptOfTheInput) {
  const std::string value(100000, 'x');
  try {
    load_config_string<InferenceRPUConfig>("forward:\n  out_res: " + value + "\n");
    FAIL() << "accepted";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_LT(message.size(), 300u) << message.substr(0, 400);
    EXPECT_NE(message.find("xxx... (100000 characters)'"), std::string::npos) << message.substr(0, 400);
  }
  try {
    load_config_string<InferenceRPUConfig>(std::string(100000, 'k') + ": 1\n");  // an unknown key that long
    FAIL() << "accepted";
  } catch (const ConfigError& error) {
    EXPECT_LT(std::string(error.what()).size(), 400u);
  }
  EXPECT_EQ(excerpt("short"), "short");
  EXPECT_EQ(excerpt(std::string(80, 'a')), std::string(80, 'a'));
  EXPECT_EQ(excerpt(std::string(81, 'a')), std::string(72, 'a') + "... (81 characters)");
}

}  // namespace
}  // namespace tessera::parameters
