// Tile arrays: aihwkit's balanced split, the same function as one big tile when ideal, one
// tile bit for bit like a lone AnalogTile, independent noise per tile, digital partial sums.
#include "tessera/tiles/tile_array.hpp"

#include <gtest/gtest.h>

#include "expect_error.hpp"
#include "reference/matmul_reference.hpp"
#include "tiles/tile_test_helpers.hpp"

namespace tessera::tiles {
namespace {

using namespace tessera::tiles::testing;
using tessera::testing::expect_error;

TEST(TileArray, AMillionByAMillionIsRefusedUpFront) {
  // 10^12 weights would be 4 TB; refused before the first of ~4 million tiles is made.
  expect_error<std::length_error>(
      [] { AnalogTileArray(1000000, 1000000, parameters::InferenceRPUConfig{}, 1, "huge"); },
      "would have more than 2^32 elements");
  expect_error<std::length_error>([] { AnalogTile(1000000, 1000000, parameters::InferenceRPUConfig{}, 1); },
                                  "would have more than 2^32 elements");
}

TEST(TileArray, SplitsIntoBalancedBlocksLikeAihwkit) {
  const std::vector<Block> blocks = split_into_blocks(1100, 512);  // ceil(1100 / 512) = 3
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].size, 367);
  EXPECT_EQ(blocks[1].size, 367);
  EXPECT_EQ(blocks[2].size, 366);
  EXPECT_EQ(blocks[2].start, 734);
  EXPECT_EQ(split_into_blocks(512, 512).size(), 1u);
  EXPECT_EQ(split_into_blocks(513, 512).size(), 2u);
  EXPECT_EQ(split_into_blocks(100000, 0).size(), 1u);  // 0 = no limit
}

InferenceRPUConfig small_tiles(InferenceRPUConfig config) {
  config.mapping.max_input_size = 16;
  config.mapping.max_output_size = 8;
  return config;
}

TEST(TileArray, IdealArrayComputesTheWholeProductPlusBias) {
  AnalogTileArray array(20, 50, small_tiles(ideal_config()), 1, "fc");
  EXPECT_EQ(array.output_blocks().size(), 3u);
  EXPECT_EQ(array.input_blocks().size(), 4u);
  EXPECT_EQ(array.tile_count(), 12u);
  const Tensor w = random_tensor({20, 50}, 1);
  const Tensor x = random_tensor({6, 50}, 2);
  std::vector<float> bias(20);
  for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = 0.1f * static_cast<float>(i);
  array.set_weights(w);
  array.set_bias(bias);
  const Tensor y = array.forward(x);
  const auto reference = reference::matmul_transposed(x, w);
  for (std::int64_t k = 0; k < y.size(); ++k) {
    ASSERT_NEAR(y[k], reference.value[static_cast<std::size_t>(k)] + bias[static_cast<std::size_t>(k % 20)],
                2.0 * reference.tolerance[static_cast<std::size_t>(k)] + 1e-6)
        << k;
  }
  const Tensor logical = array.logical_weights();
  for (std::int64_t k = 0; k < w.size(); ++k) ASSERT_EQ(logical[k], w[k]);
}

TEST(TileArray, OneTileBehavesExactlyLikeALoneTile) {
  const InferenceRPUConfig config;  // PCM defaults: NM, DAC, ADC, noise, BM
  AnalogTileArray array(30, 40, config, 7, "fc");
  AnalogTile tile(30, 40, config, 7, "fc");
  const Tensor w = random_tensor({30, 40}, 3, 0.3f);
  array.set_weights(w);
  tile.set_weights(w);
  array.program();
  tile.program();
  array.drift(3600.0);
  tile.drift(3600.0);
  const Tensor x = random_tensor({10, 40}, 4);
  const Tensor a = array.forward(x);
  const Tensor b = tile.forward(x);
  for (std::int64_t k = 0; k < a.size(); ++k) ASSERT_EQ(a[k], b[k]) << k;
}

TEST(TileArray, EachTileDrawsItsOwnNoise) {
  InferenceRPUConfig config = small_tiles(ideal_config());
  config.forward.out_noise = 0.1;
  AnalogTileArray array(16, 16, config, 1);  // two output blocks of 8, one input block
  Tensor same({16, 16});
  for (std::int64_t i = 0; i < 16; ++i) same[i * 16 + (i % 8)] = 0.5f;  // both blocks hold the same weights
  array.set_weights(same);
  const Tensor y = array.forward(random_tensor({4, 16}, 5));
  int different = 0;
  for (std::int64_t b = 0; b < 4; ++b) {
    for (std::int64_t i = 0; i < 8; ++i) different += y[b * 16 + i] != y[b * 16 + 8 + i];
  }
  EXPECT_EQ(different, 32);
}

TEST(TileArray, GradientsAssembleFromTheTiles) {
  AnalogTileArray array(20, 50, small_tiles(ideal_config()), 1);
  const Tensor w = random_tensor({20, 50}, 6);
  array.set_weights(w);
  const Tensor x = random_tensor({3, 50}, 7);
  const Tensor g = random_tensor({3, 20}, 8);
  array.forward(x);
  const Tensor grad_x = array.backward(g);
  const Tensor grad_w = array.weight_gradient(x, g);
  for (std::int64_t b = 0; b < 3; ++b) {
    for (std::int64_t j = 0; j < 50; ++j) {
      double expected = 0.0;
      for (std::int64_t i = 0; i < 20; ++i) expected += double{g[b * 20 + i]} * w[i * 50 + j];
      ASSERT_NEAR(grad_x[b * 50 + j], expected, 1e-4);
    }
  }
  for (std::int64_t i = 0; i < 20; ++i) {
    for (std::int64_t j = 0; j < 50; ++j) {
      double expected = 0.0;
      for (std::int64_t b = 0; b < 3; ++b) expected += double{g[b * 20 + i]} * x[b * 50 + j];
      ASSERT_NEAR(grad_w[i * 50 + j], expected, 1e-4);
    }
  }
}

TEST(TileArray, BadInputIsRefusedWithAReason) {
  AnalogTileArray array(20, 50, small_tiles(ideal_config()), 1, "fc");
  expect_error<std::invalid_argument>(
      [&] {
        array.set_weights(Tensor({50, 20}));
      },
      "tile array 'fc' expects weights of shape [20, 50], got [50, 20]");
  expect_error<std::invalid_argument>(
      [&] {
        array.forward(Tensor({2, 49}));
      },
      "tile array 'fc' expects input of shape [batch, 50]");
  expect_error<std::invalid_argument>([&] { array.set_bias(std::vector<float>(3)); },
                                      "tile array 'fc' expects 20 bias values, got 3");
  InferenceRPUConfig analog_bias = ideal_config();
  analog_bias.mapping.digital_bias = false;
  AnalogTileArray analog(4, 4, analog_bias, 1, "fc");
  expect_error<std::invalid_argument>([&] { analog.set_bias(std::vector<float>(4)); },
                                      "mapping.digital_bias = false (bias as an analog column) is not simulated yet");
  expect_error<std::invalid_argument>([&] { AnalogTileArray(0, 3, ideal_config()); }, "sizes must be >= 1, got 0 x 3");
}

}  // namespace
}  // namespace tessera::tiles
