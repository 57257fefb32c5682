#include "ops/conv.hpp"

#include "ops/op_support.hpp"
#include "tessera/simulator/matmul.hpp"

namespace tessera::nn::ops {

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
  return s;
}

Shape conv_output_shape(const ConvShape& shape) {
  Shape out{shape.batch, shape.out_channels};
  out.insert(out.end(), shape.window.output.begin(), shape.window.output.end());
  return out;
}

namespace {

// For every (output position, kernel tap): the flat spatial offset it reads, or -1 in padding.
std::vector<std::int64_t> tap_offsets(const WindowGeometry& w) {
  const std::size_t rank = w.rank();
  const std::int64_t positions = w.output_size(), taps = w.window_size();
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(positions * taps));
  std::vector<std::int64_t> out_index(rank, 0);
  for (std::int64_t p = 0; p < positions; ++p) {
    std::vector<std::int64_t> tap(rank, 0);
    for (std::int64_t k = 0; k < taps; ++k) {
      std::int64_t offset = 0;
      bool inside = true;
      for (std::size_t d = 0; d < rank; ++d) {
        const std::int64_t coordinate = out_index[d] * w.strides[d] - w.pad_begin[d] + tap[d] * w.dilations[d];
        inside = inside && coordinate >= 0 && coordinate < w.input[d];
        offset = offset * w.input[d] + coordinate;
      }
      offsets[static_cast<std::size_t>(p * taps + k)] = inside ? offset : -1;
      for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
        if (++tap[static_cast<std::size_t>(d)] < w.kernel[static_cast<std::size_t>(d)]) break;
        tap[static_cast<std::size_t>(d)] = 0;
      }
    }
    for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
      if (++out_index[static_cast<std::size_t>(d)] < w.output[static_cast<std::size_t>(d)]) break;
      out_index[static_cast<std::size_t>(d)] = 0;
    }
  }
  return offsets;
}

}  // namespace

Tensor conv_patches(const Tensor& input, const ConvShape& shape, std::int64_t group) {
  const std::int64_t positions = shape.window.output_size(), taps = shape.window.window_size();
  std::int64_t spatial = 1;
  for (std::int64_t extent : shape.window.input) spatial *= extent;
  const std::vector<std::int64_t> offsets = tap_offsets(shape.window);
  const std::int64_t channels = shape.in_per_group(), width = shape.patch_size();
  Tensor patches({shape.batch * positions, width});
#pragma omp parallel for schedule(static) if (shape.batch * positions * width > (1 << 16))
  for (std::int64_t row = 0; row < shape.batch * positions; ++row) {
    const std::int64_t n = row / positions, p = row % positions;
    float* out = patches.data() + row * width;
    const std::int64_t* tap = offsets.data() + p * taps;
    for (std::int64_t c = 0; c < channels; ++c) {
      const float* plane = input.data() + (n * shape.in_channels + group * channels + c) * spatial;
      for (std::int64_t k = 0; k < taps; ++k) out[c * taps + k] = tap[k] >= 0 ? plane[tap[k]] : 0.0f;
    }
  }
  return patches;
}

void scatter_conv_rows(const Tensor& rows, const ConvShape& shape, std::int64_t group, Tensor& output) {
  const std::int64_t positions = shape.window.output_size(), per_group = shape.out_per_group();
  for (std::int64_t n = 0; n < shape.batch; ++n) {
    for (std::int64_t p = 0; p < positions; ++p) {
      const float* source = rows.data() + (n * positions + p) * per_group;
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
    for (std::int64_t g = 0; g < shape.groups; ++g) {
      const Tensor patches = conv_patches(x, shape, g);
      Tensor rows({patches.dim(0), shape.out_per_group()});
      simulator::matmul_transposed(patches, conv_group_weights(w, shape, g), rows);
      scatter_conv_rows(rows, shape, g, output);
    }
    if (const Value* bias = optional_input(inputs, 2); bias != nullptr) {
      if (bias->tensor.size() != shape.out_channels) invalid(node, "bias must have one value per output channel");
      add_channel_bias(output, bias->tensor);
    }
    return std::vector<Value>{Value::floats(std::move(output))};
  };
}

}  // namespace

void register_conv_ops(Registry& registry) { registry["Conv"] = conv; }

}  // namespace tessera::nn::ops
