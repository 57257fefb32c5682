// Sliding-window geometry shared by Conv and the pooling operators: kernel, strides,
// dilations, pads (explicit or auto_pad) and the output extent per spatial axis.
#pragma once

#include <vector>

#include "tessera/nn/graph.hpp"

namespace tessera::nn::ops {

struct WindowGeometry {
  std::vector<std::int64_t> input;      ///< spatial extents of the input
  std::vector<std::int64_t> kernel;     ///< window size per axis
  std::vector<std::int64_t> strides;    ///< step per axis
  std::vector<std::int64_t> dilations;  ///< spacing of window taps per axis
  std::vector<std::int64_t> pad_begin;  ///< padding before, per axis
  std::vector<std::int64_t> output;     ///< output extents

  std::size_t rank() const { return input.size(); }
  std::int64_t window_size() const;
  std::int64_t output_size() const;
};

/// Reads kernel_shape (or `kernel` when the op takes it from the weights), strides, dilations,
/// pads / auto_pad and ceil_mode from the node, for an input with the given spatial extents.
WindowGeometry window_geometry(const Node& node, const std::vector<std::int64_t>& spatial_input,
                               const std::vector<std::int64_t>& kernel);

}  // namespace tessera::nn::ops
