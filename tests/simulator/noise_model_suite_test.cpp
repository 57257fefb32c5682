// The same checks for every noise model of parameters::NoiseModel: the test type list is the
// variant's own alternatives, and each needs a NoiseTraits entry here (its programming-noise
// formula and how to silence it), so a model added to the variant fails to compile until it is
// tested. Per model: the same stream gives the same conductances and another stream others;
// programming noise is unbiased with the formula's std (z = 5); conductances never go negative
// or NaN; with its noise scales at 0 a model programs and drifts to exactly the targets.
#include <gtest/gtest.h>

#include <cmath>
#include <variant>
#include <vector>

#include "reference/statistics.hpp"
#include "tessera/simulator/noise/device_noise_model.hpp"
#include "test_seed.hpp"

namespace tessera::simulator {
namespace {

constexpr double kZ = 5.0;
constexpr std::size_t kDevices = 100000;
constexpr double kGMax = 25.0;  // every model's default converter

template <class Model>
struct NoiseTraits;  // no default: a model without an entry does not compile

double polynomial(const std::vector<double>& coefficients, double x) {
  double value = 0.0;
  for (auto c = coefficients.rbegin(); c != coefficients.rend(); ++c) value = value * x + *c;
  return value;
}

template <>
struct NoiseTraits<parameters::PCMLikeNoiseModel> {
  static constexpr double kTime = 86400.0;  // any time after programming
  static double programming_std(const parameters::PCMLikeNoiseModel& m, double g_r) {
    return polynomial(m.prog_coeff, g_r) * kGMax / m.prog_coeff_g_max_reference * m.prog_noise_scale;
  }
  static void silence(parameters::PCMLikeNoiseModel& m) {
    m.prog_noise_scale = m.read_noise_scale = m.drift_scale = 0.0;
  }
};
template <>
struct NoiseTraits<parameters::CustomDriftPCMLikeNoiseModel> : NoiseTraits<parameters::PCMLikeNoiseModel> {};
template <>
struct NoiseTraits<parameters::StateIndependentNoiseModel> {
  static constexpr double kTime = 86400.0;
  static double programming_std(const parameters::StateIndependentNoiseModel& m, double g_r) {
    return polynomial(m.prog_coeff, g_r) * m.prog_noise_scale;  // in uS, not rescaled
  }
  static void silence(parameters::StateIndependentNoiseModel& m) {
    m.prog_noise_scale = m.read_noise_scale = m.drift_scale = 0.0;
  }
};
template <>
struct NoiseTraits<parameters::ReRamWan2022NoiseModel> {
  static constexpr double kTime = 86400.0;  // one of the measured times
  static double programming_std(const parameters::ReRamWan2022NoiseModel& m, double g_r) {
    return polynomial(m.coeff_dic.begin()->second, g_r) * kGMax / m.coeff_g_max_reference * m.noise_scale;
  }
  static void silence(parameters::ReRamWan2022NoiseModel& m) { m.noise_scale = 0.0; }
};
template <>
struct NoiseTraits<parameters::NullNoiseModel> {
  static constexpr double kTime = 86400.0;
  static double programming_std(const parameters::NullNoiseModel&, double) { return 0.0; }
  static void silence(parameters::NullNoiseModel&) {}
};

template <class Variant>
struct TypesOf;
template <class... Models>
struct TypesOf<std::variant<Models...>> {
  using type = ::testing::Types<Models...>;
};

template <class Model>
class EveryNoiseModel : public ::testing::Test {
 protected:
  struct Run {
    std::vector<float> programmed, drifted;
  };
  static Run run(const Model& config, const std::vector<float>& target, std::uint64_t seed) {
    const auto model = make_device_noise_model(config);
    const RandomStream stream = RandomStream(seed).derive("devices");
    Run result{std::vector<float>(target.size()), std::vector<float>(target.size())};
    std::vector<float> coefficients(target.size());
    model->program(target, result.programmed, stream.derive("program"));
    model->drift_coefficients(target, coefficients, stream.derive("nu"));
    model->drift(result.programmed, coefficients, NoiseTraits<Model>::kTime, result.drifted, stream.derive("read"));
    return result;
  }
  static std::vector<float> targets(std::size_t count) {  // g_r from 0.01 to 1
    std::vector<float> g(count);
    for (std::size_t n = 0; n < count; ++n) g[n] = static_cast<float>(kGMax * (0.01 + 0.99 * (n % 100) / 99.0));
    return g;
  }
};
TYPED_TEST_SUITE(EveryNoiseModel, TypesOf<parameters::NoiseModel>::type);

TYPED_TEST(EveryNoiseModel, SameStreamSameConductancesOtherStreamOthers) {
  const TypeParam config{};
  const std::vector<float> target = TestFixture::targets(4096);
  const auto first = TestFixture::run(config, target, 11);
  const auto again = TestFixture::run(config, target, 11);
  EXPECT_EQ(first.programmed, again.programmed);
  EXPECT_EQ(first.drifted, again.drifted);
  if (NoiseTraits<TypeParam>::programming_std(config, 0.5) > 0.0) {
    EXPECT_NE(TestFixture::run(config, target, 12).programmed, first.programmed);
  }
}

TYPED_TEST(EveryNoiseModel, ProgrammingNoiseIsUnbiasedWithTheFormulasStd) {
  SCOPED_TRACE(tessera::testing::seed_note());
  const TypeParam config{};
  for (double g_r : {0.3, 0.7}) {  // far enough from 0 that the clamp at 0 S does not bias
    const std::vector<float> target(kDevices, static_cast<float>(kGMax * g_r));
    const auto result = TestFixture::run(config, target, tessera::testing::test_seed());
    std::vector<double> deviation(kDevices);
    for (std::size_t n = 0; n < kDevices; ++n) deviation[n] = result.programmed[n] - target[n];
    const double sigma = NoiseTraits<TypeParam>::programming_std(config, g_r);
    if (sigma == 0.0) {
      for (double d : deviation) ASSERT_EQ(d, 0.0);
      continue;
    }
    EXPECT_NEAR(reference::mean_of(deviation), 0.0, kZ * sigma / std::sqrt(kDevices)) << "g_r " << g_r;
    EXPECT_NEAR(reference::stddev_of(deviation) / sigma, 1.0, kZ / std::sqrt(2.0 * (kDevices - 1))) << "g_r " << g_r;
  }
}

TYPED_TEST(EveryNoiseModel, ConductancesStayFiniteAndNonNegative) {
  const TypeParam config{};
  std::vector<float> target = TestFixture::targets(20000);
  target[0] = 0.0f;  // the lowest state, where noise would push below 0 S
  const auto result = TestFixture::run(config, target, 5);
  for (std::size_t n = 0; n < target.size(); ++n) {
    ASSERT_TRUE(std::isfinite(result.programmed[n]) && result.programmed[n] >= 0.0f) << n;
    ASSERT_TRUE(std::isfinite(result.drifted[n]) && result.drifted[n] >= 0.0f) << n;
  }
}

TYPED_TEST(EveryNoiseModel, WithItsNoiseScalesAtZeroTheTargetsComeBackExactly) {
  TypeParam config{};
  NoiseTraits<TypeParam>::silence(config);
  const std::vector<float> target = TestFixture::targets(4096);
  const auto result = TestFixture::run(config, target, 7);
  EXPECT_EQ(result.programmed, target);
  EXPECT_EQ(result.drifted, target);
}

}  // namespace
}  // namespace tessera::simulator
