// Empirical bias correction against its defining property: on the calibration data, the mean
// of each corrected layer's output per channel equals the float model's (the quantized model's
// earlier layers included), and on held-out images the corrected model is closer to float.
#include "tessera/nn/bias_correction.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <map>

#include "expect_error.hpp"
#include "nn/fashion_mnist_data.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::nn {
namespace {

using testing::errors_before_and_after;
using testing::fashion_images;

const std::string kCnn = TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx";
const std::vector<std::string> kLayers{"features.0", "features.3", "classifier.1", "classifier.3"};

// 4-bit per-tensor weights, no activation quantizers: a large, plain weight quantization bias.
Model w4_weights_only() {
  parameters::QuantizationMap map;
  for (const char* type : {"Conv2d", "Linear"}) map.module_qconfig_map[type].module_qconfig.weight_quant.n_bits = 4;
  return convert_to_quantized(load_onnx(kCnn), map);
}

// Per-channel output means of each layer of kLayers over `data`.
std::map<std::string, std::vector<double>> layer_means(Model& model, const Tensor& data) {
  std::map<std::string, std::vector<double>> sums;
  double samples = 0.0;
  model.run({Value::floats(data)}, [&](std::size_t node, const std::vector<Value>& outputs) {
    const Node& n = model.graph().nodes[node];
    if (n.op_type != "Conv" && n.op_type != "Gemm") return;
    const Tensor& y = outputs[0].tensor;
    const std::int64_t channels = y.dim(1), inner = y.size() / (y.dim(0) * channels);
    std::vector<double>& sum = sums[n.module];
    sum.assign(static_cast<std::size_t>(channels), 0.0);
    for (std::int64_t k = 0; k < y.size(); ++k) sum[static_cast<std::size_t>((k / inner) % channels)] += y[k];
    samples = static_cast<double>(y.size() / channels);
    for (double& s : sum) s /= samples;
  });
  return sums;
}

TEST(BiasCorrection, EachLayersMeanOutputPerChannelMatchesFloatOnTheCalibrationData) {
  const Tensor calibration = fashion_images("train", 512);
  const Model quantized = w4_weights_only();
  std::vector<CorrectedBias> report;
  Model corrected = correct_biases(quantized, calibration, 128, &report);
  ASSERT_EQ(report.size(), kLayers.size());
  Model float_model = load_onnx(kCnn);
  const auto reference = layer_means(float_model, calibration);
  const auto after = layer_means(corrected, calibration);
  for (std::size_t l = 0; l < kLayers.size(); ++l) {
    EXPECT_EQ(report[l].module, kLayers[l]);
    EXPECT_GT(report[l].mean_abs_shift, 0.0) << kLayers[l];
    const std::vector<double>& f = reference.at(kLayers[l]);
    const std::vector<double>& q = after.at(kLayers[l]);
    double largest = 0.0;
    for (std::size_t c = 0; c < f.size(); ++c) largest = std::max(largest, std::abs(q[c] - f[c]));
    std::cout << kLayers[l] << ": mean |shift| " << report[l].mean_abs_shift << " (largest " << report[l].largest_shift
              << ") -> largest after correction " << largest << "\n";
    EXPECT_LT(largest, 1e-3 * report[l].largest_shift + 1e-5) << kLayers[l];
  }
}

TEST(BiasCorrection, BringsTheModelCloserToFloatOnHeldOutImages) {
  const Model quantized = w4_weights_only();
  Model corrected = correct_biases(quantized, fashion_images("train", 512), 256);
  Model float_model = load_onnx(kCnn);
  Model plain = quantized.copy();
  const auto [before, after] = errors_before_and_after(float_model, plain, corrected, fashion_images("t10k", 1000),
                                                       "W4 per-tensor CNN, bias correction");
  EXPECT_LT(after, before);
}

TEST(BiasCorrection, RefusesNoDataAndModelsWithoutQuantizedWeights) {
  tessera::testing::expect_error<ModelError>(
      [] {
        correct_biases(w4_weights_only(), Tensor({0, 1, 28, 28}), 64);
      },
      "bias correction needs calibration data");
  tessera::testing::expect_error<ModelError>([] { correct_biases(load_onnx(kCnn), fashion_images("train", 4), 64); },
                                             "the plan quantizes no Conv or Gemm weights");
}

TEST(BiasCorrection, RefusesAModelWhoseQuantizedLayersShareTheirBias) {
  // Two Linear layers reading one bias tensor: correcting it for one would shift the other.
  Graph graph;
  graph.source = "shared.onnx";
  graph.inputs = {"x"};
  graph.input_types = {DataType::kFloat};
  graph.outputs = {"z"};
  graph.initializers["fc1.weight"] = Value::floats(Tensor({2, 2}, 0.3f));
  graph.initializers["fc2.weight"] = Value::floats(Tensor({2, 2}, 0.7f));
  graph.initializers["shared.bias"] = Value::floats(Tensor({2}, 0.1f));
  Attributes transposed;
  transposed.set("transB", std::int64_t{1});
  graph.nodes.push_back(Node{"fc1", "Gemm", {"x", "fc1.weight", "shared.bias"}, {"y"}, transposed, "fc1"});
  graph.nodes.push_back(Node{"fc2", "Gemm", {"y", "fc2.weight", "shared.bias"}, {"z"}, transposed, "fc2"});
  parameters::QuantizationMap map;
  map.module_qconfig_map["Linear"].module_qconfig.weight_quant.n_bits = 4;
  const Model quantized = convert_to_quantized(Model(std::move(graph)), map);
  tessera::testing::expect_error<ModelError>(
      [&] {
        correct_biases(quantized, Tensor({4, 2}, 1.0f), 4);
      },
      "shared.onnx: bias correction: the quantized layers' biases are shared");
}

}  // namespace
}  // namespace tessera::nn
