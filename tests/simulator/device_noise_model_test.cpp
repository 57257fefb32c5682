// Device noise models against their formulas: programming noise std at several g_r, the mean
// log drift ratio, read-noise std, custom drift tables, ReRAM times; z = 5 bounds.
#include "tessera/simulator/noise/device_noise_model.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "expect_error.hpp"
#include "reference/statistics.hpp"
#include "tessera/simulator/noise/conductance_converter.hpp"
#include "test_seed.hpp"

namespace tessera::simulator {
namespace {

constexpr double kZ = 5.0;
constexpr std::size_t kDevices = 200000;

void expect_std(const std::vector<double>& values, double sigma, const char* what) {
  const double n = static_cast<double>(values.size());
  EXPECT_NEAR(reference::stddev_of(values) / sigma, 1.0, kZ / std::sqrt(2.0 * (n - 1))) << what;
}

TEST(PcmLikeNoiseModel, ProgrammingNoiseStdMatchesThePolynomial) {
  SCOPED_TRACE(tessera::testing::seed_note());
  const parameters::PCMLikeNoiseModel config;  // g_max 25, prog_coeff (0.26348, 1.9650, -1.1731)
  const auto model = make_device_noise_model(config);
  for (double g_r : {0.1, 0.5, 0.9}) {
    const std::vector<float> target(kDevices, static_cast<float>(25.0 * g_r));
    std::vector<float> programmed(kDevices);
    model->program(target, programmed, RandomStream(tessera::testing::test_seed()).derive(std::uint64_t(g_r * 10)));
    std::vector<double> deviation(kDevices);
    for (std::size_t n = 0; n < kDevices; ++n) deviation[n] = programmed[n] - target[n];
    const double sigma = 0.26348 + 1.9650 * g_r - 1.1731 * g_r * g_r;
    EXPECT_NEAR(reference::mean_of(deviation), 0.0, kZ * sigma / std::sqrt(kDevices)) << "g_r " << g_r;
    expect_std(deviation, sigma, "programming noise");
  }
}

// E|X| for X ~ N(mu, sigma): the mean of the folded-normal drift exponent.
double folded_normal_mean(double mu, double sigma) {
  return sigma * std::sqrt(2.0 / M_PI) * std::exp(-mu * mu / (2 * sigma * sigma)) +
         mu * std::erf(mu / (sigma * std::sqrt(2.0)));
}

TEST(PcmLikeNoiseModel, MeanLogDriftRatioIsMinusMeanNuTimesLogTime) {
  SCOPED_TRACE(tessera::testing::seed_note());
  parameters::PCMLikeNoiseModel config;
  config.read_noise_scale = 0.0;  // isolate drift
  const auto model = make_device_noise_model(config);
  const double g_r = 0.4, t_inference = 86400.0;
  const std::vector<float> g(kDevices, static_cast<float>(25.0 * g_r));
  std::vector<float> nu(kDevices), drifted(kDevices);
  model->drift_coefficients(g, nu, RandomStream(tessera::testing::test_seed()).derive("nu"));
  model->drift(g, nu, t_inference, drifted, RandomStream(tessera::testing::test_seed()).derive("read"));
  const double mu = std::clamp(-0.0155 * std::log(g_r) + 0.0244, 0.049, 0.1);
  const double sigma = std::clamp(-0.0125 * std::log(g_r) - 0.0059, 0.008, 0.045);
  const double log_time = std::log((t_inference + 20.0) / 20.0);
  std::vector<double> log_ratio(kDevices);
  for (std::size_t n = 0; n < kDevices; ++n) log_ratio[n] = std::log(drifted[n] / g[n]);
  EXPECT_NEAR(reference::mean_of(log_ratio), -folded_normal_mean(mu, sigma) * log_time,
              kZ * reference::stddev_of(log_ratio) / std::sqrt(kDevices));
}

TEST(PcmLikeNoiseModel, ReadNoiseStdIsQsTimesSqrtLogTime) {
  SCOPED_TRACE(tessera::testing::seed_note());
  parameters::PCMLikeNoiseModel config;
  config.drift_scale = 0.0;  // isolate read noise
  const auto model = make_device_noise_model(config);
  for (double g_r : {0.05, 0.5}) {
    const std::vector<float> g(kDevices, static_cast<float>(25.0 * g_r));
    const std::vector<float> nu(kDevices, 0.0f);
    std::vector<float> read(kDevices);
    model->drift(g, nu, 3600.0, read, RandomStream(tessera::testing::test_seed()).derive("read"));
    std::vector<double> relative(kDevices);
    for (std::size_t n = 0; n < kDevices; ++n) relative[n] = (read[n] - g[n]) / g[n];
    const double t = 3600.0 + 20.0, t_read = 250e-9;
    const double q_s = std::min(0.0088 / std::max(std::pow(g_r, 0.65), 1e-3), 0.2);
    expect_std(relative, q_s * std::sqrt(std::log((t + t_read) / (2 * t_read))), "read noise");
  }
}

TEST(CustomDriftPCMLikeNoiseModel, DriftExponentsFollowTheInterpolatedTable) {
  SCOPED_TRACE(tessera::testing::seed_note());
  parameters::CustomDriftPCMLikeNoiseModel config;
  config.custom_drift_model = {{0.0, 10.0, 20.0}, {0.2, 0.1, 0.05}, {0.01, 0.01, 0.01}};
  const auto model = make_device_noise_model(config);
  const std::vector<float> g(kDevices, 15.0f);  // halfway: mean 0.075, std 0.01
  std::vector<float> nu(kDevices);
  model->drift_coefficients(g, nu, RandomStream(tessera::testing::test_seed()));
  std::vector<double> values(nu.begin(), nu.end());
  EXPECT_NEAR(reference::mean_of(values), 0.075, kZ * 0.01 / std::sqrt(kDevices));
  expect_std(values, 0.01, "nu spread");
}

TEST(StateIndependentNoiseModel, ConstantProgrammingNoiseAndProportionalReadNoise) {
  SCOPED_TRACE(tessera::testing::seed_note());
  parameters::StateIndependentNoiseModel config;  // prog 0.2 uS, rho = 1
  config.drift_scale = 0.0;
  const auto model = make_device_noise_model(config);
  const std::vector<float> g(kDevices, 10.0f);
  std::vector<float> programmed(kDevices), read(kDevices);
  model->program(g, programmed, RandomStream(tessera::testing::test_seed()));
  std::vector<double> deviation(kDevices);
  for (std::size_t n = 0; n < kDevices; ++n) deviation[n] = programmed[n] - g[n];
  expect_std(deviation, 0.2, "programming");
  const std::vector<float> nu(kDevices, 0.0f);
  model->drift(g, nu, 100.0, read, RandomStream(tessera::testing::test_seed()).derive("read"));
  for (std::size_t n = 0; n < kDevices; ++n) deviation[n] = read[n] - g[n];
  const double t = 120.0, t_read = 250e-9;
  expect_std(deviation, 10.0 / 25.0 * std::sqrt(std::log((t + t_read) / (2 * t_read))), "read");
}

TEST(ReRamWan2022NoiseModel, RedrawsAtMeasuredTimesOnly) {
  SCOPED_TRACE(tessera::testing::seed_note());
  const parameters::ReRamWan2022NoiseModel config;  // g_max 25, coefficients fitted at 40 uS
  const auto model = make_device_noise_model(config);
  const std::vector<float> g(kDevices, 12.5f);
  std::vector<float> coefficients(kDevices), day(kDevices);
  model->drift_coefficients(g, coefficients, RandomStream(1));
  model->drift(g, coefficients, 86400.0, day, RandomStream(tessera::testing::test_seed()));
  std::vector<double> deviation(kDevices);
  for (std::size_t n = 0; n < kDevices; ++n) deviation[n] = day[n] - g[n];
  const double g_r = 0.5;
  const double sigma =
      (0.701 + 22.086 * g_r - 50.773 * g_r * g_r + 47.095 * std::pow(g_r, 3) - 16.458 * std::pow(g_r, 4)) * 25.0 / 40.0;
  expect_std(deviation, sigma, "1-day deviation");
  tessera::testing::expect_error<std::invalid_argument>(
      [&] { model->drift(g, coefficients, 3600.0, day, RandomStream(1)); },
      "ReRamWan2022NoiseModel has measurements only at t_inference = 1, 86400, 172800 s, not at 3600 s");
}

TEST(ConductanceConverter, RoundTripsAndFillsLowerPairsFirst) {
  const std::vector<float> weights{-1.0f, -0.3f, 0.0f, 0.3f, 1.0f};
  for (const parameters::ConductanceConverter& config :
       {parameters::ConductanceConverter{parameters::SinglePairConductanceConverter{25.0, 2.0}},
        parameters::ConductanceConverter{parameters::DualPairConductanceConverter{}}}) {
    const ConductanceConverter converter(config);
    std::vector<float> g;
    const double scale = converter.to_conductances(weights, g);
    ASSERT_EQ(g.size(), weights.size() * static_cast<std::size_t>(converter.devices_per_weight()));
    for (float value : g) {
      EXPECT_GE(value, converter.g_min());
      EXPECT_LE(value, converter.g_max());
    }
    std::vector<float> back(weights.size());
    converter.to_weights(g, scale, back);
    for (std::size_t n = 0; n < weights.size(); ++n) EXPECT_NEAR(back[n], weights[n], 1e-6f);
  }
  // Dual pair f = (1, 3), g in [0, 25]: full scale 100 uS; w = 0.3 -> 30 uS = 25 (pair 0) + 3 * 5/3 (pair 1).
  const ConductanceConverter dual(parameters::DualPairConductanceConverter{});
  std::vector<float> g;
  dual.to_conductances(weights, g);
  EXPECT_FLOAT_EQ(g[0 * 5 + 3], 25.0f);        // g+ of pair 0
  EXPECT_FLOAT_EQ(g[2 * 5 + 3], 5.0f / 3.0f);  // g+ of pair 1
  EXPECT_FLOAT_EQ(g[1 * 5 + 3], 0.0f);         // g- of pair 0
}

}  // namespace
}  // namespace tessera::simulator
