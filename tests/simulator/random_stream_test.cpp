// Philox4x32-10 known answers, distribution of the uniform/normal fills (z = 5 bounds from
// the sample size), and the reproducibility promises: any split, any thread count.
#include "tessera/simulator/random_stream.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "reference/statistics.hpp"
#include "test_seed.hpp"

namespace tessera::simulator {
namespace {

constexpr double kZ = 5.0;

TEST(Philox, MatchesRandom123KnownAnswers) {
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}), (PhiloxCounter{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (PhiloxCounter{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (PhiloxCounter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
  static_assert(philox4x32_10({0, 0, 0, 0}, {0, 0})[0] == 0x6627e8d5, "usable at compile time");
}

TEST(Philox, UniformMappingIsOpenAndExact) {
  EXPECT_GT(uniform_from_bits(0), 0.0f);
  EXPECT_LT(uniform_from_bits(0xffffffffu), 1.0f);
  EXPECT_EQ(uniform_from_bits(0xffffffffu), 1.0f - 1.0f / 16777216.0f);
  EXPECT_EQ(uniform_from_bits(0x80000000u), 0.5f + 0.5f / 8388608.0f);
}

using reference::mean_of;
using reference::stddev_of;

// Kolmogorov-Smirnov distance between the sample and a CDF.
template <class Cdf>
double ks_distance(std::vector<float> values, Cdf cdf) {
  std::sort(values.begin(), values.end());
  const double n = static_cast<double>(values.size());
  double distance = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double f = cdf(values[i]);
    distance = std::max({distance, f - i / n, (i + 1) / n - f});
  }
  return distance;
}

// KS bound for a false-alarm probability of ~1e-6: sqrt(-ln(5e-7) / 2) / sqrt(n).
double ks_bound(std::size_t n) { return 2.7 / std::sqrt(static_cast<double>(n)); }

TEST(RandomStream, UniformStatistics) {
  SCOPED_TRACE(testing::seed_note());
  std::vector<float> values(1 << 20);
  RandomStream(testing::test_seed()).derive("uniform").fill_uniform(values);
  const double n = static_cast<double>(values.size());
  const double sigma = 1.0 / std::sqrt(12.0);
  EXPECT_NEAR(mean_of(values), 0.5, kZ * sigma / std::sqrt(n));
  EXPECT_NEAR(stddev_of(values) / sigma, 1.0, kZ / std::sqrt(2.0 * (n - 1)));
  EXPECT_GT(*std::min_element(values.begin(), values.end()), 0.0f);
  EXPECT_LT(*std::max_element(values.begin(), values.end()), 1.0f);
  EXPECT_LT(ks_distance(values, [](double x) { return x; }), ks_bound(values.size()));
}

TEST(RandomStream, NormalStatistics) {
  SCOPED_TRACE(testing::seed_note());
  std::vector<float> values(1 << 20);
  RandomStream(testing::test_seed()).derive("normal").fill_normal(values, 0, 2.0f, 3.0f);
  const double n = static_cast<double>(values.size());
  EXPECT_NEAR(mean_of(values), 2.0, kZ * 3.0 / std::sqrt(n));
  EXPECT_NEAR(stddev_of(values) / 3.0, 1.0, kZ / std::sqrt(2.0 * (n - 1)));
  const double distance =
      ks_distance(values, [](double x) { return 0.5 * std::erfc(-(x - 2.0) / (3.0 * std::sqrt(2.0))); });
  EXPECT_LT(distance, ks_bound(values.size()));
  // Tails: P(|z| > 3) = 0.0027, a binomial count.
  const double tail = static_cast<double>(
      std::count_if(values.begin(), values.end(), [](float v) { return std::abs(v - 2.0f) > 9.0f; }));
  const double p = 0.0026998;
  EXPECT_NEAR(tail, p * n, kZ * std::sqrt(n * p * (1 - p)));
}

TEST(RandomStream, AnySplitOfTheWorkDrawsTheSameNumbers) {
  const RandomStream stream = RandomStream(testing::test_seed()).derive("split");
  const std::uint64_t offset = 1001;
  std::vector<float> whole(100003);
  stream.fill_normal(whole, offset);
  std::vector<float> pieces(whole.size());
  std::size_t done = 0;
  for (std::size_t size : {1u, 3u, 2u, 7u, 4096u, 10u}) {
    stream.fill_normal(std::span(pieces).subspan(done, size), offset + done);
    done += size;
  }
  stream.fill_normal(std::span(pieces).subspan(done), offset + done);
  EXPECT_EQ(std::memcmp(whole.data(), pieces.data(), whole.size() * sizeof(float)), 0);

  std::vector<float> uniform_whole(5000), uniform_pieces(5000);
  stream.fill_uniform(uniform_whole, 3);
  stream.fill_uniform(std::span(uniform_pieces).first(1234), 3);
  stream.fill_uniform(std::span(uniform_pieces).subspan(1234), 3 + 1234);
  EXPECT_EQ(uniform_whole, uniform_pieces);
}

TEST(RandomStream, OneAndTwoThreadsDrawTheSameNumbers) {
  const RandomStream stream = RandomStream(testing::test_seed()).derive("threads");
  std::vector<float> one(1 << 19), two(1 << 19);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  stream.fill_normal(one, 5);
  omp_set_num_threads(2);
  stream.fill_normal(two, 5);
  omp_set_num_threads(threads);
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
}

TEST(RandomStream, StreamsAreReproducibleAndIndependent) {
  const RandomStream root(testing::test_seed());
  EXPECT_EQ(root.derive("features.0").stream_id(), root.derive("features.0").stream_id());
  EXPECT_NE(root.derive("features.0").stream_id(), root.derive("features.1").stream_id());
  EXPECT_NE(root.derive("a").derive("b").stream_id(), root.derive("b").derive("a").stream_id());
  EXPECT_NE(root.derive(std::uint64_t{1}).stream_id(), root.derive(std::uint64_t{2}).stream_id());
  EXPECT_NE(RandomStream(1).uniform_block(0), RandomStream(2).uniform_block(0));

  std::vector<float> a(1 << 18), b(1 << 18);
  root.derive("programming").fill_normal(a);
  root.derive("read_noise").fill_normal(b);
  double correlation = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) correlation += static_cast<double>(a[i]) * b[i];
  correlation /= static_cast<double>(a.size());
  EXPECT_NEAR(correlation, 0.0, kZ / std::sqrt(static_cast<double>(a.size())));
}

}  // namespace
}  // namespace tessera::simulator

namespace tessera::simulator {
namespace {

TEST(RandomStream, BulkFillsEqualTheSingleBlockFunctions) {
  const RandomStream stream = RandomStream(testing::test_seed()).derive("blocks");
  std::vector<float> uniform(1001), normal(1001);
  stream.fill_uniform(uniform, 6);
  stream.fill_normal(normal, 6);
  for (std::size_t k = 0; k < uniform.size(); ++k) {
    const std::uint64_t element = 6 + k;
    ASSERT_EQ(uniform[k], stream.uniform_block(element / 4)[element % 4]) << k;
    ASSERT_EQ(normal[k], stream.normal_block(element / 4)[element % 4]) << k;
  }
}

TEST(BoxMuller, PolynomialLogAndSinCosAreWithinAFewUlps) {
  for (std::uint32_t bits = 0; bits < (1u << 23); bits += 997) {
    const float u = uniform_from_bits(bits << 9);
    const double exact_log = std::log(static_cast<double>(u));
    ASSERT_NEAR(log_positive(u), exact_log, 4e-7 * std::abs(exact_log) + 1e-7) << u;
    float sine = 0.0f, cosine = 0.0f;
    sincos_two_pi(u, sine, cosine);
    const double angle = 2.0 * M_PI * static_cast<double>(u);
    ASSERT_NEAR(sine, std::sin(angle), 4e-7) << u;
    ASSERT_NEAR(cosine, std::cos(angle), 4e-7) << u;
  }
}

}  // namespace
}  // namespace tessera::simulator

namespace tessera::simulator {
namespace {

// The element functions the CUDA kernels call draw exactly what RandomStream fills, at any
// offset (ragged starts and ends inside counter blocks and chunks, and across the carry of the
// counter's low word into its high word, which the vectorised fill handles block by block).
TEST(RandomStream, ElementFunctionsEqualTheFills) {
  const RandomStream stream = RandomStream(1234).derive("features.0").derive("read_noise");
  const std::uint64_t low_word_wraps = 4ull << 32;  // element of block 2^32
  for (std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{3}, std::uint64_t{257}, std::uint64_t{1000001},
                               low_word_wraps - 517, low_word_wraps - 4 * 7 - 1}) {
    std::vector<float> uniforms(1037), normals(1037);
    stream.fill_uniform(uniforms, offset);
    stream.fill_normal(normals, offset);
    for (std::size_t k = 0; k < uniforms.size(); ++k) {
      ASSERT_EQ(uniforms[k], stream_uniform(stream.seed(), stream.stream_id(), offset + k)) << offset + k;
      ASSERT_EQ(normals[k], stream_normal(stream.seed(), stream.stream_id(), offset + k)) << offset + k;
    }
  }
}

}  // namespace
}  // namespace tessera::simulator
