// AdaRound against its defining properties, on one layer of the bundled CNN with 4-bit
// per-tensor weights: the rounding variables settle at 0 or 1, the layer's reconstruction error
// on the kept rows ends below nearest rounding's, the rounded weights lie on the quantized
// model's frozen grid, and held-out images see a model closer to float.
#include "tessera/nn/adaround.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

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

// features.3 (a 3x3 conv, 16 -> 32 channels) with 4-bit per-tensor weights, nothing else.
Model w4_features_3() {
  parameters::QuantizationMap map;
  map.instance_qconfig_map["features.3"].module_qconfig.weight_quant.n_bits = 4;
  return convert_to_quantized(load_onnx(kCnn), map);
}

// AIMET's defaults (10,000 steps: Adam moves V by about the learning rate per step, and h needs
// V beyond +-2.4 to reach 0 or 1), on a small sample of rows.
AdaRoundParameters defaults() {
  AdaRoundParameters p;
  p.input_rows = 2048;
  return p;
}

const simulator::AffineQuantizer& weight_quantizer_of(const Model& model, const std::string& weight) {
  for (std::size_t n = 0; n < model.graph().nodes.size(); ++n) {
    std::vector<TensorEncoding> encodings;
    model.operator_of(n).list_encodings(encodings);
    for (const TensorEncoding& e : encodings) {
      if (e.role == EncodingRole::weight && e.tensor == weight) return *e.quantizer;
    }
  }
  throw std::runtime_error("no weight quantizer for " + weight);
}

TEST(AdaRound, DecisionsSettleAndTheLayerReconstructsBetterThanNearestRounding) {
  const Model quantized = w4_features_3();
  std::vector<AdaRoundedLayer> report;
  const Model rounded = adaround(quantized, fashion_images("train", 256), 128, defaults(), &report);
  ASSERT_EQ(report.size(), 1u);
  const AdaRoundedLayer& layer = report[0];
  std::cout << layer.module << ": reconstruction error " << layer.nearest_error << " (nearest) -> "
            << layer.adaround_error << " (AdaRound); " << 100.0 * layer.flipped << " % rounded the other way, "
            << 100.0 * layer.undecided << " % undecided\n";
  EXPECT_EQ(layer.module, "features.3");
  EXPECT_LT(layer.adaround_error, 0.9 * layer.nearest_error);
  EXPECT_LT(layer.undecided, 0.01);
  EXPECT_GT(layer.flipped, 0.0);
  // The rounded weights lie on the quantized model's grid, whose encodings are kept.
  const simulator::AffineQuantizer& before = weight_quantizer_of(quantized, "features.3.weight");
  const simulator::AffineQuantizer& after = weight_quantizer_of(rounded, "features.3.weight");
  EXPECT_EQ(after.scale(), before.scale());
  EXPECT_EQ(after.zero_point(), before.zero_point());
  const Tensor& weight = rounded.graph().initializers.at("features.3.weight").tensor;
  const float scale = before.scale()[0];
  for (std::int64_t k = 0; k < weight.size(); ++k) {
    const float level = weight[k] / scale;
    ASSERT_NEAR(level, std::nearbyint(level), 1e-4) << k;
    ASSERT_LE(std::abs(level), 8.0f) << k;
  }
}

TEST(AdaRound, BringsTheModelCloserToFloatOnHeldOutImages) {
  const Model quantized = w4_features_3();
  Model rounded = adaround(quantized, fashion_images("train", 256), 128, defaults());
  Model float_model = load_onnx(kCnn);
  Model nearest = quantized.copy();
  const auto [before, after] =
      errors_before_and_after(float_model, nearest, rounded, fashion_images("t10k", 500), "W4 features.3, AdaRound");
  EXPECT_LT(after, before);
}

TEST(AdaRound, SameSeedSameRounding) {
  const Model quantized = w4_features_3();
  AdaRoundParameters p = defaults();
  p.num_iterations = 200;  // the rows and batches are what the split could change
  const Tensor data = fashion_images("train", 64);
  const Model a = adaround(quantized, data, 32, p);
  const Model b = adaround(quantized, data, 64, p);  // another batch split of the same data
  EXPECT_EQ(a.graph().initializers.at("features.3.weight").tensor.values()[0],
            b.graph().initializers.at("features.3.weight").tensor.values()[0]);
  const auto& wa = a.graph().initializers.at("features.3.weight").tensor;
  const auto& wb = b.graph().initializers.at("features.3.weight").tensor;
  for (std::int64_t k = 0; k < wa.size(); ++k) ASSERT_EQ(wa[k], wb[k]) << k;
}

TEST(AdaRound, RefusesBadParametersAndModelsWithoutQuantizedWeights) {
  AdaRoundParameters bad;
  bad.warm_start = 1.0;
  tessera::testing::expect_error<ModelError>([&] { adaround(w4_features_3(), fashion_images("train", 4), 4, bad); },
                                             "adaround: parameters out of range");
  tessera::testing::expect_error<ModelError>([] { adaround(load_onnx(kCnn), fashion_images("train", 4), 4); },
                                             "the plan quantizes no Conv or Gemm weights");
}

}  // namespace
}  // namespace tessera::nn
