// What hardware-aware training needs from a tile: weight scaling and remapping that keep the
// layer's function, clipping after an update, modifiers drawn per forward in training only,
// and an ideal backward that matches the float derivatives.
#include <gtest/gtest.h>

#include <cmath>

#include "expect_error.hpp"
#include "reference/matmul_reference.hpp"
#include "tessera/tiles/analog_tile.hpp"
#include "tiles/tile_test_helpers.hpp"

namespace tessera::tiles {
namespace {

using namespace tessera::tiles::testing;
using tessera::testing::expect_error;

void expect_matches_float(const Tensor& y, const Tensor& x, const Tensor& w, double slack = 4.0) {
  const auto reference = reference::matmul_transposed(x, w);
  for (std::int64_t k = 0; k < y.size(); ++k) {
    ASSERT_NEAR(y[k], reference.value[static_cast<std::size_t>(k)],
                slack * reference.tolerance[static_cast<std::size_t>(k)] +
                    1e-6 * std::abs(reference.value[static_cast<std::size_t>(k)]))
        << k;
  }
}

TEST(Training, WeightScalingOmegaKeepsTheLayerFunction) {
  for (bool columnwise : {false, true}) {
    InferenceRPUConfig config = ideal_config();
    config.mapping.weight_scaling_omega = 0.6;
    config.mapping.weight_scaling_columnwise = columnwise;
    AnalogTile tile(12, 40, config, 1);
    const Tensor w = random_tensor({12, 40}, 1, 2.0f);
    tile.set_weights(w);
    float largest = 0.0f;
    for (float value : tile.weights().values()) largest = std::max(largest, std::abs(value));
    EXPECT_NEAR(largest, 0.6f, 1e-6f);
    const Tensor logical = tile.logical_weights();
    for (std::int64_t k = 0; k < w.size(); ++k) ASSERT_NEAR(logical[k], w[k], 1e-6f * std::abs(w[k]) + 1e-7f);
    const Tensor x = random_tensor({9, 40}, 2);
    expect_matches_float(tile.forward(x), x, w);
  }
}

TEST(Training, PostUpdateStepClipsThenRemaps) {
  InferenceRPUConfig config = ideal_config();
  config.clip.type = parameters::WeightClipType::FIXED_VALUE;
  config.clip.fixed_value = 1.0;
  config.remap.type = parameters::WeightRemapType::CHANNELWISE_SYMMETRIC;
  AnalogTile tile(6, 30, config, 1);
  Tensor w = random_tensor({6, 30}, 3, 1.0f);
  tile.set_weights(w);
  tile.post_update_step();
  for (float& value : w.values()) value = std::clamp(value, -1.0f, 1.0f);  // what the clip leaves
  const Tensor logical = tile.logical_weights();
  for (std::int64_t k = 0; k < w.size(); ++k) ASSERT_NEAR(logical[k], w[k], 1e-6f) << k;
  for (std::int64_t i = 0; i < 6; ++i) {  // each row now reaches remapped_wmax = 1
    float row_max = 0.0f;
    for (std::int64_t j = 0; j < 30; ++j) row_max = std::max(row_max, std::abs(tile.weights()[i * 30 + j]));
    EXPECT_NEAR(row_max, 1.0f, 1e-6f);
  }
  const Tensor x = random_tensor({5, 30}, 4);
  expect_matches_float(tile.forward(x), x, w);
}

TEST(Training, ModifierActsInTrainingAndOnlyThere) {
  InferenceRPUConfig config = ideal_config();
  config.modifier.type = parameters::WeightModifierType::ADD_NORMAL;
  config.modifier.std_dev = 0.1;
  AnalogTile tile(8, 20, config, 1);
  const Tensor w = random_tensor({8, 20}, 5, 0.5f);
  tile.set_weights(w);
  const Tensor x = random_tensor({4, 20}, 6);
  expect_matches_float(tile.forward(x), x, w);  // evaluation: unmodified
  tile.set_training(true);
  const Tensor first = tile.forward(x);
  const Tensor second = tile.forward(x);
  int different = 0;
  for (std::int64_t k = 0; k < first.size(); ++k) different += first[k] != second[k];
  EXPECT_GT(different, first.size() / 2) << "a fresh modification per forward call";
  tile.set_training(false);
  expect_matches_float(tile.forward(x), x, w);

  config.modifier.enable_during_test = true;
  AnalogTile always(8, 20, config, 1);
  always.set_weights(w);
  const Tensor modified = always.forward(x);
  const auto reference = reference::matmul_transposed(x, w);
  double deviation = 0.0;
  for (std::int64_t k = 0; k < modified.size(); ++k) {
    deviation = std::max(deviation, std::abs(modified[k] - reference.value[static_cast<std::size_t>(k)]));
  }
  EXPECT_GT(deviation, 1e-3);
}

TEST(Training, BackwardUsesTheWeightsOfTheLastForward) {
  InferenceRPUConfig config = ideal_config();
  config.modifier.type = parameters::WeightModifierType::DROP_CONNECT;
  config.modifier.pdrop = 0.5;
  AnalogTile tile(5, 7, config, 1);
  tile.set_weights(random_tensor({5, 7}, 7));
  tile.set_training(true);
  // With one-hot inputs, forward reveals the modified weights column by column.
  Tensor identity({7, 7});
  for (std::int64_t j = 0; j < 7; ++j) identity[j * 7 + j] = 1.0f;
  tile.set_sample_counter(0);
  const Tensor columns = tile.forward(identity);  // [7, 5]: row j = column j of W'
  Tensor grad({1, 5});
  grad[2] = 1.0f;  // d/dx of y_2: row 2 of W'
  const Tensor grad_input = tile.backward(grad);
  for (std::int64_t j = 0; j < 7; ++j) EXPECT_EQ(grad_input[j], columns[j * 5 + 2]) << j;
}

TEST(Training, GradientsMatchFiniteDifferencesWithDigitalFactors) {
  InferenceRPUConfig config = ideal_config();
  config.forward.out_scale = 1.5;
  config.mapping.weight_scaling_omega = 1.0;
  config.mapping.weight_scaling_columnwise = true;
  AnalogTile tile(4, 6, config, 1);
  const Tensor w = random_tensor({4, 6}, 8, 0.7f);
  tile.set_weights(w);
  const Tensor x = random_tensor({3, 6}, 9);
  const Tensor g = random_tensor({3, 4}, 10);  // loss = sum(g * y)
  tile.forward(x);
  const Tensor grad_x = tile.backward(g);
  const Tensor grad_w = tile.weight_gradient(x, g);
  // y = 1.5 * x W^T: dL/dx = 1.5 g W; dL/dW_tile = 1.5 * s_i * g^T x (s_i the mapping scale).
  for (std::int64_t b = 0; b < 3; ++b) {
    for (std::int64_t j = 0; j < 6; ++j) {
      double expected = 0.0;
      for (std::int64_t i = 0; i < 4; ++i) expected += 1.5 * g[b * 4 + i] * w[i * 6 + j];
      EXPECT_NEAR(grad_x[b * 6 + j], expected, 1e-5);
    }
  }
  for (std::int64_t i = 0; i < 4; ++i) {
    for (std::int64_t j = 0; j < 6; ++j) {
      double expected = 0.0;
      for (std::int64_t b = 0; b < 3; ++b)
        expected += 1.5 * tile.mapping_scales()[static_cast<std::size_t>(i)] * g[b * 4 + i] * x[b * 6 + j];
      EXPECT_NEAR(grad_w[i * 6 + j], expected, 1e-5);
    }
  }
}

TEST(Training, GradientShapesAreChecked) {
  AnalogTile tile(4, 6, ideal_config(), 1, "fc");
  tile.set_weights(random_tensor({4, 6}, 11));
  expect_error<std::invalid_argument>(
      [&] {
        tile.backward(Tensor({2, 5}));
      },
      "tile 'fc' expects grad_output of shape [batch, 4], got ");
  expect_error<std::invalid_argument>(
      [&] {
        tile.weight_gradient(Tensor({2, 6}), Tensor({3, 4}));
      },
      "tile 'fc': input has 2 samples but grad_output has 3");
}

}  // namespace
}  // namespace tessera::tiles
