// Seed-to-seed spread (issue 18): every device draws its own programming noise, drift exponent
// and read noise. Were any draw shared by a whole tile, or by two tiles of one seed, a seed
// would scale whole layers and the accuracy would scatter across seeds more than independent
// devices allow. The checks compare the variance of a tile's per-seed mean with the
// within-seed variance over the number of devices (ratio 1 when the devices are independent;
// std of the ratio sqrt(2 / (seeds - 1)) = 0.08 here).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tessera/tiles/analog_tile.hpp"
#include "tiles/tile_test_helpers.hpp"

namespace tessera::tiles {
namespace {

using namespace tessera::tiles::testing;

constexpr int kSeeds = 300;
constexpr std::int64_t kOut = 16, kIn = 9;  // the bundled CNN's first layer: few devices
constexpr double kYear = 365.0 * 86400.0;

struct SeedMeans {
  std::vector<double> means;      // per seed: mean over the tile's weights
  double within_variance = 0.0;   // mean over seeds of the variance over the tile's weights
};

// The effective weights of one tile per seed after programming and drift to t, for equal
// targets (every device has the same distribution, so only shared draws tie them together).
SeedMeans per_seed_means(std::string_view name, double t_inference) {
  InferenceRPUConfig config;  // PCM, aihwkit's defaults
  Tensor targets({kOut, kIn});
  for (float& w : targets.values()) w = 0.5f;
  SeedMeans result;
  for (int seed = 0; seed < kSeeds; ++seed) {
    AnalogTile tile(kOut, kIn, config, 1000 + static_cast<std::uint64_t>(seed), name);
    tile.set_weights(targets);
    tile.program();
    if (t_inference > 0.0) tile.drift(t_inference);
    std::vector<double> values(tile.effective_weights().values().begin(), tile.effective_weights().values().end());
    const double spread = stddev_of(values);
    result.means.push_back(mean_of(values));
    result.within_variance += spread * spread / kSeeds;
  }
  return result;
}

double variance_ratio(const SeedMeans& seeds) {
  const double between = stddev_of(seeds.means);
  return between * between / (seeds.within_variance / static_cast<double>(kOut * kIn));
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const double mean_a = mean_of(a), mean_b = mean_of(b);
  double ab = 0.0, aa = 0.0, bb = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    ab += (a[k] - mean_a) * (b[k] - mean_b);
    aa += (a[k] - mean_a) * (a[k] - mean_a);
    bb += (b[k] - mean_b) * (b[k] - mean_b);
  }
  return ab / std::sqrt(aa * bb);
}

TEST(SeedSpread, ProgrammingNoiseSharesNoDrawAcrossATile) {
  const double ratio = variance_ratio(per_seed_means("features.0", 0.0));
  EXPECT_GT(ratio, 0.7);
  EXPECT_LT(ratio, 1.35);  // a shared part of 10 % of a device's std would give 1 + 144 * 0.01 = 2.4
}

TEST(SeedSpread, DriftAndReadNoiseShareNoDrawAcrossATile) {
  for (double t : {86400.0, kYear}) {
    const double ratio = variance_ratio(per_seed_means("features.0", t));
    EXPECT_GT(ratio, 0.7) << "t = " << t;
    EXPECT_LT(ratio, 1.35) << "t = " << t;
  }
}

TEST(SeedSpread, TwoTilesOfOneSeedDrawIndependently) {
  const SeedMeans first = per_seed_means("features.0", kYear);
  const SeedMeans second = per_seed_means("classifier.3", kYear);
  EXPECT_LT(std::abs(correlation(first.means, second.means)), 4.0 / std::sqrt(kSeeds));
}

}  // namespace
}  // namespace tessera::tiles
