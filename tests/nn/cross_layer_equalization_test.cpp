// Cross-layer equalization against its defining properties: each pair's per-channel ranges are
// equal after it (r1_c = r2_c), the float function is unchanged where only ReLU, MaxPool and
// AveragePool stand between the layers, chains settle, and a ReLU6 between a pair (the bundled
// ResNet's depthwise-separable block) is replaced and reported, as AIMET does.
#include "tessera/nn/cross_layer_equalization.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "expect_error.hpp"
#include "tessera/nn/batch_norm_folding.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::nn {
namespace {

const std::string kCnn = TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx";
const std::string kResNet = TESSERA_SOURCE_DIR "/examples/fashion_mnist_resnet/fmnist_resnet.onnx";

const Tensor& weight_of(const Model& model, const std::string& module) {
  for (const Node& node : model.graph().nodes) {
    if (node.module == module && (node.op_type == "Conv" || node.op_type == "Gemm")) {
      return model.graph().initializers.at(node.inputs[1]).tensor;
    }
  }
  throw std::runtime_error("no weight layer " + module);
}

// max |w| per output channel of a Conv [M, C/g, k...] or Gemm [out, in] (torch's export).
std::vector<double> output_ranges(const Tensor& w) {
  std::vector<double> r(static_cast<std::size_t>(w.dim(0)), 0.0);
  const std::int64_t inner = w.size() / w.dim(0);
  for (std::int64_t k = 0; k < w.size(); ++k) r[k / inner] = std::max(r[k / inner], double(std::abs(w[k])));
  return r;
}

// max |w| per input channel of a Conv with `groups` groups or a Gemm [out, in].
std::vector<double> input_ranges(const Tensor& w, std::int64_t groups = 1) {
  const std::int64_t out = w.dim(0), per_group = w.dim(1);
  const std::int64_t taps = w.size() / (out * per_group);
  std::vector<double> r(static_cast<std::size_t>(per_group * groups), 0.0);
  for (std::int64_t k = 0; k < w.size(); ++k) {
    const std::int64_t m = k / (per_group * taps);
    const std::int64_t c = (m / (out / groups)) * per_group + (k / taps) % per_group;
    r[c] = std::max(r[c], double(std::abs(w[k])));
  }
  return r;
}

void expect_equal_ranges(const std::vector<double>& a, const std::vector<double>& b, const std::string& pair) {
  ASSERT_EQ(a.size(), b.size()) << pair;
  for (std::size_t c = 0; c < a.size(); ++c) EXPECT_NEAR(a[c] / b[c], 1.0, 1e-5) << pair << " channel " << c;
}

Tensor sample_input() {
  Tensor x({4, 1, 28, 28});
  for (std::int64_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>((k * 37) % 101) / 50.0f - 1.0f;
  return x;
}

TEST(CrossLayerEqualization, EqualizesEachPairAndKeepsTheFunction) {
  Model model = load_onnx(kCnn);
  EqualizationReport report;
  Model equalized = cross_layer_equalization(model, &report);
  ASSERT_EQ(report.pairs.size(), 2u);
  EXPECT_EQ(report.pairs[0].first, "features.0");  // through the ReLU and the MaxPool
  EXPECT_EQ(report.pairs[0].second, "features.3");
  EXPECT_EQ(report.pairs[1].first, "classifier.1");
  EXPECT_EQ(report.pairs[1].second, "classifier.3");
  EXPECT_TRUE(report.relu6_replaced.empty());
  for (const EqualizedPair& pair : report.pairs) EXPECT_GT(pair.spread_before, 1.5) << pair.first;
  expect_equal_ranges(output_ranges(weight_of(equalized, "features.0")),
                      input_ranges(weight_of(equalized, "features.3")), "features.0 -> features.3");
  expect_equal_ranges(output_ranges(weight_of(equalized, "classifier.1")),
                      input_ranges(weight_of(equalized, "classifier.3")), "classifier.1 -> classifier.3");
  const Tensor before = model.forward(sample_input());
  const Tensor after = equalized.forward(sample_input());
  double largest = 0.0, worst = 0.0;
  for (std::int64_t k = 0; k < before.size(); ++k) {
    largest = std::max(largest, double(std::abs(before[k])));
    worst = std::max(worst, double(std::abs(after[k] - before[k])));
  }
  EXPECT_LE(worst, 1e-5 * largest) << "largest logit " << largest;
}

TEST(CrossLayerEqualization, DepthwiseSeparablePairsAndTheirReLU6) {
  // The ResNet folded: layer1/layer2's conv1 -> ReLU -> conv2 and the depthwise -> ReLU6 ->
  // pointwise pair; the stem's ReLU also feeds the first residual add, conv2 feeds an add.
  EqualizationReport report;
  const Model equalized = cross_layer_equalization(fold_batch_norms(load_onnx(kResNet)), &report);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const EqualizedPair& p : report.pairs) pairs.emplace_back(p.first, p.second);
  EXPECT_EQ(pairs, (std::vector<std::pair<std::string, std::string>>{{"layer1.conv1", "layer1.conv2"},
                                                                     {"layer2.conv1", "layer2.conv2"},
                                                                     {"layer3.depthwise", "layer3.pointwise"}}));
  EXPECT_EQ(report.relu6_replaced, std::vector<std::string>{"layer3.relu6"});
  const Tensor& depthwise = weight_of(equalized, "layer3.depthwise");
  expect_equal_ranges(output_ranges(depthwise), input_ranges(weight_of(equalized, "layer3.pointwise")),
                      "depthwise -> pointwise");
  // The ReLU6's second call (after the pointwise conv) is still a clamp.
  int clips = 0;
  for (const Node& node : equalized.graph().nodes) clips += node.op_type == "Clip";
  EXPECT_EQ(clips, 1);
}

TEST(CrossLayerEqualization, ChainsSettleWithEveryPairEqualized) {
  // Linear -> ReLU -> Linear -> ReLU -> Linear: the middle layer is in two pairs.
  Graph graph;
  graph.source = "chain.onnx";
  graph.inputs = {"x"};
  graph.input_types = {DataType::kFloat};
  graph.outputs = {"y"};
  Attributes transposed;
  transposed.set("transB", std::int64_t{1});
  const std::vector<std::int64_t> widths{6, 5, 4, 3};
  std::string input = "x";
  for (std::size_t l = 0; l < 3; ++l) {
    Tensor w({widths[l + 1], widths[l]});
    for (std::int64_t k = 0; k < w.size(); ++k)
      w[k] = float(((k * 7 + static_cast<std::int64_t>(l) * 3) % 11) - 5) * float(1 + (k % 4) * 3);
    const std::string name = "fc" + std::to_string(l);
    graph.initializers[name + ".weight"] = Value::floats(w);
    graph.initializers[name + ".bias"] = Value::floats(Tensor({widths[l + 1]}, 0.25f));
    const std::string out = l == 2 ? "y" : name + "_out";
    graph.nodes.push_back(Node{name, "Gemm", {input, name + ".weight", name + ".bias"}, {out}, transposed, name});
    input = out;
    if (l < 2) {
      graph.nodes.push_back(
          Node{"relu" + std::to_string(l), "Relu", {out}, {out + "_relu"}, {}, "relu" + std::to_string(l)});
      input = out + "_relu";
    }
  }
  Model model(std::move(graph));
  EqualizationReport report;
  Model equalized = cross_layer_equalization(model, &report);
  ASSERT_EQ(report.pairs.size(), 2u);
  EXPECT_GT(report.iterations, 1);
  EXPECT_LT(report.iterations, 100);
  expect_equal_ranges(output_ranges(weight_of(equalized, "fc0")), input_ranges(weight_of(equalized, "fc1")), "fc0");
  expect_equal_ranges(output_ranges(weight_of(equalized, "fc1")), input_ranges(weight_of(equalized, "fc2")), "fc1");
  Tensor x({2, 6});
  for (std::int64_t k = 0; k < x.size(); ++k) x[k] = float(k % 5) - 1.5f;
  const Tensor before = model.forward(x), after = equalized.forward(x);
  for (std::int64_t k = 0; k < before.size(); ++k) EXPECT_NEAR(after[k], before[k], 1e-5 * std::abs(before[k]) + 1e-5);
}

TEST(CrossLayerEqualization, RefusesAConvertedModel) {
  parameters::QuantizationMap map;
  map.module_qconfig_map["Conv2d"].module_qconfig.weight_quant.n_bits = 8;
  const Model quantized = convert_to_quantized(load_onnx(kCnn), map);
  tessera::testing::expect_error<ModelError>([&] { cross_layer_equalization(quantized); },
                                             "equalize before converting ('features.0' is already QuantConv2d)");
}

}  // namespace
}  // namespace tessera::nn
