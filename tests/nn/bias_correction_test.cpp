// Empirical bias correction against its defining property: on the calibration data, the mean
// of each corrected layer's output per channel equals the float model's (the quantized model's
// earlier layers included), and on held-out images the corrected model is closer to float.
// Analytical correction against the integrals it evaluates, and against the measured shift where
// a layer's input really is distributed as the BatchNorm before it says.
#include "tessera/nn/bias_correction.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <random>

#include "expect_error.hpp"
#include "nn/fashion_mnist_data.hpp"
#include "tessera/nn/batch_norm_folding.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/cross_layer_equalization.hpp"
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

// E[clip(z, lo, hi)], z ~ N(mean, std^2), by the trapezoid rule over mean +- 12 std.
double integrated_clipped_mean(double mean, double std, double lo, double hi) {
  const int steps = 200000;
  const double from = mean - 12 * std, width = 24 * std / steps;
  double sum = 0.0;
  for (int i = 0; i <= steps; ++i) {
    const double z = from + i * width, u = (z - mean) / std;
    const double density = std::exp(-0.5 * u * u) / (std * std::sqrt(2 * M_PI));
    sum += (i == 0 || i == steps ? 0.5 : 1.0) * std::clamp(z, lo, hi) * density * width;
  }
  return sum;
}

TEST(AnalyticalBiasCorrection, ClippedNormalMeansAreTheirIntegrals) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_NEAR(clipped_normal_mean(0.0, 1.0, 0.0, inf), 1.0 / std::sqrt(2 * M_PI), 1e-12);  // ReLU of N(0, 1)
  EXPECT_DOUBLE_EQ(clipped_normal_mean(0.7, 2.0, -inf, inf), 0.7);                         // no activation
  EXPECT_DOUBLE_EQ(clipped_normal_mean(-1.0, 0.0, 0.0, 6.0), 0.0);                          // a dead channel
  EXPECT_DOUBLE_EQ(clipped_normal_mean(7.5, 0.0, 0.0, 6.0), 6.0);
  for (const auto& [mean, std, lo, hi] : std::vector<std::tuple<double, double, double, double>>{
           {3.0, 2.0, 0.0, 6.0}, {-0.4, 0.8, 0.0, inf}, {0.5, 0.3, -1.0, 1.0}, {5.5, 1.5, 0.0, 6.0}}) {
    EXPECT_NEAR(clipped_normal_mean(mean, std, lo, hi), integrated_clipped_mean(mean, std, lo, hi), 1e-7)
        << "N(" << mean << ", " << std << "^2) clipped to [" << lo << ", " << hi << "]";
  }
}

// x [N, 4, 8, 8] ~ N(0, 1) -> conv1 (1x1, identity) -> bn1 -> Relu -> conv2 (3x3, padding 1): bn1's
// output is exactly N(beta, gamma^2) per channel, the distribution analytical correction assumes.
Model batch_norm_relu_conv() {
  Graph graph;
  graph.source = "bn_relu_conv.onnx";
  graph.inputs = {"x"};
  graph.input_types = {DataType::kFloat};
  graph.outputs = {"y"};
  Tensor identity({4, 4, 1, 1}, 0.0f);
  for (std::int64_t c = 0; c < 4; ++c) identity[c * 4 + c] = 1.0f;
  graph.initializers["conv1.weight"] = Value::floats(identity);
  graph.initializers["bn1.weight"] = Value::floats(Tensor({4}, std::vector<float>{0.5f, 1.0f, 1.5f, 0.8f}));
  graph.initializers["bn1.bias"] = Value::floats(Tensor({4}, std::vector<float>{0.2f, -0.3f, 0.5f, 1.0f}));
  graph.initializers["bn1.running_mean"] = Value::floats(Tensor({4}, 0.0f));
  graph.initializers["bn1.running_var"] = Value::floats(Tensor({4}, 1.0f - 1e-5f));  // var + eps = 1
  Tensor w2({6, 4, 3, 3});
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (std::int64_t k = 0; k < w2.size(); ++k) w2[k] = normal(rng);
  graph.initializers["conv2.weight"] = Value::floats(w2);
  graph.initializers["conv2.bias"] = Value::floats(Tensor({6}, 0.0f));
  Attributes padded;
  padded.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  graph.nodes.push_back(Node{"conv1", "Conv", {"x", "conv1.weight"}, {"c1"}, {}, "conv1"});
  graph.nodes.push_back(Node{"bn1", "BatchNormalization",
                             {"c1", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"}, {"b1"}, {}, "bn1"});
  graph.nodes.push_back(Node{"relu", "Relu", {"b1"}, {"r1"}, {}, "relu"});
  graph.nodes.push_back(Node{"conv2", "Conv", {"r1", "conv2.weight", "conv2.bias"}, {"y"}, padded, "conv2"});
  return Model(std::move(graph));
}

const Tensor& bias_of(const Model& model, const std::string& module) {
  for (const Node& node : model.graph().nodes) {
    if (node.module == module && node.op_type == "Conv") return model.graph().initializers.at(node.inputs[2]).tensor;
  }
  throw std::runtime_error("no Conv " + module);
}

TEST(AnalyticalBiasCorrection, ComputesTheShiftItWouldMeasureWhereTheBatchNormDescribesTheInput) {
  Tensor data({2000, 4, 8, 8});
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (std::int64_t k = 0; k < data.size(); ++k) data[k] = normal(rng);
  parameters::QuantizationMap map;  // conv2's weights only, 4 bits per tensor
  map.instance_qconfig_map["conv2"].module_qconfig.weight_quant.n_bits = 4;
  const Model folded = fold_batch_norms(batch_norm_relu_conv());
  // Before and after equalization (which rescales conv1's output channels and their statistics).
  for (const bool equalize : {false, true}) {
    const Model source = equalize ? cross_layer_equalization(folded) : folded.copy();
    const Model quantized = convert_to_quantized(source, map);
    std::vector<CorrectedBias> analytical_report, empirical_report;
    const Model analytical = correct_biases(quantized, data, 500, &analytical_report, BiasCorrectionMethod::analytical);
    const Model empirical = correct_biases(quantized, data, 500, &empirical_report);
    ASSERT_EQ(analytical_report.size(), 1u);
    EXPECT_EQ(analytical_report[0].method, "analytical");
    EXPECT_EQ(empirical_report[0].method, "empirical");
    // Measured: shifts of 0.02-0.41, computed within 7e-4 of the measured ones; without the
    // fraction of each tap inside the 8x8 maps (zero padding) they were off by up to 0.09 (23 %).
    const Tensor &a = bias_of(analytical, "conv2"), &e = bias_of(empirical, "conv2");
    for (std::int64_t o = 0; o < a.size(); ++o) EXPECT_NEAR(a[o], e[o], 3e-3) << "equalized " << equalize << ", channel " << o;
    EXPECT_NEAR(analytical_report[0].mean_abs_shift, empirical_report[0].mean_abs_shift,
                0.03 * empirical_report[0].mean_abs_shift);
  }
}

TEST(AnalyticalBiasCorrection, LayersWithoutBatchNormStatisticsAreMeasured) {
  // The bundled CNN has no BatchNorm: every layer falls back to the measured shift, bit for bit.
  const Tensor calibration = fashion_images("train", 64);
  std::vector<CorrectedBias> report;
  const Model analytical = correct_biases(w4_weights_only(), calibration, 64, &report, BiasCorrectionMethod::analytical);
  const Model empirical = correct_biases(w4_weights_only(), calibration, 64);
  for (const CorrectedBias& row : report) EXPECT_EQ(row.method, "empirical") << row.module;
  for (const std::string& layer : kLayers) {
    for (const Node& node : analytical.graph().nodes) {
      if (node.module != layer || node.inputs.size() < 3) continue;
      const Tensor& a = analytical.graph().initializers.at(node.inputs[2]).tensor;
      const Tensor& e = empirical.graph().initializers.at(node.inputs[2]).tensor;
      for (std::int64_t c = 0; c < a.size(); ++c) ASSERT_EQ(a[c], e[c]) << layer;
    }
  }
}

}  // namespace
}  // namespace tessera::nn
