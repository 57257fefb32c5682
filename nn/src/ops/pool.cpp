// MaxPool, AveragePool (N-d, pads, auto_pad, ceil_mode, dilations) and the global pools.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/op_support.hpp"
#include "ops/window.hpp"

namespace tessera::nn::ops {
namespace {

enum class PoolKind { kMax, kAverage };

// max that keeps a NaN once seen, as torch's max pooling and numpy's max do (std::max would
// drop a NaN that is not first).
float nan_max(float best, float value) {
  if (std::isnan(best)) return best;
  return std::isnan(value) || value > best ? value : best;
}

float pooled(PoolKind kind, float best, double sum, std::int64_t divisor) {
  return kind == PoolKind::kMax ? best
                                : static_cast<float>(sum / static_cast<double>(std::max<std::int64_t>(divisor, 1)));
}

// Taps k in [first, last) of one axis land inside [0, extent); those in [box_first, box_last)
// inside the explicitly padded box (what count_include_pad counts).
struct TapRange {
  std::int64_t first, last, box_first, box_last;
};

TapRange tap_range(std::int64_t start, std::int64_t kernel, std::int64_t dilation, std::int64_t extent,
                   std::int64_t pad_begin, std::int64_t pad_end) {
  const auto first_at_least = [&](std::int64_t low) {  // smallest k with start + k * dilation >= low
    const std::int64_t need = low - start;
    return std::clamp<std::int64_t>(need <= 0 ? 0 : (need + dilation - 1) / dilation, 0, kernel);
  };
  return {first_at_least(0), first_at_least(extent), first_at_least(-pad_begin), first_at_least(extent + pad_end)};
}

// The 2-d case (images) without the N-d index arithmetic below: the same taps in the same
// order, so the same results, with the window clipped to the input once per output.
void pool_plane_2d(const float* source, float* target, const WindowGeometry& w, const std::vector<std::int64_t>& pads,
                   PoolKind kind, bool count_include_pad) {
  const std::int64_t height = w.input[0], width = w.input[1];
  for (std::int64_t oy = 0; oy < w.output[0]; ++oy) {
    const std::int64_t y0 = oy * w.strides[0] - w.pad_begin[0];
    const TapRange ys = tap_range(y0, w.kernel[0], w.dilations[0], height, w.pad_begin[0], pads[2]);
    for (std::int64_t ox = 0; ox < w.output[1]; ++ox) {
      const std::int64_t x0 = ox * w.strides[1] - w.pad_begin[1];
      const TapRange xs = tap_range(x0, w.kernel[1], w.dilations[1], width, w.pad_begin[1], pads[3]);
      if (kind == PoolKind::kMax) {
        float best = -std::numeric_limits<float>::infinity();
        for (std::int64_t ky = ys.first; ky < ys.last; ++ky) {
          const std::int64_t row = (y0 + ky * w.dilations[0]) * width + x0;  // an index: x0 may be < 0
          for (std::int64_t kx = xs.first; kx < xs.last; ++kx) best = nan_max(best, source[row + kx * w.dilations[1]]);
        }
        *target++ = best;
        continue;
      }
      double sum = 0.0;
      for (std::int64_t ky = ys.first; ky < ys.last; ++ky) {
        const std::int64_t row = (y0 + ky * w.dilations[0]) * width + x0;
        for (std::int64_t kx = xs.first; kx < xs.last; ++kx) sum += source[row + kx * w.dilations[1]];
      }
      const std::int64_t inside = (ys.last - ys.first) * (xs.last - xs.first);
      const std::int64_t padded = (ys.box_last - ys.box_first) * (xs.box_last - xs.box_first);
      *target++ = pooled(kind, 0.0f, sum, count_include_pad ? padded : inside);
    }
  }
}

// Visits every output element of a window op: reduce(plane, taps) with the flat input
// offsets of the taps that fall inside the input, and how many fell inside the padded box.
Tensor pool(const Tensor& x, const Node& node, PoolKind kind, bool count_include_pad) {
  if (x.rank() < 3) invalid(node, "expects input [N, C, spatial...], got " + simulator::shape_to_string(x.shape()));
  const std::vector<std::int64_t> spatial(x.shape().begin() + 2, x.shape().end());
  const std::vector<std::int64_t> kernel = node.attributes.get_ints("kernel_shape");
  if (kernel.empty()) invalid(node, "kernel_shape is required");
  const WindowGeometry w = window_geometry(node, spatial, kernel);
  const std::vector<std::int64_t> pads = node.attributes.get_ints("pads", std::vector<std::int64_t>(2 * w.rank(), 0));
  Shape out_shape{x.dim(0), x.dim(1)};
  out_shape.insert(out_shape.end(), w.output.begin(), w.output.end());
  Tensor out(out_shape);
  std::int64_t in_plane = 1;
  for (std::int64_t extent : spatial) in_plane *= extent;
  const std::int64_t out_plane = w.output_size(), taps = w.window_size(), rank = static_cast<std::int64_t>(w.rank());
  const std::int64_t planes = x.dim(0) * x.dim(1);
#pragma omp parallel for schedule(static) if (planes * out_plane * taps > (1 << 16))
  for (std::int64_t plane = 0; plane < planes; ++plane) {
    const float* source = x.data() + plane * in_plane;
    if (rank == 2) {
      pool_plane_2d(source, out.data() + plane * out_plane, w, pads, kind, count_include_pad);
      continue;
    }
    std::vector<std::int64_t> position(static_cast<std::size_t>(rank), 0), tap(static_cast<std::size_t>(rank), 0);
    for (std::int64_t p = 0; p < out_plane; ++p) {
      float best = -std::numeric_limits<float>::infinity();
      double sum = 0.0;
      std::int64_t inside_count = 0, padded_count = 0;
      std::fill(tap.begin(), tap.end(), 0);
      for (std::int64_t k = 0; k < taps; ++k) {
        std::int64_t offset = 0;
        bool inside = true, in_padded_box = true;
        for (std::size_t d = 0; d < static_cast<std::size_t>(rank); ++d) {
          const std::int64_t c = position[d] * w.strides[d] - w.pad_begin[d] + tap[d] * w.dilations[d];
          inside = inside && c >= 0 && c < w.input[d];
          // The explicit end padding counts for count_include_pad; ceil_mode overhang does not.
          in_padded_box =
              in_padded_box && c >= -w.pad_begin[d] && c < w.input[d] + pads[d + static_cast<std::size_t>(rank)];
          offset = offset * w.input[d] + c;
        }
        if (inside) {
          best = nan_max(best, source[offset]);
          sum += source[offset];
          ++inside_count;
        }
        padded_count += in_padded_box;
        for (std::int64_t d = rank - 1; d >= 0; --d) {
          if (++tap[static_cast<std::size_t>(d)] < w.kernel[static_cast<std::size_t>(d)]) break;
          tap[static_cast<std::size_t>(d)] = 0;
        }
      }
      out[plane * out_plane + p] = pooled(kind, best, sum, count_include_pad ? padded_count : inside_count);
      for (std::int64_t d = rank - 1; d >= 0; --d) {
        if (++position[static_cast<std::size_t>(d)] < w.output[static_cast<std::size_t>(d)]) break;
        position[static_cast<std::size_t>(d)] = 0;
      }
    }
  }
  return out;
}

Kernel max_pool(const Node& node, int) {
  if (node.outputs.size() > 1 && !node.outputs[1].empty()) unsupported(node, "the Indices output is not supported");
  return [&node](Inputs inputs) {
    return std::vector<Value>{Value::floats(pool(input(inputs, 0, node).tensor, node, PoolKind::kMax, false))};
  };
}

Kernel average_pool(const Node& node, int) {
  const bool include_pad = node.attributes.get_int("count_include_pad", 0) != 0;
  return [&node, include_pad](Inputs inputs) {
    return std::vector<Value>{
        Value::floats(pool(input(inputs, 0, node).tensor, node, PoolKind::kAverage, include_pad))};
  };
}

Factory global_pool(PoolKind kind) {
  return [kind](const Node& node, int) -> Kernel {
    return [&node, kind](Inputs inputs) {
      const Tensor& x = input(inputs, 0, node).tensor;
      if (x.rank() < 3) invalid(node, "expects input [N, C, spatial...], got " + simulator::shape_to_string(x.shape()));
      Shape shape(x.shape().size(), 1);
      shape[0] = x.dim(0);
      shape[1] = x.dim(1);
      Tensor out(shape);
      const std::int64_t plane = x.size() / (x.dim(0) * x.dim(1));
      for (std::int64_t c = 0; c < x.dim(0) * x.dim(1); ++c) {
        const float* source = x.data() + c * plane;
        double sum = 0.0;
        float best = -std::numeric_limits<float>::infinity();
        for (std::int64_t k = 0; k < plane; ++k) {
          sum += source[k];
          best = nan_max(best, source[k]);
        }
        out[c] = kind == PoolKind::kMax ? best : static_cast<float>(sum / static_cast<double>(plane));
      }
      return std::vector<Value>{Value::floats(std::move(out))};
    };
  };
}

}  // namespace

void register_pool_ops(Registry& registry) {
  registry["MaxPool"] = max_pool;
  registry["AveragePool"] = average_pool;
  registry["GlobalAveragePool"] = global_pool(PoolKind::kAverage);
  registry["GlobalMaxPool"] = global_pool(PoolKind::kMax);
}

}  // namespace tessera::nn::ops
