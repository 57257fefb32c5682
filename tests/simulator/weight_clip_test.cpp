// Weight clipping and remapping: each rule's bound on small matrices with a known answer, and
// remapping that leaves the represented weights (tile weight x factor) unchanged.
#include "tessera/simulator/weight_clip.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace tessera::simulator {
namespace {

using parameters::WeightClipParameter;
using parameters::WeightClipType;
using parameters::WeightRemapParameter;
using parameters::WeightRemapType;

Tensor matrix(std::int64_t rows, std::int64_t columns, std::vector<float> values) {
  Tensor tensor({rows, columns});
  std::copy(values.begin(), values.end(), tensor.values().begin());
  return tensor;
}

TEST(WeightClip, FixedValueClipsBothSigns) {
  Tensor w = matrix(2, 2, {0.5f, -2.0f, 1.5f, 0.1f});
  WeightClipParameter clip;
  clip.type = WeightClipType::FIXED_VALUE;
  clip.fixed_value = 1.0;
  clip_weights(w, clip);
  EXPECT_EQ(w[0], 0.5f);
  EXPECT_EQ(w[1], -1.0f);
  EXPECT_EQ(w[2], 1.0f);
  EXPECT_EQ(w[3], 0.1f);
}

TEST(WeightClip, NoneAndNonPositiveFixedValueLeaveWeightsAlone) {
  const Tensor original = matrix(1, 3, {5.0f, -7.0f, 0.0f});
  Tensor w = original;
  WeightClipParameter clip;  // NONE
  clip_weights(w, clip);
  EXPECT_EQ(w.values()[1], -7.0f);
  clip.type = WeightClipType::FIXED_VALUE;  // fixed_value = -1: nothing to clip to
  clip_weights(w, clip);
  EXPECT_EQ(w.values()[1], -7.0f);
}

TEST(WeightClip, LayerGaussianClipsAtSigmaStandardDeviations) {
  // Values 1..8: mean 4.5, sample std sqrt(6) = 2.449..., 1.0 sigma -> 2.449...
  Tensor w = matrix(2, 4, {1, 2, 3, 4, 5, 6, 7, 8});
  WeightClipParameter clip;
  clip.type = WeightClipType::LAYER_GAUSSIAN;
  clip.sigma = 1.0;
  EXPECT_NEAR(weight_clip_bound(w, clip), std::sqrt(6.0), 1e-12);
  clip.fixed_value = 2.0;  // caps the Gaussian bound
  EXPECT_DOUBLE_EQ(weight_clip_bound(w, clip), 2.0);
  clip_weights(w, clip);
  EXPECT_EQ(w[0], 1.0f);
  EXPECT_EQ(w[7], 2.0f);
}

TEST(WeightClip, AverageChannelMaxUsesTheMeanRowMaximum) {
  Tensor w = matrix(2, 3, {0.1f, -0.4f, 0.2f, 2.0f, 0.0f, -1.0f});  // row maxima 0.4 and 2.0
  WeightClipParameter clip;
  clip.type = WeightClipType::AVERAGE_CHANNEL_MAX;
  EXPECT_NEAR(weight_clip_bound(w, clip), 1.2, 1e-7);
  clip_weights(w, clip);
  EXPECT_EQ(w[3], 1.2f);
  EXPECT_EQ(w[5], -1.0f);
}

TEST(WeightRemap, LayerwiseMapsTheLargestWeightToRemappedWmax) {
  const Tensor original = matrix(2, 2, {0.5f, -2.0f, 1.0f, 0.25f});
  Tensor w = original;
  WeightRemapParameter remap;
  remap.type = WeightRemapType::LAYERWISE_SYMMETRIC;
  remap.remapped_wmax = 0.5;
  const std::vector<float> factors = remap_weights(w, remap);
  ASSERT_EQ(factors.size(), 2u);
  EXPECT_FLOAT_EQ(factors[0], 4.0f);
  EXPECT_FLOAT_EQ(factors[1], 4.0f);
  EXPECT_FLOAT_EQ(w[1], -0.5f);
  for (std::int64_t k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(w[k] * factors[static_cast<std::size_t>(k / 2)], original[k]);
}

TEST(WeightRemap, ChannelwiseScalesEachRowAndKeepsZeroRows) {
  const Tensor original = matrix(3, 2, {0.5f, -0.25f, 0.0f, 0.0f, 4.0f, 1.0f});
  Tensor w = original;
  WeightRemapParameter remap;
  remap.type = WeightRemapType::CHANNELWISE_SYMMETRIC;
  const std::vector<float> factors = remap_weights(w, remap);
  EXPECT_FLOAT_EQ(factors[0], 0.5f);
  EXPECT_FLOAT_EQ(factors[1], 1.0f);  // zero row
  EXPECT_FLOAT_EQ(factors[2], 4.0f);
  EXPECT_FLOAT_EQ(w[0], 1.0f);
  EXPECT_FLOAT_EQ(w[4], 1.0f);
  EXPECT_EQ(w[2], 0.0f);
  for (std::int64_t k = 0; k < 6; ++k) EXPECT_FLOAT_EQ(w[k] * factors[static_cast<std::size_t>(k / 2)], original[k]);
}

TEST(WeightRemap, MaxScaleRangeBoundsTheSmallestFactor) {
  Tensor w = matrix(2, 1, {0.01f, 1.0f});  // factors 0.01 and 1 without a range limit
  WeightRemapParameter remap;
  remap.type = WeightRemapType::CHANNELWISE_SYMMETRIC;
  remap.max_scale_range = 10.0;  // no factor below 1 / 10
  const std::vector<float> factors = remap_weights(w, remap);
  EXPECT_FLOAT_EQ(factors[0], 0.1f);
  EXPECT_FLOAT_EQ(w[0], 0.1f);  // the small row uses a tenth of the range, not all of it
  EXPECT_FLOAT_EQ(factors[1], 1.0f);
}

}  // namespace
}  // namespace tessera::simulator
