#include "tessera/simulator/fast_math.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

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

// Bit for bit libm's nearbyint and floor (round to nearest, ties to even, the default mode) over
// every 61st float bit pattern, both signs, plus the cases where the trick could slip: ties,
// the edges of 2^22..2^24, zeros, infinities and NaN.
TEST(FastMath, RoundingIsLibmsBitForBit) {
  auto same = [](float a, float b) {
    std::uint32_t x = 0, y = 0;
    std::memcpy(&x, &a, sizeof x);
    std::memcpy(&y, &b, sizeof y);
    return x == y || (std::isnan(a) && std::isnan(b));
  };
  auto check = [&](float x) {
    ASSERT_TRUE(same(round_nearest_even(x), std::nearbyint(x))) << x << " -> " << round_nearest_even(x);
    ASSERT_TRUE(same(floor_float(x), std::floor(x))) << x << " -> " << floor_float(x);
  };
  for (std::uint64_t bits = 0; bits <= 0xFFFFFFFFull; bits += 61) {
    const auto pattern = static_cast<std::uint32_t>(bits);
    float x = 0.0f;
    std::memcpy(&x, &pattern, sizeof x);
    check(x);
  }
  const float inf = std::numeric_limits<float>::infinity();
  for (float x : {0.0f, -0.0f, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 0.49999997f, 4194303.5f, 4194304.5f,
                  8388607.5f, -8388607.5f, 8388608.0f, 8388609.0f, 16777215.0f, 16777217.0f, inf, -inf,
                  std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min(),
                  -std::numeric_limits<float>::denorm_min()}) {
    check(x);
  }
}

}  // namespace
}  // namespace tessera::simulator
