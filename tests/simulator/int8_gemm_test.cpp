// Integer products: the VNNI kernel and the portable loop give the exact int32 sums of a
// 64-bit reference on ragged shapes; int8_linear equals its fake-quant twin (float product of
// the dequantized operands) bit for bit where that float arithmetic is exact, and to float
// rounding elsewhere.
#include "tessera/simulator/int8_gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "expect_error.hpp"
#include "tessera/simulator/matmul.hpp"
#include "tessera/simulator/random_stream.hpp"
#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {
namespace {

struct Operands {
  std::vector<std::uint8_t> a;
  std::vector<std::int8_t> w;
};

// Uniform bytes from the counter-based stream: a in [0, 255], w in [w_low, w_high].
Operands random_operands(std::int64_t rows, std::int64_t out, std::int64_t in, std::uint64_t seed, int w_low = -128,
                         int w_high = 127, int a_high = 255) {
  std::vector<float> u(static_cast<std::size_t>(rows * in + out * in));
  RandomStream(seed).fill_uniform(u);
  Operands o;
  for (std::int64_t k = 0; k < rows * in; ++k) {
    o.a.push_back(static_cast<std::uint8_t>(std::floor(u[static_cast<std::size_t>(k)] * (a_high + 1))));
  }
  for (std::int64_t k = 0; k < out * in; ++k) {
    const float v = u[static_cast<std::size_t>(rows * in + k)];
    o.w.push_back(static_cast<std::int8_t>(w_low + std::floor(v * static_cast<float>(w_high - w_low + 1))));
  }
  return o;
}

TEST(Int8Gemm, BothKernelsGiveTheExactSumsOnRaggedShapes) {
  // rows not a multiple of 8, out not of 16, in not of 4, and the extremes -128 and 255.
  for (const auto& [rows, out, in] : std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>{
           {1, 1, 1}, {3, 5, 7}, {8, 16, 4}, {17, 33, 101}, {9, 40, 1024}, {64, 70, 258}}) {
    const Operands o = random_operands(rows, out, in, static_cast<std::uint64_t>(rows * 1000 + out));
    const PackedInt8Weights w(o.w, out, in);
    std::vector<std::int32_t> fast(static_cast<std::size_t>(rows * out)), portable(fast.size());
    int8_gemm(o.a, rows, w, fast);
    int8_gemm(o.a, rows, w, portable, Int8Kernel::portable);
    for (std::int64_t m = 0; m < rows; ++m) {
      for (std::int64_t n = 0; n < out; ++n) {
        std::int64_t sum = 0;
        for (std::int64_t k = 0; k < in; ++k) sum += std::int64_t{o.a[m * in + k]} * o.w[n * in + k];
        ASSERT_EQ(fast[m * out + n], sum) << rows << "x" << out << "x" << in << " at " << m << "," << n;
        ASSERT_EQ(portable[m * out + n], sum);
      }
    }
  }
  std::cout << "int8_gemm kernel on this CPU: " << (int8_gemm_uses_vnni() ? "AVX512-VNNI" : "portable") << "\n";
}

// The fake-quant twin: dequantize both operands to float and multiply with the float GEMM.
Tensor fake_quant_linear(const Operands& o, std::int64_t rows, std::int64_t out, std::int64_t in, float a_scale,
                         std::int32_t a_zero, const std::vector<float>& w_scales, const std::vector<float>& bias) {
  Tensor x({rows, in}), weights({out, in}), y({rows, out});
  for (std::int64_t k = 0; k < rows * in; ++k) x[k] = static_cast<float>(o.a[k] - a_zero) * a_scale;
  for (std::int64_t n = 0; n < out; ++n)
    for (std::int64_t k = 0; k < in; ++k) weights[n * in + k] = static_cast<float>(o.w[n * in + k]) * w_scales[n];
  matmul_transposed(x, weights, y);
  for (std::int64_t m = 0; m < rows; ++m)
    for (std::int64_t n = 0; n < out; ++n) y[m * out + n] += bias[n];
  return y;
}

// The layer under test on the same operands.
std::vector<float> integer_linear(const Operands& o, std::int64_t rows, std::int64_t out, std::int64_t in,
                                  float a_scale, std::int32_t a_zero, const std::vector<float>& w_scales,
                                  const std::vector<float>& bias) {
  const PackedInt8Weights w(o.w, out, in);
  std::vector<float> y(static_cast<std::size_t>(rows * out));
  int8_linear(o.a, rows, w, a_scale, a_zero, w_scales, bias, y);
  return y;
}

TEST(Int8Gemm, LinearEqualsItsFakeQuantTwinBitForBitWhereTheMathIsExact) {
  // Power-of-two scales and sums below 2^24: every float product and partial sum is exact.
  const std::int64_t rows = 19, out = 37, in = 96;
  const Operands o = random_operands(rows, out, in, 11, -8, 7, 31);
  std::vector<float> w_scales(out), bias(out);
  for (std::int64_t n = 0; n < out; ++n) {
    w_scales[n] = std::ldexp(1.0f, -static_cast<int>(n % 5) - 2);
    bias[n] = static_cast<float>(n % 7) * 0.25f;
  }
  const float a_scale = 0.125f;
  const std::int32_t a_zero = 9;
  const std::vector<float> y = integer_linear(o, rows, out, in, a_scale, a_zero, w_scales, bias);
  const Tensor twin = fake_quant_linear(o, rows, out, in, a_scale, a_zero, w_scales, bias);
  for (std::int64_t k = 0; k < rows * out; ++k) ASSERT_EQ(y[static_cast<std::size_t>(k)], twin[k]) << k;
}

TEST(Int8Gemm, LinearAgreesWithItsTwinToFloatRoundingOtherwise) {
  const std::int64_t rows = 33, out = 50, in = 500;
  const Operands o = random_operands(rows, out, in, 12);
  std::vector<float> w_scales(out), bias(out, 0.1f);
  for (std::int64_t n = 0; n < out; ++n) w_scales[n] = 0.0037f * (1.0f + 0.01f * static_cast<float>(n));
  const float a_scale = 0.0213f;
  const std::int32_t a_zero = 131;
  const std::vector<float> y = integer_linear(o, rows, out, in, a_scale, a_zero, w_scales, bias);
  const Tensor twin = fake_quant_linear(o, rows, out, in, a_scale, a_zero, w_scales, bias);
  for (std::int64_t k = 0; k < rows * out; ++k) {
    // The twin rounds each of 500 products and sums; |y| is at most ~ 500 * 128 * 128 * scales.
    const float scale = a_scale * w_scales[static_cast<std::size_t>(k % out)];
    ASSERT_NEAR(y[static_cast<std::size_t>(k)], twin[k], 1e-6f * 500 * 128 * 128 * scale) << k;
  }
}

TEST(Int8Gemm, MismatchedOperandsAreRefused) {
  using tessera::testing::expect_error;
  const PackedInt8Weights w(std::vector<std::int8_t>(6, 1), 2, 3);
  std::vector<std::int32_t> acc(4);
  expect_error<std::invalid_argument>([&] { int8_gemm(std::vector<std::uint8_t>(5), 2, w, acc); },
                                      "int8_gemm: operand sizes do not match 2 x 3 times 3 x 2");
  expect_error<std::invalid_argument>([] { PackedInt8Weights(std::vector<std::int8_t>(5), 2, 3); },
                                      "PackedInt8Weights: 5 weights for 2 x 3");
  std::vector<float> y(4);
  expect_error<std::invalid_argument>(
      [&] { int8_linear(std::vector<std::uint8_t>(6), 2, w, 1.0f, 0, std::vector<float>(3, 1.0f), {}, y); },
      "int8_linear: w_scales size");
  std::vector<float> short_y(3);
  expect_error<std::invalid_argument>(
      [&] { int8_linear(std::vector<std::uint8_t>(6), 2, w, 1.0f, 0, std::vector<float>(1, 1.0f), {}, short_y); },
      "int8_linear: operand sizes do not match the weights");
}

}  // namespace
}  // namespace tessera::simulator
