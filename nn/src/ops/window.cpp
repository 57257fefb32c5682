#include "ops/window.hpp"

#include <numeric>

#include "ops/op_support.hpp"

namespace tessera::nn::ops {

std::int64_t WindowGeometry::window_size() const {
  return std::accumulate(kernel.begin(), kernel.end(), std::int64_t{1}, std::multiplies<>());
}

std::int64_t WindowGeometry::output_size() const {
  return std::accumulate(output.begin(), output.end(), std::int64_t{1}, std::multiplies<>());
}

WindowGeometry window_geometry(const Node& node, const std::vector<std::int64_t>& spatial_input,
                               const std::vector<std::int64_t>& kernel) {
  const std::size_t rank = spatial_input.size();
  const Attributes& a = node.attributes;
  WindowGeometry g;
  g.input = spatial_input;
  g.kernel = kernel;
  if (g.kernel.size() != rank) {
    invalid(node, "kernel_shape has " + std::to_string(g.kernel.size()) + " axes, the input " + std::to_string(rank));
  }
  g.strides = a.get_ints("strides", std::vector<std::int64_t>(rank, 1));
  g.dilations = a.get_ints("dilations", std::vector<std::int64_t>(rank, 1));
  std::vector<std::int64_t> pads = a.get_ints("pads", std::vector<std::int64_t>(2 * rank, 0));
  if (g.strides.size() != rank || g.dilations.size() != rank || pads.size() != 2 * rank) {
    invalid(node, "strides, dilations and pads must match the " + std::to_string(rank) + " spatial axes");
  }
  const std::string auto_pad = a.get_string("auto_pad", "NOTSET");
  const bool ceil_mode = a.get_int("ceil_mode", 0) != 0;
  g.pad_begin.assign(rank, 0);
  g.output.assign(rank, 0);
  for (std::size_t d = 0; d < rank; ++d) {
    const std::int64_t extent = (g.kernel[d] - 1) * g.dilations[d] + 1;
    const std::int64_t in = spatial_input[d];
    if (g.strides[d] < 1 || g.dilations[d] < 1 || g.kernel[d] < 1)
      invalid(node, "kernel, strides and dilations must be >= 1");
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const std::int64_t out = (in + g.strides[d] - 1) / g.strides[d];
      const std::int64_t total = std::max<std::int64_t>((out - 1) * g.strides[d] + extent - in, 0);
      g.pad_begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.output[d] = out;
      continue;
    }
    if (auto_pad == "VALID") {
      pads[d] = pads[d + rank] = 0;
    } else if (auto_pad != "NOTSET") {
      invalid(node, "auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '" + auto_pad + "'");
    }
    g.pad_begin[d] = pads[d];
    const std::int64_t span = in + pads[d] + pads[d + rank] - extent;
    if (span < 0) invalid(node, "the window is larger than the padded input along spatial axis " + std::to_string(d));
    std::int64_t out = (ceil_mode ? (span + g.strides[d] - 1) / g.strides[d] : span / g.strides[d]) + 1;
    // A window may not start in the end padding (PyTorch's rule for ceil_mode).
    if (ceil_mode && (out - 1) * g.strides[d] >= in + pads[d]) --out;
    g.output[d] = out;
  }
  return g;
}

}  // namespace tessera::nn::ops
