// Convolution as a matrix product: the input's sliding windows become rows of a patch matrix
// (im2col), so a float GEMM, an analog tile or an integer kernel all compute a convolution the
// same way. Shared by the float Conv and the converted (analog, quantized) convolutions.
#pragma once

#include "ops/window.hpp"
#include "tessera/nn/graph.hpp"

namespace tessera::nn::ops {

struct ConvShape {
  std::int64_t batch = 0;
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::int64_t groups = 1;
  WindowGeometry window;
  /// Per (output position, kernel tap): the flat input offset it reads, -1 in padding.
  /// Computed once by conv_shape and shared by every group and sample.
  std::vector<std::int64_t> tap_offsets;

  std::int64_t in_per_group() const { return in_channels / groups; }
  std::int64_t out_per_group() const { return out_channels / groups; }
  /// Columns of a patch row: in_per_group * window size.
  std::int64_t patch_size() const { return in_per_group() * window.window_size(); }
};

/// Checks input [N, C, ...] against weight [M, C / groups, k...] and reads the geometry.
ConvShape conv_shape(const Node& node, const Shape& input, const Shape& weight);

/// The patch matrix of group `group` for samples [first_sample, first_sample + samples) (all by
/// default): [samples * positions, patch_size], row (n - first_sample) * positions + p.
Tensor conv_patches(const Tensor& input, const ConvShape& shape, std::int64_t group, std::int64_t first_sample = 0,
                    std::int64_t samples = -1);

/// Samples per im2col chunk: about 16,384 patch rows, so the patch matrix is a few MB reused from
/// chunk to chunk rather than one buffer (hundreds of MB, page-faulted afresh) for a whole batch.
std::int64_t conv_chunk_samples(const ConvShape& shape);

/// Scatters a group's rows [samples * positions, out_per_group] into the output [N, M, out...].
void scatter_conv_rows(const Tensor& rows, const ConvShape& shape, std::int64_t group, Tensor& output,
                       std::int64_t first_sample = 0, std::int64_t samples = -1);

/// Output shape [N, M, out...].
Shape conv_output_shape(const ConvShape& shape);

/// Weight rows of one group as a matrix [out_per_group, patch_size].
Tensor conv_group_weights(const Tensor& weight, const ConvShape& shape, std::int64_t group);

/// output[n, m, ...] += bias[m].
void add_channel_bias(Tensor& output, const Tensor& bias);

}  // namespace tessera::nn::ops
