#include "tessera/simulator/block_layout.hpp"

#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "expect_error.hpp"

namespace tessera::simulator {
namespace {

using Runs = std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>>;

Runs runs_of(const BlockLayout& layout) {
  Runs runs;
  layout.for_each_run([&](std::int64_t first, std::int64_t length, std::int64_t encoding, std::int64_t step) {
    runs.emplace_back(first, length, encoding, step);
  });
  return runs;
}

TEST(BlockLayout, PerTensorIsOneRun) {
  EXPECT_EQ(runs_of(BlockLayout({4, 5, 6}, {})), (Runs{{0, 120, 0, 0}}));
  EXPECT_EQ(runs_of(BlockLayout({4, 5}, {1, 1})), (Runs{{0, 20, 0, 0}}));
}

TEST(BlockLayout, PerChannelOnTheFirstAxisRunsOverWholeChannels) {
  EXPECT_EQ(runs_of(BlockLayout({3, 2, 2}, {3, 1, 1})), (Runs{{0, 4, 0, 0}, {4, 4, 1, 0}, {8, 4, 2, 0}}));
}

TEST(BlockLayout, PerChannelOnTheLastAxisStepsThroughEncodings) {
  EXPECT_EQ(runs_of(BlockLayout({2, 3}, {3})), (Runs{{0, 3, 0, 1}, {3, 3, 0, 1}}));
}

TEST(BlockLayout, BlocksSplitRows) {
  const BlockLayout layout({2, 4}, {2, 2}, {1, 2});
  EXPECT_EQ(layout.encoding_count(), 4);
  EXPECT_EQ(runs_of(layout), (Runs{{0, 2, 0, 0}, {2, 2, 1, 0}, {4, 2, 2, 0}, {6, 2, 3, 0}}));
}

TEST(BlockLayout, BadShapesAreRefused) {
  using tessera::testing::expect_error;
  using Refused = std::invalid_argument;
  expect_error<Refused>(
      [] {
        BlockLayout({4, 6}, {3, 1});
      },
      "encoding shape [3, 1] does not fit data of shape [4, 6]: dimension 0 must be 1 or 4");
  expect_error<Refused>(
      [] {
        BlockLayout({4, 6}, {2, 2}, {2, 2});
      },
      "dimension 1: encoding count * block size != data size");
  expect_error<Refused>([] { BlockLayout({4, 6}, {2, 4}, {-1, -1}); }, "dimension 1 does not split into 4 blocks");
  expect_error<Refused>([] { BlockLayout({4}, {1, 4}); }, "the encoding has more dimensions than the data");
  expect_error<Refused>([] { BlockLayout({4, 6}, {4, 1}, {1}); }, "block_size needs one entry per data dimension");
}

}  // namespace
}  // namespace tessera::simulator
