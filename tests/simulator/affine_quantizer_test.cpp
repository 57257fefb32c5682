// Affine quantizers: encodings, per-channel / per-block application against a double-precision
// reference, NaN/Inf behaviour, calibration and misuse.
#include "tessera/simulator/affine_quantizer.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>

#include "expect_error.hpp"
#include "reference/fake_quant_reference.hpp"
#include "tessera/simulator/random_stream.hpp"
#include "test_seed.hpp"

namespace tessera::simulator {
namespace {

Tensor normal_tensor(Shape shape, std::uint64_t stream, float stddev = 1.0f) {
  Tensor tensor(std::move(shape));
  RandomStream(testing::test_seed(), stream).fill_normal(tensor.values(), 0, 0.0f, stddev);
  return tensor;
}

TEST(QuantGrid, SignedAndUnsignedRanges) {
  EXPECT_EQ(make_grid(8, true).qmin, -128);
  EXPECT_EQ(make_grid(8, true).qmax, 127);
  EXPECT_EQ(make_grid(8, false).qmax, 255);
  EXPECT_EQ(make_grid(1, false).qmax, 1);
  EXPECT_EQ(make_grid(32, true).qmin, -(std::int64_t{1} << 31));
  for (int bits : {0, 33, 64}) {
    testing::expect_error<std::invalid_argument>(
        [&] { make_grid(bits, true); },
        "bitwidth must be in [1, 32] (above 16 only for accumulators), got " + std::to_string(bits));
  }
}

TEST(Encoding, FromRangeFollowsTheDocumentedFormulas) {
  const QuantGrid unsigned8 = make_grid(8, false);
  const Encoding asymmetric = encoding_from_range({-1.0, 3.0}, unsigned8, false);
  EXPECT_FLOAT_EQ(asymmetric.scale, 4.0f / 255.0f);
  EXPECT_EQ(asymmetric.zero_point, 64);  // 0 - round(-1 / (4/255)) = round(63.75)
  const Encoding symmetric = encoding_from_range({-2.0, 1.0}, make_grid(8, true), true);
  EXPECT_FLOAT_EQ(symmetric.scale, 3.0f / 255.0f);
  EXPECT_EQ(symmetric.zero_point, 0);
  EXPECT_EQ(encoding_from_range({-1.0, 1.0}, unsigned8, true).zero_point, 128);
  // A range without 0 is widened to include it; a zero-width range gets the epsilon floor.
  EXPECT_EQ(encoding_from_range({2.0, 3.0}, unsigned8, false).zero_point, 0);
  EXPECT_EQ(encoding_from_range({0.0, 0.0}, unsigned8, false).scale, std::numeric_limits<float>::epsilon());
  const ClipRange back = range_from_encoding(asymmetric, unsigned8);
  EXPECT_DOUBLE_EQ(back.min, -64.0 * asymmetric.scale);
  EXPECT_DOUBLE_EQ(back.max, 191.0 * asymmetric.scale);
}

TEST(Encoding, SymmetricAdjustmentCentresOnTheGrid) {
  const ClipRange adjusted = adjust_range_for_grid({-0.5, 2.54}, make_grid(8, true), true);
  EXPECT_DOUBLE_EQ(adjusted.max, 2.54);         // delta = 2.54 / 127 wins over 0.5 / 128
  EXPECT_DOUBLE_EQ(adjusted.min, -128 * 0.02);  // -num_neg * delta
  const ClipRange tiny = adjust_range_for_grid({1.0, 1.0}, make_grid(8, false), false);
  EXPECT_DOUBLE_EQ(tiny.min, 0.0);
  EXPECT_DOUBLE_EQ(tiny.max, 1.0);
}

TEST(AffineQuantizer, SetRangeAndReadItBack) {
  QuantizeDequantize quantizer({.shape = {2}, .bitwidth = 8, .symmetric = false});
  EXPECT_FALSE(quantizer.is_initialized());
  const std::vector<float> min{-1.0f, 0.0f};
  const std::vector<float> max{1.0f, 4.0f};
  quantizer.set_range(min, max);
  EXPECT_TRUE(quantizer.is_initialized());
  EXPECT_EQ(quantizer.offset()[0], -quantizer.zero_point()[0]);
  for (int i = 0; i < 2; ++i) {
    const float step = quantizer.scale()[i];
    EXPECT_NEAR(quantizer.min()[i], min[i], step);
    EXPECT_NEAR(quantizer.max()[i], max[i], step);
  }
}

TEST(AffineQuantizer, NonFiniteInputsHaveDefinedResults) {
  QuantizeDequantize quantizer({.bitwidth = 8, .symmetric = true});
  quantizer.set_encodings(std::vector<float>{0.5f}, std::vector<std::int64_t>{0});
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor output = quantizer(Tensor({5}, {std::nanf(""), inf, -inf, 1e30f, -1e30f}));
  EXPECT_TRUE(std::isnan(output[0]));  // NaN propagates
  EXPECT_EQ(output[1], 127 * 0.5f);    // +Inf and huge values saturate at qmax (torch: qmin)
  EXPECT_EQ(output[2], -128 * 0.5f);
  EXPECT_EQ(output[3], 127 * 0.5f);
  EXPECT_EQ(output[4], -128 * 0.5f);
}

struct BlockCase {
  const char* name;
  Shape data;
  Shape encoding;
  Shape block_size;
  bool symmetric;
  int bitwidth;
};

void PrintTo(const BlockCase& c, std::ostream* out) { *out << c.name; }

class PerBlock : public ::testing::TestWithParam<BlockCase> {};

TEST_P(PerBlock, MatchesTheDoublePrecisionReference) {
  const BlockCase& c = GetParam();
  SCOPED_TRACE(testing::seed_note());
  const Tensor input = normal_tensor(c.data, 11, 2.0f);
  QuantizeDequantize quantizer(
      {.shape = c.encoding, .bitwidth = c.bitwidth, .symmetric = c.symmetric, .block_size = c.block_size});
  const std::int64_t count = quantizer.encoding_count();
  std::vector<float> min(count), max(count);
  for (std::int64_t i = 0; i < count; ++i) {
    min[i] = -1.0f - 0.1f * static_cast<float>(i);
    max[i] = 0.5f + 0.2f * static_cast<float>(i);
  }
  quantizer.set_range(min, max);
  const Tensor output = quantizer(input);
  std::vector<double> steps;
  const std::vector<double> expected =
      reference::fake_quant_per_block(input, c.encoding, c.block_size, quantizer.scale(), quantizer.zero_point(),
                                      quantizer.grid().qmin, quantizer.grid().qmax, &steps);
  // The reference divides in double; torch's float reciprocal-multiply (which tessera follows)
  // can land on the other side of an exact tie. So: equal, or one step apart, and rarely.
  std::size_t off_by_one_step = 0;
  for (std::int64_t i = 0; i < input.size(); ++i) {
    const auto k = static_cast<std::size_t>(i);
    const double difference = std::abs(output[i] - expected[k]);
    if (difference == 0.0 || output[i] == static_cast<float>(expected[k])) continue;
    ASSERT_NEAR(difference, steps[k], 1e-6 * steps[k]) << "element " << i << " of " << shape_to_string(c.data);
    ++off_by_one_step;
  }
  EXPECT_LE(off_by_one_step, 2u);
}

INSTANTIATE_TEST_SUITE_P(Layouts, PerBlock,
                         ::testing::Values(BlockCase{"per_tensor", {7, 33}, {}, {}, false, 8},
                                           BlockCase{"channel_axis0_conv", {6, 3, 3, 3}, {6, 1, 1, 1}, {}, true, 4},
                                           BlockCase{"channel_last_axis", {10, 9}, {9}, {}, false, 8},
                                           BlockCase{"channel_middle_axis", {4, 5, 6}, {1, 5, 1}, {}, true, 8},
                                           BlockCase{"blocks_of_rows", {5, 12}, {5, 3}, {1, 4}, false, 4},
                                           BlockCase{"blocks_inferred", {4, 10}, {2, 5}, {-1, -1}, true, 3},
                                           BlockCase{"blocks_of_three_axes", {4, 6, 8}, {2, 3, 2}, {2, 2, 4}, false, 6},
                                           BlockCase{"sixteen_bits", {3, 40}, {3, 1}, {}, false, 16},
                                           BlockCase{"thirty_two_bit_accumulator", {50}, {}, {}, true, 32}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(AffineQuantizer, SameResultForOneAndTwoThreads) {
  const Tensor input = normal_tensor({300, 1000}, 3);
  QuantizeDequantize quantizer({.shape = {300, 1}, .bitwidth = 4, .symmetric = false});
  {
    auto calibration = quantizer.compute_encodings();
    quantizer(input);
  }
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Tensor one = quantizer(input);
  omp_set_num_threads(2);
  const Tensor two = quantizer(input);
  omp_set_num_threads(threads);
  EXPECT_EQ(one, two);
}

TEST(AffineQuantizer, CalibrationObservesPassesThroughThenFixes) {
  QuantizeDequantize quantizer(
      {.bitwidth = 8, .symmetric = false, .range_estimator = parameters::RangeEstimator::allminmax});
  const Tensor first({3}, {-1.0f, 0.5f, 2.0f});
  const Tensor second({2}, {-3.0f, 1.0f});
  {
    auto calibration = quantizer.compute_encodings();
    EXPECT_TRUE(quantizer.is_calibrating());
    EXPECT_EQ(quantizer(first), first);  // observed, unchanged
    quantizer(second);
    calibration.finish();
  }
  EXPECT_FALSE(quantizer.is_calibrating());
  ASSERT_TRUE(quantizer.is_initialized());
  EXPECT_NEAR(quantizer.min()[0], -3.0f, quantizer.scale()[0]);
  EXPECT_NEAR(quantizer.max()[0], 2.0f, quantizer.scale()[0]);
}

TEST(AffineQuantizer, CalibrationWithoutFiniteDataIsAnError) {
  QuantizeDequantize quantizer({.bitwidth = 8});
  auto calibration = quantizer.compute_encodings();
  quantizer(Tensor({2}, {std::nanf(""), std::numeric_limits<float>::infinity()}));
  testing::expect_error<std::runtime_error>([&] { calibration.finish(); },
                                            "calibration ended but encoding 0 observed no finite values");
  EXPECT_FALSE(quantizer.is_initialized());
}

TEST(AffineQuantizer, MisuseIsRefusedWithAReason) {
  QuantizeDequantize quantizer({.shape = {4, 1}, .bitwidth = 8});
  try {
    quantizer(Tensor({4, 3}));
    FAIL();
  } catch (const std::logic_error& error) {
    EXPECT_NE(std::string(error.what()).find("before its encodings were set"), std::string::npos);
  }
  quantizer.set_range(std::vector<float>(4, -1.0f), std::vector<float>(4, 1.0f));
  using testing::expect_error;
  using Refused = std::invalid_argument;
  expect_error<Refused>(
      [&] {
        quantizer(Tensor({3, 4}));
      },
      "encoding shape [4, 1] does not fit data of shape [3, 4]: dimension 0 must be 1 or 3");
  expect_error<Refused>([&] { quantizer.set_range(std::vector<float>(3, -1.0f), std::vector<float>(3, 1.0f)); },
                        "set_range needs 4 min and max values, got 3 and 3");
  expect_error<Refused>([&] { quantizer.set_range(std::vector<float>(4, 1.0f), std::vector<float>(4, -1.0f)); },
                        "encoding 0: need finite min <= max, got [1, -1]");
  expect_error<Refused>([&] { quantizer.set_encodings(std::vector<float>(4, 0.0f), std::vector<std::int64_t>(4, 0)); },
                        "encoding 0: scale must be finite and > 0, got 0");
  expect_error<Refused>(
      [&] { quantizer.set_encodings(std::vector<float>(4, 1.0f), std::vector<std::int64_t>(4, 500)); },
      "encoding 0: zero point 500 outside the grid [0, 255]");
  expect_error<Refused>([] { QuantizeDequantize({.bitwidth = 0}); }, "bitwidth must be in [1, 32]");
  expect_error<Refused>([] { QuantizeDequantize({.bitwidth = 64}); }, "got 64");
  expect_error<Refused>(
      [] {
        QuantizeDequantize({.shape = {5, 1}, .block_size = {1}});
      },
      "quantizer shape [5, 1] has more dimensions than block_size [1]");
}

}  // namespace
}  // namespace tessera::simulator
