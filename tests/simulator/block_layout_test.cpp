#include "tessera/simulator/block_layout.hpp"

#include <gtest/gtest.h>

#include <tuple>
#include <vector>

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
  EXPECT_THROW(BlockLayout({4, 6}, {3, 1}), std::invalid_argument);            // 3 is neither 1 nor 4
  EXPECT_THROW(BlockLayout({4, 6}, {2, 2}, {2, 2}), std::invalid_argument);    // 2 * 2 != 6
  EXPECT_THROW(BlockLayout({4, 6}, {2, 4}, {-1, -1}), std::invalid_argument);  // 6 / 4
  EXPECT_THROW(BlockLayout({4}, {1, 4}), std::invalid_argument);               // encoding rank > data rank
  EXPECT_THROW(BlockLayout({4, 6}, {4, 1}, {1}), std::invalid_argument);       // block_size rank
  try {
    BlockLayout({4, 6}, {3, 1});
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "encoding shape [3, 1] does not fit data of shape [4, 6]: dimension 0 must be 1 or 4");
  }
}

}  // namespace
}  // namespace tessera::simulator
