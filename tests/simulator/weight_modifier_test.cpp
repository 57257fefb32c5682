// Weight modifiers: each type against its formula (exact where it is deterministic, sample
// statistics with z = 5 bounds where it draws noise), reproducible from the stream.
#include "tessera/simulator/weight_modifier.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "expect_error.hpp"
#include "reference/statistics.hpp"
#include "test_seed.hpp"

namespace tessera::simulator {
namespace {

using parameters::WeightModifierParameter;
using parameters::WeightModifierType;
using reference::mean_of;
using reference::stddev_of;
using tessera::testing::expect_error;
constexpr double kZ = 5.0;
constexpr std::int64_t kRows = 200;
constexpr std::int64_t kColumns = 250;

// Weights spread uniformly over [-1, 1] (amax = 1 exactly: the last one is set to 1).
Tensor spread_weights() {
  Tensor w({kRows, kColumns});
  RandomStream(tessera::testing::test_seed(), 70).fill_uniform(w.values());
  for (float& value : w.values()) value = 2.0f * value - 1.0f;
  w[w.size() - 1] = 1.0f;
  return w;
}

std::vector<double> differences(const Tensor& out, const Tensor& w) {
  std::vector<double> values;
  for (std::int64_t k = 0; k < w.size(); ++k) values.push_back(double{out[k]} - w[k]);
  return values;
}

Tensor modified(const Tensor& w, const WeightModifierParameter& modifier, std::uint64_t stream = 1) {
  Tensor out;
  modify_weights(w, out, modifier, RandomStream(tessera::testing::test_seed(), stream));
  return out;
}

TEST(WeightModifier, NoneCopiesTheWeights) {
  const Tensor w = spread_weights();
  const Tensor out = modified(w, WeightModifierParameter{});
  for (std::int64_t k = 0; k < w.size(); ++k) ASSERT_EQ(out[k], w[k]);
}

TEST(WeightModifier, DiscretizeRoundsToBinsOfTheFullRange) {
  const Tensor w = spread_weights();
  WeightModifierParameter modifier;
  modifier.type = WeightModifierType::DISCRETIZE;
  modifier.res = 0.1;  // bin = 0.1 * 2 * amax = 0.2
  const Tensor out = modified(w, modifier);
  for (std::int64_t k = 0; k < w.size(); ++k) {
    const double steps = out[k] / 0.2;
    ASSERT_NEAR(steps, std::round(steps), 1e-4) << k;
    ASSERT_LE(std::abs(out[k] - w[k]), 0.1 + 1e-6) << k;
  }
  modifier.res = 10.0;  // ten steps: the same bins
  const Tensor by_steps = modified(w, modifier);
  for (std::int64_t k = 0; k < w.size(); ++k) ASSERT_EQ(by_steps[k], out[k]);
}

TEST(WeightModifier, AddNormalAddsNoiseScaledByAmax) {
  Tensor w = spread_weights();
  for (float& value : w.values()) value *= 3.0f;  // amax = 3
  WeightModifierParameter modifier;
  modifier.type = WeightModifierType::ADD_NORMAL;
  modifier.std_dev = 0.05;
  const Tensor out = modified(w, modifier);
  const std::vector<double> residuals = differences(out, w);
  const double n = static_cast<double>(residuals.size());
  const double expected = 0.05 * 3.0;
  EXPECT_NEAR(mean_of(residuals), 0.0, kZ * expected / std::sqrt(n));
  EXPECT_NEAR(stddev_of(residuals), expected, kZ * expected / std::sqrt(2.0 * n));
}

TEST(WeightModifier, AssumedWmaxReplacesTheActualMaximum) {
  const Tensor w = spread_weights();
  WeightModifierParameter modifier;
  modifier.type = WeightModifierType::ADD_NORMAL;
  modifier.std_dev = 0.05;
  modifier.rel_to_actual_wmax = false;
  modifier.assumed_wmax = 4.0;
  const Tensor out = modified(w, modifier);
  const std::vector<double> residuals = differences(out, w);
  EXPECT_NEAR(stddev_of(residuals), 0.2, kZ * 0.2 / std::sqrt(2.0 * static_cast<double>(residuals.size())));
}

TEST(WeightModifier, MultNormalIsRelativeToEachWeight) {
  const Tensor w = spread_weights();
  WeightModifierParameter modifier;
  modifier.type = WeightModifierType::MULT_NORMAL;
  modifier.std_dev = 0.1;
  const Tensor out = modified(w, modifier);
  std::vector<double> relative;
  for (std::int64_t k = 0; k < w.size(); ++k) {
    if (std::abs(w[k]) > 0.05f) relative.push_back((out[k] - w[k]) / w[k]);
  }
  const double n = static_cast<double>(relative.size());
  EXPECT_NEAR(mean_of(relative), 0.0, kZ * 0.1 / std::sqrt(n));
  EXPECT_NEAR(stddev_of(relative), 0.1, kZ * 0.1 / std::sqrt(2.0 * n));
}

TEST(WeightModifier, PolyNoiseFollowsThePolynomialInTheWeight) {
  const Tensor w = spread_weights();
  WeightModifierParameter modifier;
  modifier.type = WeightModifierType::POLY;
  modifier.std_dev = 1.0;
  modifier.coeffs = {0.01, 0.1, 0.05};
  const Tensor out = modified(w, modifier);
  std::vector<double> standardised;
  for (std::int64_t k = 0; k < w.size(); ++k) {
    const double a = std::abs(w[k]);
    standardised.push_back((out[k] - w[k]) / (0.01 + 0.1 * a + 0.05 * a * a));
  }
  const double n = static_cast<double>(standardised.size());
  EXPECT_NEAR(mean_of(standardised), 0.0, kZ / std::sqrt(n));
  EXPECT_NEAR(stddev_of(standardised), 1.0, kZ / std::sqrt(2.0 * n));
}

TEST(WeightModifier, ProgNoiseKeepsTheSignAndScalesWithGmax) {
  const Tensor w = spread_weights();
  WeightModifierParameter modifier;
  modifier.type = WeightModifierType::PROG_NOISE;
  modifier.std_dev = 1.0;
  modifier.g_max = 25.0;
  modifier.coeffs = {1.0, 0.0, 0.0};  // sigma = amax * std_dev / g_max = 0.04 everywhere
  const Tensor out = modified(w, modifier);
  std::vector<double> residuals;
  for (std::int64_t k = 0; k < w.size(); ++k) {
    if (w[k] != 0.0f) {
      ASSERT_EQ(std::signbit(out[k]), std::signbit(w[k])) << k;
    }
    if (std::abs(w[k]) > 0.5f) residuals.push_back(out[k] - w[k]);  // far from 0: no sign folding
  }
  EXPECT_NEAR(stddev_of(residuals), 0.04, kZ * 0.04 / std::sqrt(2.0 * static_cast<double>(residuals.size())));
}

TEST(WeightModifier, DropConnectZeroesTheExpectedFraction) {
  const Tensor w = spread_weights();
  WeightModifierParameter modifier;
  modifier.type = WeightModifierType::DROP_CONNECT;
  modifier.pdrop = 0.3;
  const Tensor out = modified(w, modifier);
  double dropped = 0;
  for (std::int64_t k = 0; k < w.size(); ++k) {
    if (out[k] == 0.0f) {
      ++dropped;
    } else {
      ASSERT_EQ(out[k], w[k]);
    }
  }
  const double n = static_cast<double>(w.size());
  EXPECT_NEAR(dropped / n, 0.3, kZ * std::sqrt(0.3 * 0.7 / n));
}

TEST(WeightModifier, DorefaMapsIntoTheClipRangeMonotonically) {
  const Tensor w = spread_weights();
  WeightModifierParameter modifier;
  modifier.type = WeightModifierType::DOREFA;
  modifier.dorefa_clip = 0.6;
  const Tensor out = modified(w, modifier);
  for (std::int64_t k = 0; k < w.size(); ++k) {
    ASSERT_NEAR(out[k], std::tanh(w[k]) * 0.6 / std::tanh(1.0), 1e-6) << k;
  }
  EXPECT_NEAR(out[w.size() - 1], 0.6, 1e-6);  // amax maps onto the clip value
}

TEST(WeightModifier, CopyLastColumnLeavesTheBiasColumnAlone) {
  Tensor w = spread_weights();
  for (std::int64_t i = 0; i < kRows; ++i) w[i * kColumns + kColumns - 1] = 50.0f;  // not part of amax
  WeightModifierParameter modifier;
  modifier.type = WeightModifierType::ADD_NORMAL;
  modifier.std_dev = 0.01;
  modifier.copy_last_column = true;
  const Tensor out = modified(w, modifier);
  double largest_change = 0.0;
  for (std::int64_t i = 0; i < kRows; ++i) {
    ASSERT_EQ(out[i * kColumns + kColumns - 1], 50.0f);
    largest_change = std::max(largest_change, double{std::abs(out[i * kColumns] - w[i * kColumns])});
  }
  EXPECT_LT(largest_change, 0.01 * 1.0 * 6.0);  // amax of the other columns (<= 1), not 50
}

TEST(WeightModifier, SameStreamSameResultOtherStreamOtherResult) {
  const Tensor w = spread_weights();
  WeightModifierParameter modifier;
  modifier.type = WeightModifierType::ADD_NORMAL;
  modifier.std_dev = 0.1;
  const Tensor a = modified(w, modifier, 5);
  const Tensor b = modified(w, modifier, 5);
  const Tensor c = modified(w, modifier, 6);
  int changed = 0;
  for (std::int64_t k = 0; k < w.size(); ++k) {
    ASSERT_EQ(a[k], b[k]);
    changed += a[k] != c[k];
  }
  EXPECT_GT(changed, w.size() / 2);
}

TEST(WeightModifier, PerBatchSampleIsRefused) {
  WeightModifierParameter modifier;
  modifier.type = WeightModifierType::ADD_NORMAL;
  modifier.per_batch_sample = true;
  expect_error<std::invalid_argument>([&] { modified(spread_weights(), modifier); },
                                      "modifier.per_batch_sample = true is not simulated yet");
}

}  // namespace
}  // namespace tessera::simulator
