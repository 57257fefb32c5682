// Recurrent layers against torch 1.13 (scripts/make_recurrent_reference.py): what the ONNX
// conformance cases leave out - bidirectional LSTM and GRU, GRU with linear_before_reset = 1 as
// torch exports it, two stacked layers, batch_first (Transpose around the layer) and ReLU RNNs.
#include <gtest/gtest.h>

#include <cmath>

#include "tessera/experiments/npy.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::nn {
namespace {

const std::string kFolder = TESSERA_TEST_DATA_DIR "/recurrent/";

class RecurrentAgainstTorch : public ::testing::TestWithParam<std::string> {};

TEST_P(RecurrentAgainstTorch, MatchesTorchToFloatRounding) {
  const std::string name = GetParam();
  const experiments::NpyArray x = experiments::read_npy(kFolder + name + "_input.npy");
  const experiments::NpyArray expected = experiments::read_npy(kFolder + name + "_output.npy");
  Tensor input(Shape(x.shape.begin(), x.shape.end()));
  for (std::int64_t k = 0; k < input.size(); ++k) input[k] = static_cast<float>(x.values[static_cast<std::size_t>(k)]);
  Model model = load_onnx(kFolder + name + ".onnx");
  const Tensor y = model.forward(input);
  ASSERT_EQ(y.shape(), Shape(expected.shape.begin(), expected.shape.end()));
  double worst = 0.0;
  for (std::int64_t k = 0; k < y.size(); ++k) {
    worst = std::max(worst, std::abs(y[k] - expected.values[static_cast<std::size_t>(k)]));
  }
  // Outputs are in (-1, 1) (tanh) or small (ReLU); float32 over a few steps agrees to ~1e-6.
  EXPECT_LT(worst, 2e-5) << name;
}

INSTANTIATE_TEST_SUITE_P(Torch, RecurrentAgainstTorch,
                         ::testing::Values("lstm_bidirectional", "gru_two_layers", "rnn_relu_batch_first",
                                           "gru_bidirectional_batch_first"));

}  // namespace
}  // namespace tessera::nn
