// The tile's forward pass: exact when ideal, each periphery step as specified, noise with the
// right statistics (z = 5 bounds from the sample size), reproducible across threads and batch
// splits, bad input refused.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "expect_error.hpp"
#include "reference/matmul_reference.hpp"
#include "tessera/tiles/analog_tile.hpp"
#include "tiles/tile_test_helpers.hpp"

namespace tessera::tiles {
namespace {

using namespace tessera::tiles::testing;
constexpr double kZ = 5.0;

TEST(ForwardPass, PerfectModeEqualsTheFloatMatmul) {
  InferenceRPUConfig config;
  config.forward.is_perfect = true;
  AnalogTile tile(48, 300, config, 1);
  tile.set_weights(random_tensor({48, 300}, 1, 0.1f));
  const Tensor x = random_tensor({17, 300}, 2);
  const Tensor y = tile.forward(x);
  const auto reference = reference::matmul_transposed(x, tile.weights());
  for (std::int64_t k = 0; k < y.size(); ++k) {
    ASSERT_NEAR(y[k], reference.value[static_cast<std::size_t>(k)], reference.tolerance[static_cast<std::size_t>(k)])
        << k;
  }
}

TEST(ForwardPass, AllNonIdealitiesOffGivesThePerfectResultBitForBit) {
  InferenceRPUConfig perfect;
  perfect.forward.is_perfect = true;
  AnalogTile ideal_tile(32, 64, ideal_config(), 1);
  AnalogTile perfect_tile(32, 64, perfect, 1);
  const Tensor w = random_tensor({32, 64}, 3, 0.2f);
  ideal_tile.set_weights(w);
  perfect_tile.set_weights(w);
  const Tensor x = random_tensor({9, 64}, 4);
  EXPECT_EQ(ideal_tile.forward(x), perfect_tile.forward(x));
}

TEST(ForwardPass, OutputNoiseHasTheConfiguredStd) {
  SCOPED_TRACE(tessera::testing::seed_note());
  InferenceRPUConfig config = ideal_config();
  config.forward.out_noise = 0.07;
  AnalogTile tile(64, 16, config, tessera::testing::test_seed());
  tile.set_weights(Tensor({64, 16}));  // zero weights: the output is the noise alone
  const Tensor y = tile.forward(random_tensor({2000, 16}, 5));
  std::vector<double> values(y.values().begin(), y.values().end());
  const double n = static_cast<double>(values.size());
  EXPECT_NEAR(mean_of(values), 0.0, kZ * 0.07 / std::sqrt(n));
  EXPECT_NEAR(stddev_of(values) / 0.07, 1.0, kZ / std::sqrt(2.0 * (n - 1)));
}

TEST(ForwardPass, AdcProducesItsLevelsAndClipsAtOutBound) {
  InferenceRPUConfig config = ideal_config();
  config.forward.out_res = 1.0 / 30.0;  // 31 levels over [-2, 2]
  config.forward.out_bound = 2.0;
  AnalogTile tile(40, 30, config, 1);
  tile.set_weights(random_tensor({40, 30}, 6, 0.3f));
  const Tensor y = tile.forward(random_tensor({100, 30}, 7));
  const double bin = 2.0 * 2.0 / 30.0;
  std::set<long> levels;
  bool clipped = false;
  for (float value : y.values()) {
    const double steps = value / bin;
    ASSERT_NEAR(steps, std::nearbyint(steps), 1e-4) << value;
    ASSERT_LE(std::abs(value), 2.0f + 1e-6f);
    levels.insert(std::lround(steps));
    clipped |= std::abs(value) > 2.0f - 1e-6f;
  }
  EXPECT_LE(levels.size(), 31u);
  EXPECT_GT(levels.size(), 20u);
  EXPECT_TRUE(clipped) << "the test data should reach the ADC bound";
}

TEST(ForwardPass, DacQuantizesAndClipsInputs) {
  InferenceRPUConfig config = ideal_config();
  config.forward.inp_res = 1.0 / 6.0;  // bin 1/3 over [-1, 1]
  config.forward.inp_bound = 1.0;
  AnalogTile tile(8, 8, config, 1);
  Tensor identity({8, 8});
  for (int i = 0; i < 8; ++i) identity[i * 8 + i] = 1.0f;
  tile.set_weights(identity);
  const Tensor x = random_tensor({50, 8}, 8, 1.5f);
  const Tensor y = tile.forward(x);
  for (std::int64_t k = 0; k < x.size(); ++k) {
    const float expected = std::clamp(std::nearbyint(x[k] * 3.0f) / 3.0f, -1.0f, 1.0f);
    ASSERT_NEAR(y[k], expected, 1e-6f) << "x = " << x[k];
  }
}

TEST(ForwardPass, StochasticDacRoundingIsUnbiased) {
  SCOPED_TRACE(tessera::testing::seed_note());
  InferenceRPUConfig config = ideal_config();
  config.forward.inp_res = 1.0 / 6.0;
  config.forward.inp_bound = 1.0;
  config.forward.inp_sto_round = true;
  AnalogTile tile(1, 1, config, tessera::testing::test_seed());
  tile.set_weights(Tensor({1, 1}, {1.0f}));
  const std::int64_t n = 40000;
  const Tensor y = tile.forward(Tensor({n, 1}, 0.1f));
  std::vector<double> values(y.values().begin(), y.values().end());
  const double bin = 1.0 / 3.0, p = 0.1 / bin;  // rounds up to 1/3 with probability 0.3
  EXPECT_NEAR(mean_of(values), 0.1, kZ * bin * std::sqrt(p * (1 - p) / n));
}

TEST(ForwardPass, AbsMaxNoiseManagementMakesTheOutputScaleWithTheInput) {
  InferenceRPUConfig config;  // aihwkit defaults: ABS_MAX, 7-bit DAC, 9-bit ADC
  config.forward.out_noise = 0.0;
  config.forward.bound_management = parameters::BoundManagementType::NONE;
  AnalogTile tile(20, 50, config, 1);
  tile.set_weights(random_tensor({20, 50}, 9, 0.05f));
  const Tensor x = random_tensor({10, 50}, 10);
  const Tensor y = tile.forward(x);
  for (float factor : {3.5f, 0.01f}) {
    Tensor scaled = x;
    for (float& value : scaled.values()) value *= factor;
    const Tensor y_scaled = tile.forward(scaled);
    for (std::int64_t k = 0; k < y.size(); ++k) {
      ASSERT_NEAR(y_scaled[k], factor * y[k], 1e-5f * factor * (1.0f + std::abs(y[k]))) << "factor " << factor;
    }
  }
}

TEST(ForwardPass, NoiseManagementGivesZerosForAZeroInput) {
  InferenceRPUConfig config;
  AnalogTile tile(4, 6, config, 1);
  tile.set_weights(random_tensor({4, 6}, 11));
  const std::vector<float> bias{0.5f, -1.0f, 0.0f, 2.0f};
  tile.set_bias(bias);
  const Tensor y = tile.forward(Tensor({1, 6}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y[i], bias[static_cast<std::size_t>(i)]);
}

TEST(ForwardPass, IterativeBoundManagementRescuesSaturatedOutputs) {
  InferenceRPUConfig config;
  config.forward.out_noise = 0.0;
  config.forward.out_bound = 1.0;
  config.forward.out_res = 1.0 / 510.0;
  AnalogTile tile(4, 16, config, 1);
  tile.set_weights(Tensor({4, 16}, 0.5f));  // y = 0.5 * 16 = 8 for an all-ones input
  const Tensor x({2, 16}, 1.0f);

  config.forward.bound_management = parameters::BoundManagementType::NONE;
  AnalogTile clipped_tile(4, 16, config, 1);
  clipped_tile.set_weights(tile.weights());
  EXPECT_FLOAT_EQ(clipped_tile.forward(x)[0], 1.0f);  // saturated at out_bound (times nm = 1)

  // Reduction 8 gives DAC(1/8) = 8/63, y = 8 * 8/63 -> ADC 259/255 > 1: still saturated.
  // Reduction 16 gives DAC(1/16) = 4/63, y = 8 * 4/63 -> ADC 130/255; times 16 = 8.157.
  const Tensor rescued = tile.forward(x);
  for (float value : rescued.values()) EXPECT_NEAR(value, 16.0 * 130.0 / 255.0, 1e-5);
}

TEST(ForwardPass, BoundManagementStopsAtMaxBmFactor) {
  InferenceRPUConfig config;
  config.forward.out_noise = 0.0;
  config.forward.out_bound = 1.0;
  config.forward.max_bm_factor = 2.0;  // reductions 1, 2, 4 at most
  AnalogTile tile(1, 16, config, 1);
  tile.set_weights(Tensor({1, 16}, 0.5f));
  EXPECT_NEAR(tile.forward(Tensor({1, 16}, 1.0f))[0], 4.0f, 1e-5f);
}

// Per-MVM weight noise drawn in distribution must match sampling one number per weight.
TEST(ForwardPass, PcmReadWeightNoiseMatchesBruteForceSampling) {
  SCOPED_TRACE(tessera::testing::seed_note());
  constexpr std::int64_t kOut = 6, kIn = 20, kSamples = 20000;
  constexpr float kWNoise = 0.05f;
  InferenceRPUConfig config = ideal_config();
  config.forward.w_noise = kWNoise;
  config.forward.w_noise_type = parameters::WeightNoiseType::PCM_READ;
  AnalogTile tile(kOut, kIn, config, tessera::testing::test_seed());
  const Tensor w = random_tensor({kOut, kIn}, 12, 0.4f);
  tile.set_weights(w);
  const Tensor x_row = random_tensor({1, kIn}, 13);
  Tensor x({kSamples, kIn});
  for (std::int64_t b = 0; b < kSamples; ++b) std::copy_n(x_row.data(), kIn, x.data() + b * kIn);
  const Tensor y = tile.forward(x);

  // Brute force: w_ij + sigma_ij xi with sigma_ij^2 = w_noise^2 |w_ij|, a fresh xi per sample.
  simulator::RandomStream brute(tessera::testing::test_seed() + 1);
  std::vector<float> xi(static_cast<std::size_t>(kOut * kIn));
  std::vector<std::vector<double>> tile_outputs(kOut), brute_outputs(kOut);
  for (std::int64_t b = 0; b < kSamples; ++b) {
    brute.fill_normal(xi, static_cast<std::uint64_t>(b * kOut * kIn));
    for (std::int64_t i = 0; i < kOut; ++i) {
      double sum = 0.0;
      for (std::int64_t j = 0; j < kIn; ++j) {
        const double noisy = w[i * kIn + j] + kWNoise * std::sqrt(std::abs(w[i * kIn + j])) * xi[i * kIn + j];
        sum += noisy * x_row[j];
      }
      brute_outputs[i].push_back(sum);
      tile_outputs[i].push_back(y[b * kOut + i]);
    }
  }
  const double n = kSamples;
  for (std::int64_t i = 0; i < kOut; ++i) {
    double variance = 0.0, mean = 0.0;
    for (std::int64_t j = 0; j < kIn; ++j) {
      variance += kWNoise * kWNoise * std::abs(w[i * kIn + j]) * x_row[j] * x_row[j];
      mean += static_cast<double>(w[i * kIn + j]) * x_row[j];
    }
    const double sigma = std::sqrt(variance);
    EXPECT_NEAR(mean_of(tile_outputs[i]), mean, kZ * sigma / std::sqrt(n)) << i;
    EXPECT_NEAR(stddev_of(tile_outputs[i]) / sigma, 1.0, kZ / std::sqrt(2 * (n - 1))) << i;
    EXPECT_NEAR(stddev_of(brute_outputs[i]) / sigma, 1.0, kZ / std::sqrt(2 * (n - 1))) << i;
  }
}

TEST(ForwardPass, AdditiveConstantWeightNoiseScalesWithTheInputNorm) {
  SCOPED_TRACE(tessera::testing::seed_note());
  InferenceRPUConfig config = ideal_config();
  config.forward.w_noise = 0.02;
  config.forward.w_noise_type = parameters::WeightNoiseType::ADDITIVE_CONSTANT;
  AnalogTile tile(32, 10, config, tessera::testing::test_seed());
  tile.set_weights(Tensor({32, 10}));
  const Tensor x({3000, 10}, 0.5f);  // |x| = 0.5 sqrt(10)
  const Tensor y = tile.forward(x);
  std::vector<double> values(y.values().begin(), y.values().end());
  const double sigma = 0.02 * 0.5 * std::sqrt(10.0);
  EXPECT_NEAR(stddev_of(values) / sigma, 1.0, kZ / std::sqrt(2.0 * (values.size() - 1)));
}

TEST(ForwardPass, SameSeedSameResultForAnyThreadCountAndBatchSplit) {
  InferenceRPUConfig config;  // aihwkit defaults: noise, DAC/ADC, ITERATIVE BM
  config.forward.w_noise = 0.02;
  config.forward.w_noise_type = parameters::WeightNoiseType::PCM_READ;
  config.forward.inp_sto_round = true;
  const Tensor w = random_tensor({64, 96}, 14, 0.2f);
  const Tensor x = random_tensor({37, 96}, 15, 3.0f);
  auto run = [&](int threads, std::int64_t first_chunk) {
    omp_set_num_threads(threads);
    AnalogTile tile(64, 96, config, 42, "layer");
    tile.set_weights(w);
    Tensor head({first_chunk, 96}), tail({37 - first_chunk, 96});
    std::copy_n(x.data(), head.size(), head.data());
    std::copy_n(x.data() + head.size(), tail.size(), tail.data());
    const Tensor a = tile.forward(head);
    const Tensor b = tile.forward(tail);
    std::vector<float> joined(a.values().begin(), a.values().end());
    joined.insert(joined.end(), b.values().begin(), b.values().end());
    return joined;
  };
  const int threads = omp_get_max_threads();
  const std::vector<float> reference = run(1, 37 - 1);
  EXPECT_EQ(run(2, 36), reference);
  EXPECT_EQ(run(2, 5), reference);
  EXPECT_EQ(run(1, 20), reference);
  omp_set_num_threads(threads);

  AnalogTile other_seed(64, 96, config, 43, "layer");
  other_seed.set_weights(w);
  const Tensor different = other_seed.forward(x);
  EXPECT_NE(std::vector<float>(different.values().begin(), different.values().end()), reference);
}

TEST(ForwardPass, OutScaleAndDigitalBiasAreApplied) {
  InferenceRPUConfig config = ideal_config();
  config.forward.out_scale = 2.0;
  AnalogTile tile(2, 2, config, 1);
  tile.set_weights(Tensor({2, 2}, {1.0f, 0.0f, 0.0f, 1.0f}));
  tile.set_bias(std::vector<float>{0.5f, -0.5f});
  const Tensor y = tile.forward(Tensor({1, 2}, {1.0f, 2.0f}));
  EXPECT_FLOAT_EQ(y[0], 2.5f);
  EXPECT_FLOAT_EQ(y[1], 3.5f);
}

TEST(ForwardPass, BadInputIsRefusedWithAReason) {
  InferenceRPUConfig config;
  AnalogTile tile(4, 6, config, 1, "features.0");
  try {
    tile.forward(Tensor({2, 5}));
    FAIL();
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "tile 'features.0' expects input of shape [batch, 6], got [2, 5]");
  }
  using tessera::testing::expect_error;
  expect_error<std::invalid_argument>(
      [&] {
        tile.set_weights(Tensor({6, 4}));
      },
      "tile 'features.0' expects weights of shape [4, 6], got [6, 4]");
  expect_error<std::invalid_argument>([&] { tile.set_bias(std::vector<float>(3)); },
                                      "tile 'features.0' expects 4 bias values, got 3");
  expect_error<std::invalid_argument>([&] { AnalogTile(0, 4, config); }, "tile sizes must be >= 1, got 0 x 4");
  config.forward.r_series = 0.1;
  expect_error<std::invalid_argument>([&] { AnalogTile(4, 6, config); },
                                      "AnalogTile does not support forward.r_series > 0 yet");
}

// Accuracy of an MLP-sized product degrades monotonically with output noise and ADC bits.
double relative_error(const InferenceRPUConfig& config, std::uint64_t seed) {
  AnalogTile tile(256, 256, config, seed);
  const Tensor w = random_tensor({256, 256}, 16, 1.0f / 16.0f);
  tile.set_weights(w);
  const Tensor x = random_tensor({64, 256}, 17);
  const Tensor y = tile.forward(x);
  const auto reference = reference::matmul_transposed(x, w);
  double error = 0.0, norm = 0.0;
  for (std::int64_t k = 0; k < y.size(); ++k) {
    const double ideal = reference.value[static_cast<std::size_t>(k)];
    error += (y[k] - ideal) * (y[k] - ideal);
    norm += ideal * ideal;
  }
  return std::sqrt(error / norm);
}

double mean_error(const InferenceRPUConfig& config) {
  double sum = 0.0;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) sum += relative_error(config, seed);
  return sum / 3.0;
}

TEST(ForwardPass, ErrorGrowsWithOutputNoiseAndFewerAdcBits) {
  double previous = -1.0;
  for (double noise : {0.0, 0.02, 0.06, 0.2}) {
    InferenceRPUConfig config;
    config.forward.out_noise = noise;
    const double error = mean_error(config);
    EXPECT_GT(error, previous) << "out_noise " << noise;
    previous = error;
  }
  previous = -1.0;
  for (int bits : {12, 10, 8, 6, 4}) {
    InferenceRPUConfig config;
    config.forward.out_noise = 0.0;
    config.forward.out_res = 1.0 / ((1 << bits) - 2);
    const double error = mean_error(config);
    EXPECT_GT(error, previous) << bits << " ADC bits";
    previous = error;
  }
}

}  // namespace
}  // namespace tessera::tiles
