// Dotted-path access (`forward.out_res`) used by sweeps and overrides.
#include <gtest/gtest.h>

#include "expect_error.hpp"
#include "tessera/parameters/config_io.hpp"
#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"

namespace tessera::parameters {
namespace {

TEST(DottedPath, GetsScalarsEnumsAndSections) {
  InferenceRPUConfig config{};
  config.forward.out_res = 0.25;
  EXPECT_EQ(get_parameter(config, "forward.out_res"), "0.25");
  EXPECT_EQ(get_parameter(config, "forward.noise_management"), "ABS_MAX");
  EXPECT_EQ(get_parameter(config, "noise_model.type"), "PCMLikeNoiseModel");
  EXPECT_EQ(get_parameter(config, "noise_model.g_converter.g_max"), "25");
  EXPECT_EQ(get_parameter(config, "noise_model.prog_coeff.1"), "1.9650000000000001");
  EXPECT_NE(get_parameter(config, "clip").find("sigma: 2.5"), std::string::npos);
}

TEST(DottedPath, SetsAndRevalidates) {
  InferenceRPUConfig config{};
  set_parameter(config, "forward.out_res", "0.004");
  set_parameter(config, "forward.bound_management", "none");
  set_parameter(config, "noise_model.g_converter.g_max", "40");
  EXPECT_DOUBLE_EQ(config.forward.out_res, 0.004);
  EXPECT_EQ(config.forward.bound_management, BoundManagementType::NONE);
  EXPECT_DOUBLE_EQ(
      std::get<SinglePairConductanceConverter>(std::get<PCMLikeNoiseModel>(config.noise_model).g_converter).g_max,
      40.0);
}

TEST(DottedPath, SwitchingAVariantTypeStartsFromItsDefaults) {
  InferenceRPUConfig config{};
  set_parameter(config, "noise_model.type", "StateIndependentNoiseModel");
  ASSERT_TRUE(std::holds_alternative<StateIndependentNoiseModel>(config.noise_model));
  EXPECT_EQ(std::get<StateIndependentNoiseModel>(config.noise_model), StateIndependentNoiseModel{});
  set_parameter(config, "noise_model", "ReRamWan2022NoiseModel");
  EXPECT_TRUE(std::holds_alternative<ReRamWan2022NoiseModel>(config.noise_model));
}

TEST(DottedPath, MapKeysContainingDotsAreFound) {
  QuantizationMap map{};
  map.instance_qconfig_map["features.0"] = QuantizedModuleConfig{};
  set_parameter(map, "instance_qconfig_map.features.0.module_qconfig.weight_quant.n_bits", "4");
  EXPECT_EQ(map.instance_qconfig_map.at("features.0").module_qconfig.weight_quant.n_bits, 4);
  EXPECT_EQ(get_parameter(map, "instance_qconfig_map.features.0.module_qconfig.weight_quant.n_bits"), "4");
}

TEST(DottedPath, UnknownSegmentSuggestsTheClosestKey) {
  InferenceRPUConfig config{};
  try {
    get_parameter(config, "forward.out_ress");
    FAIL();
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.key_path(), "forward");
    EXPECT_NE(std::string(error.what()).find("unknown key 'out_ress'; did you mean 'out_res'?"), std::string::npos)
        << error.what();
  }
}

TEST(DottedPath, InvalidValueLeavesTheConfigUnchanged) {
  InferenceRPUConfig config{};
  const InferenceRPUConfig before = config;
  try {
    set_parameter(config, "forward.out_res", "-3", "sweep.yaml");
    FAIL();
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.source(), "sweep.yaml");
    EXPECT_EQ(error.key_path(), "forward.out_res");
    EXPECT_NE(std::string(error.what()).find("found -3"), std::string::npos) << error.what();
  }
  EXPECT_EQ(config, before);
  testing::expect_error<ConfigError>([&] { set_parameter(config, "forward.out_res", "[1, 2"); }, "YAML syntax error");
  testing::expect_error<ConfigError>([&] { set_parameter(config, "forward.no_such_field", "1"); },
                                     "forward.no_such_field: unknown key 'no_such_field' in IOParameters");
  EXPECT_EQ(config, before);
}

TEST(DottedPath, ScalarHasNoChildren) {
  InferenceRPUConfig config{};
  testing::expect_error<ConfigError>([&] { get_parameter(config, "forward.out_res.value"); },
                                     "'forward.out_res' is a single value and has no field 'value'");
  testing::expect_error<ConfigError>([&] { get_parameter(config, "noise_model.prog_coeff.7"); },
                                     "expected a list index below 3, found '7'");
}

}  // namespace
}  // namespace tessera::parameters
