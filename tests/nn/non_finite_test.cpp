// NaN and Inf, stage by stage, as docs/robustness.md's "Non-finite values" states it:
//   activations  propagate within their sample in float, analog and quantized models; the
//                other samples of the batch are untouched, bit for bit
//   weights      the float model propagates them; converting a layer with a non-finite weight
//                to analog tiles or to a quantized layer is refused, naming the module
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "expect_error.hpp"
#include "tessera/experiments/idx_dataset.hpp"
#include "tessera/experiments/presets.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"
#include "tessera/parameters/quantization.hpp"

namespace tessera::nn {
namespace {

using simulator::Tensor;
using tessera::testing::expect_error;

const std::string kModel = TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx";
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr std::int64_t kBatch = 4, kPoisoned = 1, kClasses = 10;

Tensor four_images() {
  return experiments::load_idx_dataset("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
                                       "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
                                       {0.2860f, 0.3530f}, kBatch)
      .images;
}

// Runs a clean batch and the same batch with one NaN pixel in sample kPoisoned (and an Inf in
// another pixel of it), each through a fresh model from `make` (same seed, same noise).
template <class Make>
void expect_poisoned_sample_only(Make make) {
  const Tensor clean = four_images();
  Tensor poisoned = clean;
  poisoned[kPoisoned * 784 + 300] = kNaN;
  poisoned[kPoisoned * 784 + 301] = std::numeric_limits<float>::infinity();
  Model first = make();
  const Tensor expected = first.forward(clean);
  Model second = make();
  const Tensor actual = second.forward(poisoned);
  for (std::int64_t n = 0; n < kBatch; ++n) {
    for (std::int64_t c = 0; c < kClasses; ++c) {
      const float value = actual[n * kClasses + c];
      if (n == kPoisoned) {
        EXPECT_TRUE(std::isnan(value)) << "class " << c << ": " << value;
      } else {
        EXPECT_EQ(value, expected[n * kClasses + c]) << "sample " << n << " class " << c;
      }
    }
  }
}

parameters::QuantizationMap w8a8() { return *experiments::load_preset("digital_int8").quantization; }

TEST(NonFinite, FloatModelPropagatesWithinTheSample) {
  expect_poisoned_sample_only([] { return load_onnx(kModel); });
}

TEST(NonFinite, AnalogModelPropagatesWithinTheSample) {
  expect_poisoned_sample_only([] {
    AnalogConversion conversion;  // aihwkit's PCM defaults: noise, ABS_MAX noise management, ITERATIVE bounds
    conversion.seed = 5;
    Model model = convert_to_analog(load_onnx(kModel), conversion);
    model.drift(3600.0);
    return model;
  });
}

TEST(NonFinite, QuantizedModelPropagatesWithinTheSample) {
  expect_poisoned_sample_only([] {
    Model model = convert_to_quantized(load_onnx(kModel), w8a8());
    model.compute_encodings([](Model& m) { m.forward(four_images()); });
    return model;
  });
}

// The bundled model with one weight of `module` replaced by `value`.
Model with_bad_weight(const std::string& initializer, float value) {
  Graph graph = load_onnx_graph(kModel);
  graph.initializers.at(initializer).tensor[7] = value;
  return Model(std::move(graph));
}

TEST(NonFinite, FloatModelPropagatesANaNWeight) {
  Model model = with_bad_weight("classifier.3.weight", kNaN);  // one weight of class 0
  const Tensor y = model.forward(four_images());
  for (std::int64_t n = 0; n < kBatch; ++n) {
    EXPECT_TRUE(std::isnan(y[n * kClasses + 0]));
    EXPECT_TRUE(std::isfinite(y[n * kClasses + 1]));
  }
}

TEST(NonFinite, ConversionRefusesNonFiniteWeightsNamingTheModule) {
  expect_error<ModelError>([] { convert_to_analog(with_bad_weight("features.3.weight", kNaN), AnalogConversion{}); },
                           "features.3");
  expect_error<ModelError>(
      [] { convert_to_analog(with_bad_weight("classifier.1.weight", -INFINITY), AnalogConversion{}); },
      "the weight holds 1 NaN or Inf value(s), the first at flat index 7; hardware cannot hold them");
  expect_error<ModelError>([] { convert_to_quantized(with_bad_weight("features.0.weight", kNaN), w8a8()); },
                           "features.0");
  // Excluded from conversion, the layer stays float and keeps its NaN.
  AnalogConversion excluding;
  excluding.exclude = {"features.3"};
  EXPECT_NO_THROW(convert_to_analog(with_bad_weight("features.3.weight", kNaN), excluding));
}

}  // namespace
}  // namespace tessera::nn
