// Quantized layers on the int8 kernel (Model::use_integer_kernels): the bundled CNN with W8A8
// and 8-bit input quantizers on both convolutions and both Linear layers gives, on integer
// kernels, the logits of its fake-quant twin to float rounding and the same predictions. A layer
// without an input quantizer of its own takes its producer's output encoding, so W8A8 with one
// quantizer on the model's input runs every Conv and Gemm of the CNN and of the ResNet integer.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "expect_error.hpp"
#include "tessera/experiments/idx_dataset.hpp"
#include "tessera/experiments/presets.hpp"
#include "tessera/nn/activation_fusion.hpp"
#include "tessera/nn/batch_norm_folding.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/encodings.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::nn {
namespace {

const std::string kModel = TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx";
const std::string kResNet = TESSERA_SOURCE_DIR "/examples/fashion_mnist_resnet/fmnist_resnet.onnx";

experiments::Dataset images(std::int64_t count) {
  return experiments::load_idx_dataset("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
                                       "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
                                       {0.2860f, 0.3530f}, count);
}

Model calibrated_w8a8() {
  parameters::QuantizationMap map = *experiments::load_preset("digital_int8").quantization;
  parameters::ActivationQuantConfig input;
  input.n_bits = 8;
  input.symmetric = false;
  map.input_activation_qconfig_map = {
      {"features.0", input}, {"features.3", input}, {"classifier.1", input}, {"classifier.3", input}};
  Model model = convert_to_quantized(load_onnx(kModel), map);
  const Tensor calibration = images(256).images;
  model.compute_encodings([&](Model& m) { m.forward(calibration); });
  return model;
}

// How the integer model's logits compare with its fake-quant twin's on `count` test images.
struct Agreement {
  double largest_difference = 0.0;  ///< of any logit
  int same_class = 0;               ///< predictions that agree
};

Agreement agreement(Model& fake, Model& integer, std::int64_t count) {
  const experiments::Dataset data = images(count);
  const Tensor expected = fake.forward(data.images);
  const Tensor actual = integer.forward(data.images);
  EXPECT_EQ(actual.shape(), expected.shape());
  Agreement result;
  for (std::int64_t n = 0; n < expected.dim(0); ++n) {
    std::int64_t best_fake = 0, best_integer = 0;
    for (std::int64_t c = 0; c < 10; ++c) {
      result.largest_difference =
          std::max(result.largest_difference, static_cast<double>(std::abs(actual[n * 10 + c] - expected[n * 10 + c])));
      if (expected[n * 10 + c] > expected[n * 10 + best_fake]) best_fake = c;
      if (actual[n * 10 + c] > actual[n * 10 + best_integer]) best_integer = c;
    }
    result.same_class += best_fake == best_integer;
  }
  return result;
}

double logit_step(const Model& model) {
  const auto encodings = nlohmann::json::parse(encodings_json(model));
  return encodings["activation_encodings"][model.graph().outputs.front()][0]["scale"].get<double>();
}

TEST(IntegerKernels, ConvAndLinearLayersMatchTheirFakeQuantTwin) {
  Model fake = calibrated_w8a8();
  Model integer = calibrated_w8a8();
  EXPECT_EQ(integer.use_integer_kernels(),
            (std::vector<std::string>{"features.0", "features.3", "classifier.1", "classifier.3"}));
  const Agreement found = agreement(fake, integer, 1000);
  // The exact int32 sums differ from the twin's float sums by float rounding only; an output
  // quantizer turns that into an occasional one-level step, which later layers carry. The
  // logits stay within two steps of the last layer's output grid.
  const double step = logit_step(integer);
  EXPECT_LE(found.largest_difference, 2.0 * step + 1e-6) << "largest logit difference; output step " << step;
  EXPECT_GE(found.same_class, 998) << "of 1000 predictions agree";
  std::cout << "integer vs fake-quant: largest logit difference " << found.largest_difference << " (output step "
            << step << "), " << found.same_class << " of 1000 predictions equal\n";
}

TEST(IntegerKernels, ANaNSampleGivesNaNLogitsAndLeavesTheOthersAlone) {
  // docs/robustness.md "Non-finite values": activations propagate within their sample.
  Model clean = calibrated_w8a8();
  Model poisoned = calibrated_w8a8();
  clean.use_integer_kernels();
  poisoned.use_integer_kernels();
  const Tensor four = images(4).images;
  Tensor bad = four;
  bad[1 * 784 + 300] = std::numeric_limits<float>::quiet_NaN();
  const Tensor expected = clean.forward(four);
  const Tensor actual = poisoned.forward(bad);
  for (std::int64_t k = 0; k < actual.size(); ++k) {
    if (k / 10 == 1) {
      EXPECT_TRUE(std::isnan(actual[k])) << k;
    } else {
      EXPECT_EQ(actual[k], expected[k]) << k;
    }
  }
}

TEST(IntegerKernels, AnInputOfTheWrongWidthNamesTheNode) {
  // One Gemm "fc" (3 inputs -> 2 outputs) with 8-bit weights and an 8-bit input quantizer.
  Graph graph;
  graph.source = "handmade.onnx";
  graph.opset = 13;
  graph.inputs = {"x"};
  graph.outputs = {"y"};
  graph.initializers["fc.weight"] = Value::floats(Tensor({2, 3}, 0.5f));
  Attributes transposed;
  transposed.set("transB", std::int64_t{1});
  graph.nodes.push_back(Node{"fc_gemm", "Gemm", {"x", "fc.weight"}, {"y"}, transposed, ""});
  parameters::QuantizationMap map = *experiments::load_preset("digital_int8").quantization;
  parameters::ActivationQuantConfig input;
  input.n_bits = 8;
  map.input_activation_qconfig_map = {{"fc", input}};
  Model model = convert_to_quantized(Model(std::move(graph)), map);
  model.compute_encodings([](Model& m) { m.forward(Tensor({4, 3}, 1.0f)); });
  ASSERT_EQ(model.use_integer_kernels(), (std::vector<std::string>{"fc"}));
  tessera::testing::expect_error<ModelError>(
      [&] {
        model.forward(Tensor({4, 5}, 1.0f));
      },
      "node 'fc_gemm' (Gemm): expects inputs with 3 features, got [4, 5]");
}

TEST(IntegerKernels, LayersWithoutAnInputQuantizerTakeTheirProducersEncoding) {
  // digital_int8 quantizes the ReLU and MaxPool outputs: features.3 reads a MaxPool's,
  // classifier.1 a MaxPool's through the Flatten, classifier.3 a ReLU's. features.0 reads the
  // model's input, which nothing quantizes: it stays on fake quantization.
  Model model = convert_to_quantized(load_onnx(kModel), *experiments::load_preset("digital_int8").quantization);
  const Tensor calibration = images(64).images;
  model.compute_encodings([&](Model& m) { m.forward(calibration); });
  EXPECT_EQ(model.use_integer_kernels(), (std::vector<std::string>{"features.3", "classifier.1", "classifier.3"}));
}

// W8A8 (digital_int8) with one 8-bit quantizer on the model's input, BatchNorms folded and
// activations fused, calibrated on 256 test images.
Model w8a8_end_to_end(const std::string& path, const std::string& first_layer) {
  parameters::QuantizationMap map = *experiments::load_preset("digital_int8").quantization;
  parameters::ActivationQuantConfig input;
  input.n_bits = 8;
  map.input_activation_qconfig_map = {{first_layer, input}};
  Model model = fuse_activations(convert_to_quantized(fold_batch_norms(load_onnx(path)), map), map);
  const Tensor calibration = images(256).images;
  model.compute_encodings([&](Model& m) { m.forward(calibration); });
  return model;
}

TEST(IntegerKernels, W8A8RunsEveryConvAndGemmIntegerWithTheTwinsPredictions) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases{
      {kModel, {"features.0", "features.3", "classifier.1", "classifier.3"}},
      {kResNet,
       {"stem.0", "layer1.conv1", "layer1.conv2", "layer2.conv1", "layer2.conv2", "layer2.shortcut.0",
        "layer3.depthwise", "layer3.pointwise", "fc"}},
  };
  for (const auto& [path, layers] : cases) {
    const std::string first = layers.front();
    Model fake = w8a8_end_to_end(path, first);
    Model integer = w8a8_end_to_end(path, first);
    EXPECT_EQ(integer.use_integer_kernels(), layers) << path;
    const Agreement found = agreement(fake, integer, 1000);
    const double step = logit_step(integer);
    EXPECT_GE(found.same_class, 995) << path << ": of 1000 predictions agree";
    EXPECT_LE(found.largest_difference, 4.0 * step + 1e-6) << path << ": output step " << step;
    std::cout << path << ": integer vs fake-quant: largest logit difference " << found.largest_difference
              << " (output step " << step << "), " << found.same_class << " of 1000 predictions equal\n";
  }
}

TEST(IntegerKernels, AConversionAfterTheSwitchKeepsItOnTheNewOperators) {
  // Converting again replaces operators whose encodings integer layers read; the switch is
  // propagated again, not left pointing at quantizers that no longer exist (ASan watches).
  Model model = w8a8_end_to_end(kModel, "features.0");
  ASSERT_EQ(model.use_integer_kernels().size(), 4u);
  const Tensor before = model.forward(images(8).images);
  parameters::QuantizationMap more = *experiments::load_preset("digital_int8").quantization;
  more.instance_qconfig_map["classifier.2"] = more.module_qconfig_map.at("ReLU");
  more.instance_qconfig_map["classifier.2"].module_qconfig.activation_quant.symmetric = true;
  model = convert_to_quantized(std::move(model), more);  // rebuilds classifier.2's quantizer
  model.compute_encodings([](Model& m) { m.forward(images(256).images); });
  EXPECT_EQ(model.forward(images(8).images).shape(), before.shape());
}

}  // namespace
}  // namespace tessera::nn
