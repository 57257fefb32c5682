// Range estimators on data whose right answer is known: exact min/max rules, percentiles of
// uniform and Gaussian data, and the search-based estimators against a brute-force scan of
// the same loss.
#include "tessera/simulator/range_estimators.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tessera/simulator/random_stream.hpp"
#include "test_seed.hpp"

namespace tessera::simulator {
namespace {

using parameters::RangeEstimator;
using parameters::RangeEstimatorParameters;

std::vector<float> normal_values(std::size_t count, std::uint64_t stream, float mean = 0.0f, float stddev = 1.0f) {
  std::vector<float> values(count);
  RandomStream(testing::test_seed(), stream).fill_normal(values, 0, mean, stddev);
  return values;
}

std::vector<float> uniform_values(std::size_t count, std::uint64_t stream, float low, float high) {
  std::vector<float> values(count);
  RandomStream(testing::test_seed(), stream).fill_uniform(values);
  for (float& v : values) v = low + (high - low) * v;
  return values;
}

ClipRange estimate(RangeEstimator kind, const std::vector<std::vector<float>>& batches, const QuantGrid& grid,
                   bool symmetric, RangeEstimatorParameters params = {}) {
  auto estimator = make_range_estimator(kind, params, grid, symmetric);
  for (const auto& batch : batches) estimator->observe(batch);
  EXPECT_TRUE(estimator->has_data());
  return estimator->range();
}

// Brute force: the symmetric half-width t minimising the squared error, scanned finely.
double best_symmetric_width(const std::vector<float>& values, const QuantGrid& grid, double max_width) {
  double best = max_width;
  double best_loss = std::numeric_limits<double>::infinity();
  for (int k = 1; k <= 2000; ++k) {
    const double t = max_width * k / 2000.0;
    const double loss = quantization_squared_error(values, {-t, t}, grid, true);
    if (loss < best_loss) {
      best_loss = loss;
      best = t;
    }
  }
  return best;
}

TEST(RangeEstimators, RegistryCoversEveryConfigName) {
  for (const auto& [value, name] : parameters::EnumNames<RangeEstimator>::kNames) {
    EXPECT_TRUE(range_estimator_registry().contains(value)) << name;
  }
}

TEST(RangeEstimators, MinMaxRules) {
  const std::vector<std::vector<float>> batches{{-1.0f, 0.0f, 1.0f}, {-3.0f, 2.0f, 3.0f}};
  const QuantGrid grid = make_grid(8, false);
  auto check = [&](RangeEstimator kind, double min, double max) {
    const ClipRange range = estimate(kind, batches, grid, false);
    EXPECT_DOUBLE_EQ(range.min, min) << parameters::enum_name(kind);
    EXPECT_DOUBLE_EQ(range.max, max) << parameters::enum_name(kind);
  };
  check(RangeEstimator::current_minmax, -3.0, 3.0);
  check(RangeEstimator::allminmax, -3.0, 3.0);
  check(RangeEstimator::running_minmax, 0.1 * -3.0 + 0.9 * -1.0, 0.1 * 3.0 + 0.9 * 1.0);
  check(RangeEstimator::moving_average_minmax, -1.0 + 0.01 * (-3.0 + 1.0), 1.0 + 0.01 * (3.0 - 1.0));
  const std::vector<std::vector<float>> shrinking{{-5.0f, 5.0f}, {-1.0f, 1.0f}};
  EXPECT_DOUBLE_EQ(estimate(RangeEstimator::current_minmax, shrinking, grid, false).max, 1.0);
  EXPECT_DOUBLE_EQ(estimate(RangeEstimator::allminmax, shrinking, grid, false).max, 5.0);
}

TEST(RangeEstimators, NonFiniteValuesAreSkipped) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<std::vector<float>> batches{{nan, -2.0f, inf, 1.0f, -inf}};
  for (const auto& [kind, factory] : range_estimator_registry()) {
    const ClipRange range = estimate(kind, batches, make_grid(8, false), false);
    EXPECT_TRUE(std::isfinite(range.min) && std::isfinite(range.max)) << parameters::enum_name(kind);
    // Search-based estimators may widen a little beyond the data, never towards infinity.
    EXPECT_GE(range.min, -3.0) << parameters::enum_name(kind);
    EXPECT_LE(range.max, 2.0) << parameters::enum_name(kind);
  }
  auto estimator = make_range_estimator(RangeEstimator::percentile, {}, make_grid(8, false), false);
  estimator->observe(std::vector<float>{nan, inf});
  EXPECT_FALSE(estimator->has_data());
}

TEST(RangeEstimators, PercentileOfUniformAndGaussianData) {
  SCOPED_TRACE(testing::seed_note());
  RangeEstimatorParameters params;
  params.percentile = 99.0;
  // Two batches with different ranges exercise the re-binning of the histogram.
  const ClipRange uniform = estimate(RangeEstimator::percentile,
                                     {uniform_values(1 << 19, 1, 0.0f, 0.5f), uniform_values(1 << 19, 2, 0.5f, 1.0f)},
                                     make_grid(8, false), false, params);
  const double bin = 1.0 / 2048;
  EXPECT_NEAR(uniform.max, 0.99, 3 * bin);
  EXPECT_NEAR(uniform.min, 0.01, 3 * bin);

  params.percentile = 97.5;
  const ClipRange gaussian =
      estimate(RangeEstimator::percentile, {normal_values(1 << 20, 3)}, make_grid(8, true), true, params);
  EXPECT_NEAR(gaussian.max, 1.96, 0.02);  // sampling error of a 2.5 % quantile at n = 2^20 is ~0.003
  EXPECT_NEAR(gaussian.min, -1.96, 0.02);

  params.percentile = 100.0;
  const ClipRange full = estimate(RangeEstimator::percentile, {{-2.0f, 0.0f, 3.0f}}, make_grid(8, true), true, params);
  EXPECT_DOUBLE_EQ(full.min, -2.0);
  EXPECT_DOUBLE_EQ(full.max, 3.0);
}

TEST(RangeEstimators, MseFindsTheBruteForceOptimum) {
  SCOPED_TRACE(testing::seed_note());
  const std::vector<float> data = normal_values(1 << 14, 4);
  const QuantGrid grid = make_grid(4, true);
  double max_abs = 0.0;
  for (float v : data) max_abs = std::max(max_abs, static_cast<double>(std::abs(v)));
  const double optimum = best_symmetric_width(data, grid, max_abs);
  // For Gaussian data at 4 bits the optimal clip is near 2.5 sigma (Banner et al. 2019).
  EXPECT_GT(optimum, 2.0);
  EXPECT_LT(optimum, 3.0);
  RangeEstimatorParameters params;
  for (auto method : {parameters::RangeOptMethod::grid, parameters::RangeOptMethod::golden_section}) {
    params.range_opt_method = method;
    params.num_candidates = 400;
    const ClipRange range = estimate(RangeEstimator::MSE, {data}, grid, true, params);
    const double width = std::max(-range.min, range.max);
    const double loss = quantization_squared_error(data, range, grid, true);
    const double best_loss = quantization_squared_error(data, {-optimum, optimum}, grid, true);
    EXPECT_NEAR(width, optimum, 0.03 * optimum) << parameters::enum_name(method);
    EXPECT_LE(loss, 1.01 * best_loss) << parameters::enum_name(method);
  }
}

TEST(RangeEstimators, MseKeepsTheFullRangeOfUniformData) {
  const std::vector<float> data = uniform_values(1 << 14, 5, 0.0f, 2.0f);
  const ClipRange symmetric = estimate(RangeEstimator::MSE, {data}, make_grid(8, true), true);
  EXPECT_NEAR(symmetric.max, 2.0, 0.02);
  const ClipRange asymmetric = estimate(RangeEstimator::MSE, {data}, make_grid(8, false), false);
  EXPECT_NEAR(asymmetric.max, 2.0, 0.03);
  EXPECT_NEAR(asymmetric.min, 0.0, 0.03);
}

TEST(RangeEstimators, SqnrWithGammaOneApproachesTheMseOptimum) {
  SCOPED_TRACE(testing::seed_note());
  const std::vector<float> data = normal_values(1 << 16, 6);
  const QuantGrid grid = make_grid(4, true);
  RangeEstimatorParameters params;
  params.sqnr_gamma = 1.0;
  const ClipRange range = estimate(RangeEstimator::sqnr, {data}, grid, true, params);
  double max_abs = 0.0;
  for (float v : data) max_abs = std::max(max_abs, static_cast<double>(std::abs(v)));
  const double optimum = best_symmetric_width(data, grid, max_abs);
  const double best_loss = quantization_squared_error(data, {-optimum, optimum}, grid, true);
  // Candidates are 1 % of max|x| apart and the loss is evaluated on histogram bins.
  EXPECT_LE(quantization_squared_error(data, range, grid, true), 1.03 * best_loss);
  // A larger gamma penalises clipping: the range can only grow.
  params.sqnr_gamma = 3.0;
  const ClipRange wider = estimate(RangeEstimator::sqnr, {data}, grid, true, params);
  EXPECT_GE(wider.max - wider.min, range.max - range.min);
}

TEST(RangeEstimators, SqnrAsymmetricFindsAShiftedRange) {
  const std::vector<float> data = uniform_values(1 << 15, 7, 1.0f, 3.0f);
  RangeEstimatorParameters params;
  params.sqnr_gamma = 1.0;
  const ClipRange range = estimate(RangeEstimator::sqnr, {data}, make_grid(8, false), false, params);
  // The grid must include 0, so the best asymmetric range is [0, ~3].
  EXPECT_NEAR(range.min, 0.0, 0.05);
  EXPECT_NEAR(range.max, 3.0, 0.05);
}

TEST(RangeEstimators, HistogramL2ClipsGaussianTailsButNotUniformData) {
  SCOPED_TRACE(testing::seed_note());
  const QuantGrid grid = make_grid(4, true);
  const std::vector<float> gaussian = normal_values(1 << 16, 8);
  const ClipRange clipped = estimate(RangeEstimator::histogram_l2, {gaussian}, grid, true);
  double min = 0.0, max = 0.0;
  for (float v : gaussian) {
    min = std::min(min, static_cast<double>(v));
    max = std::max(max, static_cast<double>(v));
  }
  EXPECT_LT(clipped.max - clipped.min, 0.9 * (max - min));
  EXPECT_LT(quantization_squared_error(gaussian, clipped, grid, false),
            quantization_squared_error(gaussian, {min, max}, grid, false));

  const std::vector<float> uniform = uniform_values(1 << 16, 9, -1.0f, 1.0f);
  const ClipRange full = estimate(RangeEstimator::histogram_l2, {uniform}, make_grid(8, true), true);
  EXPECT_NEAR(full.min, -1.0, 0.02);
  EXPECT_NEAR(full.max, 1.0, 0.02);
}

}  // namespace
}  // namespace tessera::simulator
