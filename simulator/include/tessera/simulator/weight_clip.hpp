// Weight clipping and remapping for hardware-aware training (aihwkit's WeightClipParameter and
// WeightRemapParameter), applied to a tile's [out, in] weights after each optimizer step.
#pragma once

#include <vector>

#include "tessera/parameters/mapping.hpp"
#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {

/// The bound |w| is clipped to under `clip`, or a negative number when nothing is clipped:
///   FIXED_VALUE          fixed_value (when > 0)
///   LAYER_GAUSSIAN       sigma * std(W) (sample std, N - 1), capped at fixed_value when > 0
///   AVERAGE_CHANNEL_MAX  mean over output rows of max |w| in the row
double weight_clip_bound(const Tensor& weights, const parameters::WeightClipParameter& clip);

/// Clips every weight to +-weight_clip_bound(weights, clip) (no-op for NONE).
void clip_weights(Tensor& weights, const parameters::WeightClipParameter& clip);

/// Rescales the weights so that max |w| becomes remapped_wmax, over the whole matrix
/// (LAYERWISE_SYMMETRIC) or per output row (CHANNELWISE_SYMMETRIC), and returns the factor per
/// output row the outputs must be multiplied by to compute the same product (all 1 for NONE).
/// Rows of zeros keep factor 1. With max_scale_range > 0 (channelwise), no row's factor falls
/// below reference / max_scale_range, where the reference is max_scale_ref if > 0, else the
/// largest factor: small rows are then not blown up to the full conductance range.
std::vector<float> remap_weights(Tensor& weights, const parameters::WeightRemapParameter& remap);

}  // namespace tessera::simulator
