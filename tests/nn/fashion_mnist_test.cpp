// The bundled Fashion-MNIST CNN (scripts/train_fashion_mnist.py): tessera's float mode gives
// torch's predictions; 8-bit weights and activations cost < 1 % accuracy; the PCM defaults
// at t = 1 day with global drift compensation stay well above chance.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "tessera/experiments/idx_dataset.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::nn {
namespace {

const std::string kModel = TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx";
const std::string kPredictions = TESSERA_SOURCE_DIR "/examples/fashion_mnist/torch_predictions.txt";
const std::string kData = "/usr/share/datasets/fashion-mnist/";
constexpr experiments::Normalization kNormalization{0.2860f, 0.3530f};

experiments::Dataset test_set(std::int64_t limit = 0) {
  return experiments::load_idx_dataset(kData + "t10k-images-idx3-ubyte.gz", kData + "t10k-labels-idx1-ubyte.gz",
                                       kNormalization, limit);
}

Tensor rows_of(const Tensor& images, std::int64_t first, std::int64_t count) {
  Shape shape = images.shape();
  shape[0] = count;
  const std::int64_t per_image = images.size() / images.dim(0);
  Tensor batch(shape);
  std::copy(images.data() + first * per_image, images.data() + (first + count) * per_image, batch.data());
  return batch;
}

std::vector<std::int64_t> predict(Model& model, const Tensor& images) {
  std::vector<std::int64_t> predictions;
  constexpr std::int64_t kBatch = 500;
  for (std::int64_t first = 0; first < images.dim(0); first += kBatch) {
    const std::int64_t count = std::min(kBatch, images.dim(0) - first);
    const Tensor logits = model.forward(rows_of(images, first, count));
    for (std::int64_t b = 0; b < count; ++b) {
      const float* row = logits.data() + b * 10;
      predictions.push_back(std::max_element(row, row + 10) - row);
    }
  }
  return predictions;
}

double accuracy(const std::vector<std::int64_t>& predictions, const std::vector<std::int64_t>& labels) {
  std::int64_t correct = 0;
  for (std::size_t k = 0; k < predictions.size(); ++k) correct += predictions[k] == labels[k];
  return static_cast<double>(correct) / static_cast<double>(predictions.size());
}

class FashionMnist : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kData)) GTEST_SKIP() << "install dataset-fashion-mnist (scripts/install_deps.sh)";
  }
};

TEST_F(FashionMnist, FloatModeGivesTorchsPredictions) {
  Model model = load_onnx(kModel);
  const experiments::Dataset data = test_set();
  const std::vector<std::int64_t> predictions = predict(model, data.images);
  std::ifstream file(kPredictions);
  std::string line, word;
  std::getline(file, line);  // comment
  double torch_accuracy = 0.0;
  file >> word >> torch_accuracy;
  std::vector<std::int64_t> torch_predictions;
  for (std::int64_t p; file >> p;) torch_predictions.push_back(p);
  ASSERT_EQ(torch_predictions.size(), predictions.size());
  std::int64_t same = 0;
  for (std::size_t k = 0; k < predictions.size(); ++k) same += predictions[k] == torch_predictions[k];
  const double agreement = static_cast<double>(same) / static_cast<double>(predictions.size());
  const double ours = accuracy(predictions, data.labels);
  std::cout << "float: agreement with torch " << agreement << ", accuracy " << ours << " (torch " << torch_accuracy
            << ")\n";
  EXPECT_GE(agreement, 0.999);
  EXPECT_NEAR(ours, torch_accuracy, 0.001);
}

TEST_F(FashionMnist, EightBitPerChannelWeightsAndActivationsLoseUnderOnePercent) {
  Model model = load_onnx(kModel);
  const experiments::Dataset data = test_set();
  const double float_accuracy = accuracy(predict(model, data.images), data.labels);

  parameters::QuantizedModuleConfig int8;
  int8.module_qconfig.weight_quant.n_bits = 8;
  int8.module_qconfig.weight_quant.per_channel = true;
  int8.module_qconfig.activation_quant.n_bits = 8;
  int8.module_qconfig.activation_quant.symmetric = false;
  parameters::QuantizationMap map;
  map.module_qconfig_map["Conv2d"] = int8;
  map.module_qconfig_map["Linear"] = int8;
  map.module_qconfig_map["ReLU"] = int8;
  ConversionPlan report;
  Model quantized = convert_to_quantized(model, map, &report);
  const experiments::Dataset calibration = experiments::load_idx_dataset(
      kData + "train-images-idx3-ubyte.gz", kData + "train-labels-idx1-ubyte.gz", kNormalization, 1000);
  quantized.compute_encodings([&](Model& m) { predict(m, calibration.images); });
  const double int8_accuracy = accuracy(predict(quantized, data.images), data.labels);
  std::cout << report.to_string() << "int8: accuracy " << int8_accuracy << " (float " << float_accuracy << ")\n";
  EXPECT_LT(float_accuracy - int8_accuracy, 0.01);
}

TEST_F(FashionMnist, PcmAfterOneDayWithDriftCompensationStaysUseful) {
  Model model = load_onnx(kModel);
  const experiments::Dataset data = test_set(2000);
  const double float_accuracy = accuracy(predict(model, data.images), data.labels);
  AnalogConversion conversion;  // aihwkit's InferenceRPUConfig defaults: PCM, global drift compensation
  conversion.seed = 1;
  Model analog = convert_to_analog(model, conversion);
  analog.program();
  analog.drift(86400.0);
  const double pcm_accuracy = accuracy(predict(analog, data.images), data.labels);
  std::cout << "PCM t = 1 day: accuracy " << pcm_accuracy << " (float " << float_accuracy << ", 2000 images)\n";
  EXPECT_GT(pcm_accuracy, 0.5);
  EXPECT_LT(pcm_accuracy, float_accuracy + 0.02);
}

}  // namespace
}  // namespace tessera::nn
