#include "ops/conv.hpp"

#include "ops/op_support.hpp"
#include "tessera/simulator/matmul.hpp"

namespace tessera::nn::ops {

namespace {

// For every (position p on the `positions` grid, kernel tap k): the flat offset of
// p * stride - pad + k * dilation on the `bounds` grid, or -1 where that falls outside it.
// Conv walks output positions and reads the input (bounds = input); ConvTranspose walks input
// positions and writes the output (bounds = output).
std::vector<std::int64_t> tap_offsets(const std::vector<std::int64_t>& positions_grid,
                                      const std::vector<std::int64_t>& kernel, const std::vector<std::int64_t>& strides,
                                      const std::vector<std::int64_t>& pad_begin,
                                      const std::vector<std::int64_t>& dilations,
                                      const std::vector<std::int64_t>& bounds) {
  const std::size_t rank = positions_grid.size();
  std::int64_t positions = 1, taps = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    positions *= positions_grid[d];
    taps *= kernel[d];
  }
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(positions * taps));
  std::vector<std::int64_t> position(rank, 0);
  for (std::int64_t p = 0; p < positions; ++p) {
    std::vector<std::int64_t> tap(rank, 0);
    for (std::int64_t k = 0; k < taps; ++k) {
      std::int64_t offset = 0;
      bool inside = true;
      for (std::size_t d = 0; d < rank; ++d) {
        const std::int64_t coordinate = position[d] * strides[d] - pad_begin[d] + tap[d] * dilations[d];
        inside = inside && coordinate >= 0 && coordinate < bounds[d];
        offset = offset * bounds[d] + coordinate;
      }
      offsets[static_cast<std::size_t>(p * taps + k)] = inside ? offset : -1;
      for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
        if (++tap[static_cast<std::size_t>(d)] < kernel[static_cast<std::size_t>(d)]) break;
        tap[static_cast<std::size_t>(d)] = 0;
      }
    }
    for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
      if (++position[static_cast<std::size_t>(d)] < positions_grid[static_cast<std::size_t>(d)]) break;
      position[static_cast<std::size_t>(d)] = 0;
    }
  }
  return offsets;
}

}  // namespace

ConvShape conv_shape(const Node& node, const Shape& input, const Shape& weight) {
  if (input.size() < 3 || weight.size() != input.size()) {
    invalid(node, "expects input [N, C, spatial...] and weight [M, C/groups, kernel...] of the same rank, got " +
                      simulator::shape_to_string(input) + " and " + simulator::shape_to_string(weight));
  }
  ConvShape s;
  s.batch = input[0];
  s.in_channels = input[1];
  s.out_channels = weight[0];
  s.groups = node.attributes.get_int("group", 1);
  if (s.groups < 1 || s.in_channels % s.groups != 0 || s.out_channels % s.groups != 0 ||
      weight[1] != s.in_channels / s.groups) {
    invalid(node, "input channels " + std::to_string(s.in_channels) + ", weight " + simulator::shape_to_string(weight) +
                      " and group " + std::to_string(s.groups) + " do not fit together");
  }
  const std::vector<std::int64_t> spatial(input.begin() + 2, input.end());
  const std::vector<std::int64_t> kernel(weight.begin() + 2, weight.end());
  if (node.attributes.has("kernel_shape") && node.attributes.get_ints("kernel_shape") != kernel) {
    invalid(node, "kernel_shape does not match the weight's shape " + simulator::shape_to_string(weight));
  }
  s.window = window_geometry(node, spatial, kernel);
  const WindowGeometry& w = s.window;
  s.tap_offsets = tap_offsets(w.output, w.kernel, w.strides, w.pad_begin, w.dilations, w.input);
  return s;
}

Shape conv_output_shape(const ConvShape& shape) {
  Shape out{shape.batch, shape.out_channels};
  out.insert(out.end(), shape.window.output.begin(), shape.window.output.end());
  return out;
}

Tensor conv_patches(const Tensor& input, const ConvShape& shape, std::int64_t group, std::int64_t first_sample,
                    std::int64_t samples) {
  if (samples < 0) samples = shape.batch - first_sample;
  const std::int64_t positions = shape.window.output_size(), taps = shape.window.window_size();
  std::int64_t spatial = 1;
  for (std::int64_t extent : shape.window.input) spatial *= extent;
  const std::vector<std::int64_t>& offsets = shape.tap_offsets;
  const std::int64_t channels = shape.in_per_group(), width = shape.patch_size();
  Tensor patches({samples * positions, width});
#pragma omp parallel for schedule(static) if (samples * positions * width > (1 << 16))
  for (std::int64_t row = 0; row < samples * positions; ++row) {
    const std::int64_t n = first_sample + row / positions, p = row % positions;
    float* out = patches.data() + row * width;
    const std::int64_t* tap = offsets.data() + p * taps;
    for (std::int64_t c = 0; c < channels; ++c) {
      const float* plane = input.data() + (n * shape.in_channels + group * channels + c) * spatial;
      for (std::int64_t k = 0; k < taps; ++k) out[c * taps + k] = tap[k] >= 0 ? plane[tap[k]] : 0.0f;
    }
  }
  return patches;
}

void scatter_conv_rows(const Tensor& rows, const ConvShape& shape, std::int64_t group, Tensor& output,
                       std::int64_t first_sample, std::int64_t samples) {
  if (samples < 0) samples = shape.batch - first_sample;
  const std::int64_t positions = shape.window.output_size(), per_group = shape.out_per_group();
#pragma omp parallel for schedule(static) if (samples * positions * per_group > (1 << 16))
  for (std::int64_t i = 0; i < samples; ++i) {
    const std::int64_t n = first_sample + i;
    for (std::int64_t p = 0; p < positions; ++p) {
      const float* source = rows.data() + (i * positions + p) * per_group;
      float* target = output.data() + (n * shape.out_channels + group * per_group) * positions + p;
      for (std::int64_t m = 0; m < per_group; ++m) target[m * positions] = source[m];
    }
  }
}

Tensor conv_group_weights(const Tensor& weight, const ConvShape& shape, std::int64_t group) {
  const std::int64_t rows = shape.out_per_group(), width = shape.patch_size();
  Tensor block({rows, width});
  std::copy(weight.data() + group * rows * width, weight.data() + (group + 1) * rows * width, block.data());
  return block;
}

std::int64_t conv_chunk_samples(const ConvShape& shape) {
  constexpr std::int64_t kPatchRows = 16384;
  return std::max<std::int64_t>(1, kPatchRows / std::max<std::int64_t>(shape.window.output_size(), 1));
}

void add_channel_bias(Tensor& output, const Tensor& bias) {
  const std::int64_t batch = output.dim(0), channels = output.dim(1);
  const std::int64_t positions = output.size() / std::max<std::int64_t>(batch * channels, 1);
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t m = 0; m < channels; ++m) {
      float* plane = output.data() + (n * channels + m) * positions;
      for (std::int64_t p = 0; p < positions; ++p) plane[p] += bias[m];
    }
  }
}

namespace {

Kernel conv(const Node& node, int) {
  return [&node](Inputs inputs) {
    const Tensor& x = input(inputs, 0, node).tensor;
    const Tensor& w = input(inputs, 1, node).tensor;
    const ConvShape shape = conv_shape(node, x.shape(), w.shape());
    Tensor output(conv_output_shape(shape));
    const std::int64_t chunk = conv_chunk_samples(shape);
    for (std::int64_t g = 0; g < shape.groups; ++g) {
      const Tensor weights = conv_group_weights(w, shape, g);
      for (std::int64_t first = 0; first < shape.batch; first += chunk) {
        const std::int64_t samples = std::min(chunk, shape.batch - first);
        const Tensor patches = conv_patches(x, shape, g, first, samples);
        Tensor rows({patches.dim(0), shape.out_per_group()});
        simulator::matmul_transposed(patches, weights, rows);
        scatter_conv_rows(rows, shape, g, output, first, samples);
      }
    }
    if (const Value* bias = optional_input(inputs, 2); bias != nullptr) {
      if (bias->tensor.size() != shape.out_channels) invalid(node, "bias must have one value per output channel");
      add_channel_bias(output, bias->tensor);
    }
    return std::vector<Value>{Value::floats(std::move(output))};
  };
}

// ConvTranspose: every input position spreads W's taps over the output (col2im of x^T W).
Kernel conv_transpose(const Node& node, int) {
  return [&node](Inputs inputs) {
    const Tensor& x = input(inputs, 0, node).tensor;
    const Tensor& w = input(inputs, 1, node).tensor;
    const Attributes& a = node.attributes;
    if (x.rank() < 3 || w.rank() != x.rank() || w.dim(0) != x.dim(1)) {
      invalid(node, "expects input [N, C, spatial...] and weight [C, M/groups, kernel...], got " +
                        simulator::shape_to_string(x.shape()) + " and " + simulator::shape_to_string(w.shape()));
    }
    const std::int64_t groups = a.get_int("group", 1);
    if (groups < 1 || x.dim(1) % groups != 0) invalid(node, "group does not divide the input channels");
    const std::size_t rank = static_cast<std::size_t>(x.rank() - 2);
    const std::vector<std::int64_t> kernel(w.shape().begin() + 2, w.shape().end());
    const std::vector<std::int64_t> strides = a.get_ints("strides", std::vector<std::int64_t>(rank, 1));
    const std::vector<std::int64_t> dilations = a.get_ints("dilations", std::vector<std::int64_t>(rank, 1));
    const std::vector<std::int64_t> output_padding = a.get_ints("output_padding", std::vector<std::int64_t>(rank, 0));
    std::vector<std::int64_t> pads = a.get_ints("pads", std::vector<std::int64_t>(2 * rank, 0));
    const std::vector<std::int64_t> output_shape = a.get_ints("output_shape");
    const std::string auto_pad = a.get_string("auto_pad", "NOTSET");
    if (strides.size() != rank || dilations.size() != rank || output_padding.size() != rank ||
        pads.size() != 2 * rank) {
      invalid(node, "strides, dilations, output_padding and pads must match the spatial axes");
    }
    std::vector<std::int64_t> in(rank), out(rank);
    for (std::size_t d = 0; d < rank; ++d) {
      in[d] = x.dim(static_cast<int>(d + 2));
      const std::int64_t full = strides[d] * (in[d] - 1) + output_padding[d] + (kernel[d] - 1) * dilations[d] + 1;
      const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
      if (!output_shape.empty() || same) {
        const std::int64_t target =
            output_shape.empty() ? in[d] * strides[d] : output_shape[output_shape.size() - rank + d];
        // ONNX's rule with floor division: a larger output_shape gives negative end padding
        // (extra output rows at the end).
        const std::int64_t total = full - target;
        const std::int64_t half = total >= 0 ? total / 2 : -((1 - total) / 2);
        pads[d] = auto_pad == "SAME_UPPER" ? half : total - half;
        pads[d + rank] = total - pads[d];
      } else if (auto_pad == "VALID") {
        pads[d] = pads[d + rank] = 0;
      }
      out[d] = full - pads[d] - pads[d + rank];
      if (out[d] < 1) invalid(node, "the padding removes the whole output along spatial axis " + std::to_string(d));
    }
    const std::int64_t channels = x.dim(1) / groups, per_group = w.dim(1), out_channels = per_group * groups;
    std::int64_t positions = 1, taps = 1, out_positions = 1;
    for (std::size_t d = 0; d < rank; ++d) {
      positions *= in[d];
      taps *= kernel[d];
      out_positions *= out[d];
    }
    Shape shape{x.dim(0), out_channels};
    shape.insert(shape.end(), out.begin(), out.end());
    Tensor output(shape);
    const std::vector<std::int64_t> target = tap_offsets(in, kernel, strides, pads, dilations, out);
    Tensor x_group({channels, positions}), w_group({channels, per_group * taps}), cols({positions, per_group * taps});
    for (std::int64_t n = 0; n < x.dim(0); ++n) {
      for (std::int64_t g = 0; g < groups; ++g) {
        const float* xs = x.data() + (n * x.dim(1) + g * channels) * positions;
        std::copy(xs, xs + channels * positions, x_group.data());
        std::copy(w.data() + g * channels * per_group * taps, w.data() + (g + 1) * channels * per_group * taps,
                  w_group.data());
        simulator::matmul_left_transposed(x_group, w_group, cols);  // [positions, per_group * taps]
        for (std::int64_t p = 0; p < positions; ++p) {
          for (std::int64_t m = 0; m < per_group; ++m) {
            float* plane = output.data() + (n * out_channels + g * per_group + m) * out_positions;
            const float* row = cols.data() + p * per_group * taps + m * taps;
            for (std::int64_t k = 0; k < taps; ++k) {
              const std::int64_t t = target[static_cast<std::size_t>(p * taps + k)];
              if (t >= 0) plane[t] += row[k];
            }
          }
        }
      }
    }
    if (const Value* bias = optional_input(inputs, 2); bias != nullptr) {
      if (bias->tensor.size() != out_channels) invalid(node, "bias must have one value per output channel");
      add_channel_bias(output, bias->tensor);
    }
    return std::vector<Value>{Value::floats(std::move(output))};
  };
}

}  // namespace

void register_conv_ops(Registry& registry) {
  registry["Conv"] = conv;
  registry["ConvTranspose"] = conv_transpose;
}

}  // namespace tessera::nn::ops
