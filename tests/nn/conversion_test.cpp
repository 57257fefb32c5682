// convert_to_quantized's priority rules (excluded > instance > type > unchanged, inputs) and
// convert_to_analog's exclusions and per-instance configs, on the bundled Fashion-MNIST CNN
// (modules features.0-5, classifier.0-3).
#include "tessera/nn/conversion.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "expect_error.hpp"
#include "tessera/nn/encodings.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::nn {
namespace {

using tessera::testing::expect_error;
const std::string kModel = TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx";

parameters::QuantizedModuleConfig bits(int weight_bits, int activation_bits = 0) {
  parameters::QuantizedModuleConfig config;
  config.module_qconfig.weight_quant.n_bits = weight_bits;
  config.module_qconfig.activation_quant.n_bits = activation_bits;
  return config;
}

const PlannedModule& entry_of(const ConversionPlan& plan, const std::string& module) {
  if (const PlannedModule* entry = plan.find(module)) return *entry;
  throw std::runtime_error("no plan entry for " + module);
}

ConversionPlan report_of(const parameters::QuantizationMap& map) {
  ConversionPlan plan;
  convert_to_quantized(load_onnx(kModel), map, &plan);
  return plan;
}

Tensor sample_input() {
  Tensor x({2, 1, 28, 28});
  for (std::int64_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>((k * 37) % 101) / 50.0f - 1.0f;
  return x;
}

TEST(QuantizationMapRules, ModulesAreNamedAfterTheStateDict) {
  const Model model = load_onnx(kModel);
  ASSERT_EQ(model.modules().size(), 10u);
  EXPECT_EQ(model.modules()[0].name, "features.0");
  EXPECT_EQ(model.modules()[0].type, "Conv2d");
  EXPECT_EQ(model.modules()[0].parameter_count, 16 * 9 + 16);
  EXPECT_EQ(model.modules()[1].type, "ReLU");
  EXPECT_EQ(model.modules()[7].name, "classifier.1");
  EXPECT_EQ(model.modules()[7].type, "Linear");
}

TEST(QuantizationMapRules, ExclusionBeatsInstanceAndPrunesTheSubtree) {
  parameters::QuantizationMap map;
  map.excluded_modules = {"features"};
  map.instance_qconfig_map["features.0"] = bits(4);
  map.module_qconfig_map["Conv2d"] = bits(4);
  map.module_qconfig_map["Linear"] = bits(4);
  const ConversionPlan report = report_of(map);
  EXPECT_EQ(entry_of(report, "features.0").became, "unchanged");
  EXPECT_EQ(entry_of(report, "features.0").rule, "excluded_modules: features");
  EXPECT_EQ(entry_of(report, "features.3").rule, "excluded_modules: features");
  EXPECT_EQ(entry_of(report, "classifier.1").became, "QuantLinear");
}

TEST(QuantizationMapRules, InstanceBeatsType) {
  parameters::QuantizationMap map;
  map.module_qconfig_map["Conv2d"] = bits(4);
  map.instance_qconfig_map["features.3"] = bits(8);
  map.instance_qconfig_map["features.3"].quantized_module = "MyQuantConv";
  const ConversionPlan report = report_of(map);
  EXPECT_EQ(entry_of(report, "features.0").rule, "module_qconfig_map[Conv2d]");
  EXPECT_EQ(entry_of(report, "features.3").rule, "instance_qconfig_map");
  EXPECT_EQ(entry_of(report, "features.3").became, "MyQuantConv");
  // Types match exactly; a layer with weights left digital says so.
  EXPECT_EQ(entry_of(report, "classifier.1").rule, "stays digital: no rule quantizes its weights");
  EXPECT_TRUE(entry_of(report, "classifier.1").digital_without_exclusion);
}

TEST(QuantizationMapRules, InputActivationWrapsTheModule) {
  parameters::QuantizationMap map;
  map.input_activation_qconfig_map["features.0"].n_bits = 8;
  map.module_qconfig_map["Linear"] = bits(8);
  map.input_activation_qconfig_map["classifier.1"].n_bits = 8;
  const ConversionPlan report = report_of(map);
  EXPECT_EQ(entry_of(report, "features.0").became, "QuantizedInputModule(Conv2d)");
  EXPECT_EQ(entry_of(report, "features.0").rule,
            "input_activation_qconfig_map; stays digital: its weights are not quantized");
  EXPECT_EQ(entry_of(report, "classifier.1").became, "QuantizedInputModule(QuantLinear)");
  EXPECT_EQ(entry_of(report, "classifier.1").rule, "module_qconfig_map[Linear], input_activation_qconfig_map");
}

TEST(QuantizationMapRules, ZeroBitsMeansNotQuantized) {
  Model model = load_onnx(kModel);
  parameters::QuantizationMap map;
  map.module_qconfig_map["Conv2d"] = bits(0, 0);
  map.module_qconfig_map["Linear"] = bits(-1, 0);
  Model converted = convert_to_quantized(model, map);
  const Tensor x = sample_input();
  EXPECT_EQ(converted.forward(x), model.forward(x));
}

TEST(QuantizationMapRules, FewerWeightBitsChangeTheOutputMore) {
  Model model = load_onnx(kModel);
  const Tensor x = sample_input();
  const Tensor reference = model.forward(x);
  double previous = 0.0;
  for (int n_bits : {8, 4, 2}) {
    parameters::QuantizationMap map;
    map.module_qconfig_map["Conv2d"] = bits(n_bits);
    map.module_qconfig_map["Linear"] = bits(n_bits);
    const Tensor y = convert_to_quantized(model, map).forward(x);
    double error = 0.0;
    for (std::int64_t k = 0; k < y.size(); ++k) error += std::abs(y[k] - reference[k]);
    EXPECT_GT(error, previous) << n_bits << " bits";
    previous = error;
  }
}

TEST(QuantizationMapRules, UnknownNamesAreReportedByName) {
  const Model model = load_onnx(kModel);
  parameters::QuantizationMap map;
  map.instance_qconfig_map["features.9"] = bits(8);
  expect_error<ModelError>([&] { convert_to_quantized(model, map); },
                           "instance_qconfig_map: 'features.9' is not a module of");
  map.instance_qconfig_map.clear();
  map.instance_qconfig_map["features"] = bits(8);
  expect_error<ModelError>([&] { convert_to_quantized(model, map); },
                           "instance_qconfig_map: 'features' is a container; name its layers instead");
  map.instance_qconfig_map.clear();
  map.excluded_modules = {"head"};
  expect_error<ModelError>([&] { convert_to_quantized(model, map); }, "excluded_modules: 'head' is not a module of");
}

TEST(QuantizationMapRules, ActivationQuantizersNeedCalibration) {
  parameters::QuantizationMap map;
  map.module_qconfig_map["ReLU"] = bits(0, 8);
  Model converted = convert_to_quantized(load_onnx(kModel), map);
  EXPECT_THROW(converted.forward(sample_input()), std::exception);
  converted.compute_encodings([](Model& m) { m.forward(sample_input()); });
  EXPECT_NO_THROW(converted.forward(sample_input()));
}

TEST(QuantizationMapRules, EncodingsExportInAimetsLayout) {
  parameters::QuantizationMap map;
  map.module_qconfig_map["Conv2d"] = bits(8);
  map.module_qconfig_map["Conv2d"].module_qconfig.weight_quant.per_channel = true;
  map.module_qconfig_map["ReLU"] = bits(0, 8);
  Model converted = convert_to_quantized(load_onnx(kModel), map);
  expect_error<ModelError>([&] { encodings_json(converted); },
                           "has no encodings yet; run compute_encodings with calibration data first");
  converted.compute_encodings([](Model& m) { m.forward(sample_input()); });
  const nlohmann::json document = nlohmann::json::parse(encodings_json(converted));
  EXPECT_EQ(document["version"], "tessera-encodings/1");
  const auto& weight = document["param_encodings"]["features.0.weight"];
  ASSERT_EQ(weight.size(), 16u);  // one per output channel
  for (const auto& channel : weight) {
    EXPECT_EQ(channel["bitwidth"], 8);
    EXPECT_EQ(channel["is_symmetric"], true);
    const double scale = channel["scale"], low = channel["min"], high = channel["max"];
    EXPECT_GT(scale, 0.0);
    EXPECT_NEAR(high - low, 255.0 * scale, 1e-6);
  }
  EXPECT_EQ(document["activation_encodings"].size(), 3u);  // the three ReLU outputs
  EXPECT_EQ(document["activation_encodings"]["/features/features.1/Relu_output_0"].size(), 1u);
}

TEST(AnalogConversion, IdealTilesReproduceTheFloatModel) {
  Model model = load_onnx(kModel);
  AnalogConversion conversion;
  conversion.rpu_config.forward.is_perfect = true;
  conversion.rpu_config.mapping.max_input_size = 100;  // classifier.1 (1568 inputs) spans 16 tiles
  ConversionPlan report;
  Model analog = convert_to_analog(model, conversion, &report);
  EXPECT_EQ(entry_of(report, "features.0").became, "AnalogConv2d");
  EXPECT_EQ(entry_of(report, "classifier.3").became, "AnalogLinear");
  EXPECT_EQ(entry_of(report, "features.1").rule, "type not converted");
  const Tensor x = sample_input();
  const Tensor expected = model.forward(x);
  const Tensor y = analog.forward(x);
  for (std::int64_t k = 0; k < y.size(); ++k) EXPECT_NEAR(y[k], expected[k], 1e-4f * (1.0f + std::abs(expected[k])));
}

TEST(AnalogConversion, ExclusionAndInstanceConfigs) {
  Model model = load_onnx(kModel);
  AnalogConversion conversion;
  conversion.exclude = {"classifier"};
  conversion.instance_rpu_configs["features.3"].forward.is_perfect = true;
  ConversionPlan report;
  convert_to_analog(model, conversion, &report);
  EXPECT_EQ(entry_of(report, "features.0").rule, "module type");
  EXPECT_EQ(entry_of(report, "features.3").rule, "instance_rpu_configs");
  EXPECT_EQ(entry_of(report, "classifier.1").became, "unchanged");
  EXPECT_EQ(entry_of(report, "classifier.1").rule, "exclude: classifier");
  conversion.exclude = {"classifer"};
  expect_error<ModelError>([&] { convert_to_analog(model, conversion); }, "exclude: 'classifer' is not a module of");
}

TEST(AnalogConversion, SameSeedSameResultOtherSeedOtherResult) {
  Model model = load_onnx(kModel);
  auto run = [&](std::uint64_t seed) {
    AnalogConversion conversion;
    conversion.seed = seed;
    Model analog = convert_to_analog(model, conversion);
    analog.drift(3600.0);
    return analog.forward(sample_input());
  };
  EXPECT_EQ(run(3), run(3));
  EXPECT_NE(run(3), run(4));
}

// An analog convolution goes through im2col in chunks of samples (about 16,384 patch rows, 20
// samples of 28 x 28); a tile's noise depends on each row's index in its stream, so a batch of
// 50 (three chunks) gives bit for bit the outputs of 50 calls of one sample each. On the
// bundled ResNet, whose depthwise convolution has a tile array per group.
TEST(AnalogConversion, ConvolutionChunksGiveTheOutputsOfOneSampleAtATime) {
  const Model model = load_onnx(TESSERA_SOURCE_DIR "/examples/fashion_mnist_resnet/fmnist_resnet.onnx");
  Tensor batch({50, 1, 28, 28});
  for (std::int64_t k = 0; k < batch.size(); ++k) batch[k] = static_cast<float>((k * 37) % 101) / 50.0f - 1.0f;
  auto drifted = [&] {
    AnalogConversion conversion;
    conversion.seed = 5;
    Model analog = convert_to_analog(model, conversion);
    analog.drift(86400.0);
    return analog;
  };
  Model whole = drifted();
  const Tensor together = whole.forward(batch);
  Model single = drifted();
  const std::int64_t per_sample = batch.size() / 50, classes = together.dim(1);
  for (std::int64_t n = 0; n < 50; ++n) {
    Tensor one({1, 1, 28, 28});
    std::copy(batch.data() + n * per_sample, batch.data() + (n + 1) * per_sample, one.data());
    const Tensor logits = single.forward(one);
    for (std::int64_t c = 0; c < classes; ++c) ASSERT_EQ(logits[c], together[n * classes + c]) << n << " " << c;
  }
}

TEST(ChainedConversions, AnalogOnTopOfActivationQuantizersKeepsBothAndTheirEncodings) {
  parameters::QuantizationMap map;
  map.module_qconfig_map["ReLU"] = bits(0, 8);
  map.module_qconfig_map["Linear"] = bits(0, 8);  // outputs only: tiles hold the weights
  Model quantized = convert_to_quantized(load_onnx(kModel), map);
  quantized.compute_encodings([](Model& m) { m.forward(sample_input()); });
  const std::string encodings = encodings_json(quantized);
  AnalogConversion conversion;
  conversion.rpu_config.forward.is_perfect = true;
  ConversionPlan plan;
  Model both = convert_to_analog(quantized, conversion, &plan);  // the const& overload: a copy
  EXPECT_EQ(entry_of(plan, "classifier.1").became, "QuantizedOutputModule(AnalogLinear)");
  EXPECT_EQ(entry_of(plan, "classifier.1").rule, "module_qconfig_map[Linear]; module type");
  EXPECT_EQ(entry_of(plan, "features.0").became, "AnalogConv2d");
  EXPECT_EQ(entry_of(plan, "features.1").became, "QuantReLU");
  EXPECT_EQ(encodings_json(both), encodings);  // calibrated encodings carried over, nothing rebuilt float
  const Tensor expected = quantized.forward(sample_input());
  const Tensor y = both.forward(sample_input());
  for (std::int64_t k = 0; k < y.size(); ++k) EXPECT_NEAR(y[k], expected[k], 1e-4f * (1.0f + std::abs(expected[k])));
}

TEST(ChainedConversions, WeightsClaimedTwiceAreRefusedNamingBothRules) {
  parameters::QuantizationMap map;
  map.module_qconfig_map["Linear"] = bits(8, 8);
  const Model quantized = convert_to_quantized(load_onnx(kModel), map);
  expect_error<ModelError>([&] { convert_to_analog(quantized, AnalogConversion{}); },
                           "module 'classifier.1' (Linear) already has 8-bit weights (module_qconfig_map[Linear]); "
                           "analog tiles hold their own weights: exclude it from one of the two conversions");
  AnalogConversion conversion;
  conversion.module_types = {"Linear"};
  const Model analog = convert_to_analog(load_onnx(kModel), conversion);
  expect_error<ModelError>([&] { convert_to_quantized(analog, map); },
                           "module 'classifier.1' (Linear) is analog (module type); module_qconfig_map[Linear] would "
                           "quantize its weights too");
}

TEST(StrictConversion, RefusesWeightMatricesLeftDigitalWithoutExclusion) {
  AnalogConversion conversion;
  conversion.module_types = {"Conv2d"};
  conversion.strict = true;
  expect_error<ModelError>([&] { convert_to_analog(load_onnx(kModel), conversion); },
                           "convert_to_analog (strict): 2 module(s) with weights would stay digital without being "
                           "excluded; convert or exclude them:\n  classifier.1 (Linear): stays digital: type Linear is "
                           "not in module_types\n  classifier.3 (Linear)");
  conversion.exclude = {"classifier"};
  ConversionPlan plan;
  EXPECT_NO_THROW(convert_to_analog(load_onnx(kModel), conversion, &plan));
  EXPECT_TRUE(plan.digital_without_exclusion().empty());
  EXPECT_EQ(entry_of(plan, "classifier.1").rule, "exclude: classifier");
}

TEST(ModuleTypes, MapsAndModuleTypesUseTorchClassNames) {
  parameters::QuantizationMap map;
  map.module_qconfig_map["MaxPool"] = bits(0, 8);
  expect_error<ModelError>([&] { convert_to_quantized(load_onnx(kModel), map); },
                           "module_qconfig_map: 'MaxPool' is an ONNX operator; module types are torch class names: "
                           "MaxPool1d, MaxPool2d or MaxPool3d");
  map.module_qconfig_map.clear();
  map.module_qconfig_map["Conv2D"] = bits(8);
  expect_error<ModelError>([&] { convert_to_quantized(load_onnx(kModel), map); },
                           "module_qconfig_map: unknown module type 'Conv2D'; did you mean 'Conv2d'?");
  AnalogConversion conversion;
  conversion.module_types = {"Embedding"};
  expect_error<ModelError>([&] { convert_to_analog(load_onnx(kModel), conversion); },
                           "module_types: Embedding has no analog implementation");
  map.module_qconfig_map.clear();
  map.module_qconfig_map["MaxPool2d"] = bits(0, 8);  // what the bundled CNN's pooling is
  ConversionPlan plan;
  convert_to_quantized(load_onnx(kModel), map, &plan);
  EXPECT_EQ(entry_of(plan, "features.2").became, "QuantMaxPool2d");
}

}  // namespace
}  // namespace tessera::nn
