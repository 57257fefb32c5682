// Branch-free float log and exp for element-wise physics, so that loops over them vectorise
// (libm's scalar calls do not) and CPU and GPU evaluate the same arithmetic. Both are within
// a few ulp of libm over their domains (tested in tests/simulator/fast_math_test.cpp).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define TESSERA_HOST_DEVICE __host__ __device__
#else
#define TESSERA_HOST_DEVICE
#endif

namespace tessera::simulator {

/// Branch-free clamp (std::clamp's reference semantics keep GCC from vectorising some loops).
TESSERA_HOST_DEVICE inline float clamp_float(float x, float low, float high) {
  x = x < low ? low : x;
  return x > high ? high : x;
}

/// nearbyint(x) in the default rounding mode (to nearest, ties to even) without a libm call,
/// which the portable build (no SSE4.1 rounding instruction) would make per element: |x| below
/// 2^23 plus 2^23 lands where floats are whole numbers, so the add rounds it; larger |x|, NaN
/// and Inf are already whole or themselves. The sign goes back on afterwards (-0.3 -> -0.0).
TESSERA_HOST_DEVICE inline float round_nearest_even(float x) {
  constexpr float kWhole = 8388608.0f;  // 2^23
  std::uint32_t bits = 0;
  __builtin_memcpy(&bits, &x, sizeof bits);
  const std::uint32_t sign = bits & 0x80000000u;
  bits ^= sign;
  float magnitude = 0.0f;
  __builtin_memcpy(&magnitude, &bits, sizeof magnitude);
  const float rounded = (magnitude + kWhole) - kWhole;
  __builtin_memcpy(&bits, &rounded, sizeof bits);
  bits |= sign;
  float result = 0.0f;
  __builtin_memcpy(&result, &bits, sizeof result);
  return magnitude < kWhole ? result : x;
}

/// floor(x) by way of round_nearest_even (the same reason).
TESSERA_HOST_DEVICE inline float floor_float(float x) {
  const float rounded = round_nearest_even(x);
  return rounded > x ? rounded - 1.0f : rounded;
}

/// ln(x) for x >= 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s),
/// s = (m - 1) / (m + 1), |s| <= 0.172, by its series to s^9 (truncation < 1e-9). Zero and
/// subnormal inputs are raised to the smallest normal float (ln = -87.3) on the bit pattern,
/// which keeps loops vectorisable where a float max before the call does not.
TESSERA_HOST_DEVICE inline float log_positive(float x) {
  std::uint32_t bits = 0;
  __builtin_memcpy(&bits, &x, sizeof bits);
  bits = bits < 0x00800000u ? 0x00800000u : bits;
  int exponent = static_cast<int>((bits >> 23) & 0xffu) - 127;
  const std::uint32_t mantissa_bits = (bits & 0x7fffffu) | 0x3f800000u;  // m in [1, 2)
  float m = 0.0f;
  __builtin_memcpy(&m, &mantissa_bits, sizeof m);
  const bool high = m > 1.41421356f;
  m = high ? m * 0.5f : m;
  exponent += high ? 1 : 0;
  const float s = (m - 1.0f) / (m + 1.0f);
  const float s2 = s * s;
  const float series = s * (2.0f + s2 * (0.666666667f + s2 * (0.4f + s2 * (0.285714286f + s2 * 0.222222222f))));
  const auto e = static_cast<float>(exponent);
  return e * 0.693145751953125f + (e * 1.428606820309417e-6f + series);  // ln 2 split for accuracy
}

/// e^x for x in [-87, 88]: x = k ln 2 + r with |r| <= ln 2 / 2, e^r by its Taylor series to r^7
/// (truncation < 2e-9), scaled by 2^k through the exponent bits. Clamped outside that range.
TESSERA_HOST_DEVICE inline float exp_float(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float k = round_nearest_even(x * 1.44269504f);
  const float r = (x - k * 0.693145751953125f) - k * 1.428606820309417e-6f;
  const float series =
      1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 +
                                          r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
  const std::uint32_t scale_bits = static_cast<std::uint32_t>(static_cast<int>(k) + 127) << 23;
  float scale = 0.0f;
  __builtin_memcpy(&scale, &scale_bits, sizeof scale);
  return series * scale;
}

}  // namespace tessera::simulator
