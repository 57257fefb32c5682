// experiments::evaluate's SNR refuses a float reference that does not hold the module's output
// value (another graph, or a graph after other passes) instead of comparing unrelated tensors.
#include "tessera/experiments/evaluation.hpp"

#include <gtest/gtest.h>

#include "expect_error.hpp"
#include "tessera/experiments/idx_dataset.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::experiments {
namespace {

TEST(Evaluation, SnrRefusesAReferenceWithoutTheModulesOutputValue) {
  nn::Model model = nn::load_onnx(TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx");
  nn::Model other = nn::load_onnx(TESSERA_SOURCE_DIR "/examples/fashion_mnist_resnet/fmnist_resnet.onnx");
  const std::string data = "/usr/share/datasets/fashion-mnist/";
  const Dataset images =
      load_idx_dataset(data + "t10k-images-idx3-ubyte.gz", data + "t10k-labels-idx1-ubyte.gz", {0.2860f, 0.3530f}, 8);
  const EvaluationRequest request{{"top1", "snr"}, 8, &other, {"features.0"}, {}};
  tessera::testing::expect_error<std::invalid_argument>(
      [&] { evaluate(model, images, request); },
      "snr: the float reference has no value '/features/features.0/Conv_output_0' of the shape module "
      "'features.0' outputs");
  nn::Model same = nn::load_onnx(TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx");
  const EvaluationRequest matching{{"snr"}, 8, &same, {"features.0"}, {}};
  EXPECT_EQ(evaluate(model, images, matching).front().first, "snr_db.features.0");
}

}  // namespace
}  // namespace tessera::experiments
