#include "tessera/simulator/fast_math.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace tessera::simulator {
namespace {

TEST(FastMath, LogIsWithinAFewUlpOfLibm) {
  for (float x = 1e-30f; x < 1e30f; x *= 1.0137f) {
    const double exact = std::log(static_cast<double>(x));
    ASSERT_NEAR(log_positive(x), exact, 3e-7 * std::abs(exact) + 2e-7) << x;
  }
}

TEST(FastMath, ExpIsWithinAFewUlpOfLibm) {
  for (float x = -87.0f; x < 88.0f; x += 0.0137f) {
    const double exact = std::exp(static_cast<double>(x));
    ASSERT_NEAR(exp_float(x) / exact, 1.0, 5e-7) << x;
  }
  EXPECT_EQ(exp_float(0.0f), 1.0f);
}

}  // namespace
}  // namespace tessera::simulator
