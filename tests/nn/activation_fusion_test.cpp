// Activation fusion: which (layer, activation) pairs an ONNX graph has, what plan_fused does
// with them, and that a fused model is the model quantized after its activations, on the
// bundled CNN and the bundled ResNet (BatchNorm, residual adds, a depthwise-separable block).
#include "tessera/nn/activation_fusion.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "expect_error.hpp"
#include "nn/fashion_mnist_data.hpp"
#include "tessera/nn/batch_norm_folding.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::nn {
namespace {

using tessera::testing::expect_error;
using tessera::testing::fashion_images;
using tessera::testing::relative_error;
const std::string kCnn = TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx";
const std::string kResNet = TESSERA_SOURCE_DIR "/examples/fashion_mnist_resnet/fmnist_resnet.onnx";

parameters::QuantizedModuleConfig bits(int weight_bits, int activation_bits) {
  parameters::QuantizedModuleConfig config;
  config.module_qconfig.weight_quant.n_bits = weight_bits;
  config.module_qconfig.activation_quant.n_bits = activation_bits;
  return config;
}

// W8A8 on every Conv and Linear, nothing else.
parameters::QuantizationMap w8a8() {
  parameters::QuantizationMap map;
  for (const char* type : {"Conv2d", "Linear"}) map.module_qconfig_map[type] = bits(8, 8);
  return map;
}

void calibrate(Model& model, const Tensor& images) {
  model.compute_encodings([&](Model& m) { m.forward(images); });
}

TEST(ActivationPairs, EveryLayerThatOnlyAnActivationReads) {
  const std::vector<ActivationPair> cnn = activation_pairs(load_onnx(kCnn));
  EXPECT_EQ(cnn, (std::vector<ActivationPair>{
                     {"features.0", "features.1"}, {"features.3", "features.4"}, {"classifier.1", "classifier.2"}}));
  // In the ResNet: a BatchNorm stands between each Conv and its ReLU until it is folded; conv2
  // and the shortcut feed an Add; fc is the graph output. The depthwise-separable block's
  // ReLU6 (one module, called twice) is the activation of both its convolutions.
  EXPECT_TRUE(activation_pairs(load_onnx(kResNet)).empty());
  const std::vector<ActivationPair> resnet = activation_pairs(fold_batch_norms(load_onnx(kResNet)));
  EXPECT_EQ(resnet, (std::vector<ActivationPair>{{"stem.0", "stem.2"},
                                                 {"layer1.conv1", "layer1.relu"},
                                                 {"layer2.conv1", "layer2.relu"},
                                                 {"layer3.depthwise", "layer3.relu6"},
                                                 {"layer3.pointwise", "layer3.relu6"}}));
}

TEST(PlanFused, MovesTheOutputQuantizerBehindTheActivation) {
  std::vector<ActivationPair> fused;
  const Model model = fuse_activations(convert_to_quantized(load_onnx(kCnn), w8a8()), w8a8(), &fused);
  EXPECT_EQ(fused.size(), 3u);
  const PlannedModule& conv = *model.plan().find("features.0");
  const PlannedModule& relu = *model.plan().find("features.1");
  EXPECT_TRUE(conv.quantizes_weights());
  EXPECT_FALSE(conv.quantizes_outputs());
  EXPECT_TRUE(relu.quantizes_outputs());
  EXPECT_NE(conv.rule.find("fused: output quantized after features.1"), std::string::npos) << conv.rule;
  EXPECT_EQ(relu.rule, "fused: the output quantizer of features.0");
  // classifier.3 feeds the graph output: its output quantizer stays.
  EXPECT_TRUE(model.plan().find("classifier.3")->quantizes_outputs());
}

TEST(PlanFused, IsTheModelQuantizedAfterItsActivations) {
  // Fusion of W8A8 must give exactly the model whose map quantizes the ReLU outputs instead of
  // the layer outputs (and keeps the last layer's): the same quantizers, calibrated alike.
  Model fused = fuse_activations(convert_to_quantized(load_onnx(kCnn), w8a8()), w8a8());
  parameters::QuantizationMap by_hand;
  by_hand.module_qconfig_map["Conv2d"] = bits(8, 0);
  by_hand.module_qconfig_map["Linear"] = bits(8, 0);
  by_hand.module_qconfig_map["ReLU"] = bits(0, 8);
  by_hand.instance_qconfig_map["classifier.3"] = bits(8, 8);
  Model reference = convert_to_quantized(load_onnx(kCnn), by_hand);
  const Tensor images = fashion_images("t10k", 64);
  calibrate(fused, images);
  calibrate(reference, images);
  const Tensor a = fused.forward(images), b = reference.forward(images);
  ASSERT_EQ(a.size(), b.size());
  for (std::int64_t k = 0; k < a.size(); ++k) ASSERT_EQ(a[k], b[k]) << k;
}

TEST(PlanFused, LowersTheQuantizationErrorOfTheResNet) {
  // Quantizing a conv output before its ReLU spends half the grid on values the ReLU drops.
  const Model folded = fold_batch_norms(load_onnx(kResNet));
  const Tensor calibration = fashion_images("t10k", 256);
  Model plain = convert_to_quantized(folded, w8a8());
  Model fused = fuse_activations(convert_to_quantized(folded, w8a8()), w8a8());
  calibrate(plain, calibration);
  calibrate(fused, calibration);
  Model float_model = folded.copy();
  const Tensor reference = float_model.forward(calibration);
  const double plain_error = relative_error(plain.forward(calibration), reference);
  const double fused_error = relative_error(fused.forward(calibration), reference);
  std::cout << "W8A8 ResNet relative output error: " << plain_error << " unfused, " << fused_error << " fused\n";
  EXPECT_LT(fused_error, 0.8 * plain_error);
}

TEST(PlanFused, LeavesPairsWhoseActivationIsExcludedOrQuantizedOtherwise) {
  parameters::QuantizationMap map = w8a8();
  map.excluded_modules = {"features.1"};
  map.instance_qconfig_map["features.4"] = bits(0, 4);
  const Model model = fuse_activations(convert_to_quantized(load_onnx(kCnn), map), map);
  const PlannedModule& first = *model.plan().find("features.0");
  EXPECT_TRUE(first.quantizes_outputs());
  EXPECT_NE(first.rule.find("not fused with features.1 (excluded from quantization)"), std::string::npos);
  const PlannedModule& second = *model.plan().find("features.3");
  EXPECT_TRUE(second.quantizes_outputs());
  EXPECT_NE(second.rule.find("not fused with features.4 (it quantizes its output with another config)"),
            std::string::npos);
  EXPECT_FALSE(model.plan().find("classifier.1")->quantizes_outputs());  // fused
}

TEST(PlanFused, RefusesPairsThatNameNoActivation) {
  const Model model = convert_to_quantized(load_onnx(kCnn), w8a8());
  expect_error<ModelError>(
      [&] {
        plan_fused(model.plan(), {{"features.0", "features.2"}}, w8a8());
      },
      "'features.2' is a MaxPool2d, not an activation");
  expect_error<ModelError>(
      [&] {
        plan_fused(model.plan(), {{"features.0", "relu"}}, w8a8());
      },
      "'relu' is not a module of");
}

}  // namespace
}  // namespace tessera::nn
