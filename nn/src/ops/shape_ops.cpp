// Operators that move or select data without arithmetic: Flatten, Reshape, Transpose,
// Squeeze, Unsqueeze, Concat, Split, Slice, Gather, Shape, Constant, ConstantOfShape, Pad, Cast.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "ops/op_support.hpp"

namespace tessera::nn::ops {
namespace {

std::vector<Value> one(Value value) {
  std::vector<Value> out;
  out.push_back(std::move(value));
  return out;
}

Value reshaped(const Value& x, Shape shape) {
  Value out = x;
  out.tensor.reshape(std::move(shape));
  return out;
}

Kernel flatten(const Node& node, int) {
  const std::int64_t axis_attribute = node.attributes.get_int("axis", 1);
  return [&node, axis_attribute](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    const int rank = x.tensor.rank();
    const int axis = axis_attribute < 0 ? static_cast<int>(axis_attribute + rank) : static_cast<int>(axis_attribute);
    if (axis < 0 || axis > rank) invalid(node, "axis " + std::to_string(axis_attribute) + " is out of range");
    std::int64_t outer = 1;
    for (int d = 0; d < axis; ++d) outer *= x.tensor.dim(d);
    return one(reshaped(x, {outer, x.tensor.size() / std::max<std::int64_t>(outer, 1)}));
  };
}

Kernel reshape(const Node& node, int opset) {
  if (opset < 5) unsupported(node, "Reshape-1 (shape as an attribute) is not supported");
  const bool allow_zero = node.attributes.get_int("allowzero", 0) != 0;
  return [&node, allow_zero](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    const std::vector<std::int64_t> requested = input(inputs, 1, node).to_ints();
    Shape shape(requested.size());
    std::int64_t known = 1;
    int inferred = -1;
    for (std::size_t d = 0; d < requested.size(); ++d) {
      if (requested[d] == 0 && !allow_zero) {
        if (static_cast<int>(d) >= x.tensor.rank()) invalid(node, "0 in shape refers to a missing input dimension");
        shape[d] = x.tensor.dim(static_cast<int>(d));
      } else if (requested[d] == -1) {
        if (inferred >= 0) invalid(node, "at most one -1 is allowed in the shape");
        inferred = static_cast<int>(d);
        continue;
      } else if (requested[d] < 0) {
        invalid(node, "shape entry " + std::to_string(requested[d]) + " (only -1, 0 and sizes >= 1 are allowed)");
      } else {
        shape[d] = requested[d];
      }
      if (shape[d] > 0 && known > simulator::kMaxTensorElements / shape[d]) {
        invalid(node, "the requested shape holds more than 2^32 elements");
      }
      known *= shape[d];
    }
    if (inferred >= 0) shape[static_cast<std::size_t>(inferred)] = known == 0 ? 0 : x.tensor.size() / known;
    if (simulator::element_count(shape) != x.tensor.size()) {
      invalid(node, "cannot reshape " + simulator::shape_to_string(x.tensor.shape()) + " to " +
                        simulator::shape_to_string(shape));
    }
    return one(reshaped(x, shape));
  };
}

Value transpose(const Value& x, const std::vector<std::int64_t>& perm_in, const Node& node) {
  const int rank = x.tensor.rank();
  std::vector<std::int64_t> perm = perm_in;
  if (perm.empty()) {
    perm.resize(static_cast<std::size_t>(rank));
    std::iota(perm.rbegin(), perm.rend(), 0);
  }
  if (static_cast<int>(perm.size()) != rank) {
    invalid(node, "perm has " + std::to_string(perm.size()) + " entries for an input of rank " + std::to_string(rank));
  }
  Shape shape(perm.size());
  for (std::size_t d = 0; d < perm.size(); ++d) shape[d] = x.tensor.dim(static_cast<int>(perm[d]));
  const std::vector<std::int64_t> in_strides = strides_of(x.tensor.shape());
  std::vector<std::int64_t> strides(perm.size());
  for (std::size_t d = 0; d < perm.size(); ++d) strides[d] = in_strides[static_cast<std::size_t>(perm[d])];
  Value out{x.type, Tensor(shape)};
  std::vector<std::int64_t> index(perm.size(), 0);
  std::int64_t source = 0;
  for (std::int64_t k = 0; k < out.tensor.size(); ++k) {
    out.tensor[k] = x.tensor[source];
    for (int d = rank - 1; d >= 0; --d) {
      const auto u = static_cast<std::size_t>(d);
      ++index[u];
      source += strides[u];
      if (index[u] < shape[u]) break;
      source -= strides[u] * shape[u];
      index[u] = 0;
    }
  }
  return out;
}

// ONNX: perm is a permutation of 0 .. rank-1 (no repeats, no negative axes).
void check_permutation(const Node& node, const std::vector<std::int64_t>& perm) {
  std::vector<bool> seen(perm.size(), false);
  for (std::int64_t axis : perm) {
    if (axis < 0 || axis >= static_cast<std::int64_t>(perm.size()) || seen[static_cast<std::size_t>(axis)]) {
      std::string listing;
      for (std::int64_t a : perm) listing += (listing.empty() ? "" : ", ") + std::to_string(a);
      invalid(node, "perm must be a permutation of 0.." + std::to_string(perm.size() - 1) + ", found [" + listing + "]");
    }
    seen[static_cast<std::size_t>(axis)] = true;
  }
}

Kernel transpose_op(const Node& node, int) {
  const std::vector<std::int64_t> perm = node.attributes.get_ints("perm");
  check_permutation(node, perm);
  return [&node, perm](Inputs inputs) { return one(transpose(input(inputs, 0, node), perm, node)); };
}

/// Axes from the attribute (older opsets) or the optional second input.
std::vector<std::int64_t> axes_of(const Node& node, Inputs inputs, int opset, int input_since) {
  if (opset < input_since) return node.attributes.get_ints("axes");
  const Value* axes = optional_input(inputs, 1);
  return axes != nullptr ? axes->to_ints() : std::vector<std::int64_t>{};
}

Kernel squeeze(const Node& node, int opset) {
  return [&node, opset](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    std::vector<std::int64_t> axes = axes_of(node, inputs, opset, 13);
    std::vector<bool> drop(static_cast<std::size_t>(x.tensor.rank()), false);
    for (std::int64_t axis : axes) drop[static_cast<std::size_t>(normalize_axis(axis, x.tensor.rank(), node))] = true;
    Shape shape;
    for (int d = 0; d < x.tensor.rank(); ++d) {
      const bool squeeze_it = axes.empty() ? x.tensor.dim(d) == 1 : drop[static_cast<std::size_t>(d)];
      if (squeeze_it && x.tensor.dim(d) != 1)
        invalid(node, "cannot squeeze axis " + std::to_string(d) + " of size " + std::to_string(x.tensor.dim(d)));
      if (!squeeze_it) shape.push_back(x.tensor.dim(d));
    }
    return one(reshaped(x, shape));
  };
}

Kernel unsqueeze(const Node& node, int opset) {
  return [&node, opset](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    const std::vector<std::int64_t> axes = axes_of(node, inputs, opset, 13);
    const int rank = x.tensor.rank() + static_cast<int>(axes.size());
    std::vector<bool> inserted(static_cast<std::size_t>(rank), false);
    for (std::int64_t axis : axes) {
      const int a = normalize_axis(axis, rank, node);
      if (inserted[static_cast<std::size_t>(a)]) invalid(node, "axis " + std::to_string(axis) + " appears twice");
      inserted[static_cast<std::size_t>(a)] = true;
    }
    Shape shape;
    int source = 0;
    for (int d = 0; d < rank; ++d) shape.push_back(inserted[static_cast<std::size_t>(d)] ? 1 : x.tensor.dim(source++));
    return one(reshaped(x, shape));
  };
}

Kernel concat(const Node& node, int) {
  const std::int64_t axis_attribute = node.attributes.get_int("axis", 0);
  return [&node, axis_attribute](Inputs inputs) {
    const Value& first = input(inputs, 0, node);
    const int rank = first.tensor.rank();
    const int axis = normalize_axis(axis_attribute, rank, node);
    Shape shape = first.tensor.shape();
    shape[static_cast<std::size_t>(axis)] = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = input(inputs, i, node).tensor;
      if (t.rank() != rank) {
        invalid(node, "input " + std::to_string(i) + " has rank " + std::to_string(t.rank()) + ", input 0 rank " +
                          std::to_string(rank));
      }
      for (int d = 0; d < rank; ++d) {
        if (d != axis && (t.rank() != rank || t.dim(d) != first.tensor.dim(d))) {
          invalid(node, "inputs " + simulator::shape_to_string(first.tensor.shape()) + " and " +
                            simulator::shape_to_string(t.shape()) + " differ outside the concat axis");
        }
      }
      shape[static_cast<std::size_t>(axis)] += t.dim(axis);
    }
    Value out{first.type, Tensor(shape)};
    std::int64_t outer = 1;
    for (int d = 0; d < axis; ++d) outer *= shape[static_cast<std::size_t>(d)];
    const std::int64_t out_row = out.tensor.size() / std::max<std::int64_t>(outer, 1);
    std::int64_t column = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = inputs[i]->tensor;
      const std::int64_t row = t.size() / std::max<std::int64_t>(outer, 1);
      for (std::int64_t o = 0; o < outer; ++o)
        std::copy(t.data() + o * row, t.data() + (o + 1) * row, out.tensor.data() + o * out_row + column);
      column += row;
    }
    return one(std::move(out));
  };
}

/// Copies the slab [start, start + length) of `axis` from x.
Value slab(const Value& x, int axis, std::int64_t start, std::int64_t length) {
  Shape shape = x.tensor.shape();
  shape[static_cast<std::size_t>(axis)] = length;
  Value out{x.type, Tensor(shape)};
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.tensor.dim(d);
  for (int d = axis + 1; d < x.tensor.rank(); ++d) inner *= x.tensor.dim(d);
  const std::int64_t extent = x.tensor.dim(axis);
  for (std::int64_t o = 0; o < outer; ++o) {
    const float* source = x.tensor.data() + (o * extent + start) * inner;
    std::copy(source, source + length * inner, out.tensor.data() + o * length * inner);
  }
  return out;
}

Kernel split(const Node& node, int opset) {
  const std::int64_t axis_attribute = node.attributes.get_int("axis", 0);
  return [&node, opset, axis_attribute](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    const int axis = normalize_axis(axis_attribute, x.tensor.rank(), node);
    std::vector<std::int64_t> sizes = axes_of(node, inputs, opset, 13);
    if (opset < 13) sizes = node.attributes.get_ints("split");
    const auto parts = static_cast<std::int64_t>(node.outputs.size());
    const std::int64_t extent = x.tensor.dim(axis);
    if (sizes.empty()) {
      if (extent % parts != 0)
        invalid(node, "cannot split " + std::to_string(extent) + " evenly into " + std::to_string(parts));
      sizes.assign(static_cast<std::size_t>(parts), extent / parts);
    }
    if (static_cast<std::int64_t>(sizes.size()) != parts ||
        std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0}) != extent) {
      invalid(node, "split sizes do not add up to the axis length " + std::to_string(extent));
    }
    std::vector<Value> out;
    std::int64_t start = 0;
    for (std::int64_t size : sizes) {
      out.push_back(slab(x, axis, start, size));
      start += size;
    }
    return out;
  };
}

Kernel slice(const Node& node, int opset) {
  return [&node, opset](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    const int rank = x.tensor.rank();
    std::vector<std::int64_t> starts, ends, axes, steps;
    if (opset < 10) {
      starts = node.attributes.get_ints("starts");
      ends = node.attributes.get_ints("ends");
      axes = node.attributes.get_ints("axes");
    } else {
      starts = input(inputs, 1, node).to_ints();
      ends = input(inputs, 2, node).to_ints();
      if (const Value* a = optional_input(inputs, 3)) axes = a->to_ints();
      if (const Value* s = optional_input(inputs, 4)) steps = s->to_ints();
    }
    if (axes.empty()) {
      axes.resize(starts.size());
      std::iota(axes.begin(), axes.end(), 0);
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
      invalid(node, "starts, ends, axes and steps must have the same length");
    }
    std::vector<std::int64_t> first(static_cast<std::size_t>(rank), 0), step(static_cast<std::size_t>(rank), 1);
    Shape shape = x.tensor.shape();
    for (std::size_t i = 0; i < starts.size(); ++i) {
      const auto d = static_cast<std::size_t>(normalize_axis(axes[i], rank, node));
      const std::int64_t extent = x.tensor.dim(static_cast<int>(d));
      if (steps[i] == 0) invalid(node, "steps must not be 0");
      // A step longer than the axis takes one element at most, whatever its size: clamped, so
      // that no arithmetic below overflows (a step of -2^63 could not even be negated).
      const std::int64_t stride = std::clamp<std::int64_t>(steps[i], -(extent + 1), extent + 1);
      auto clamp_index = [&](std::int64_t v, std::int64_t lo, std::int64_t hi) {
        if (v < 0) v = v < -extent ? -1 : v + extent;  // -1 marks "before the start"
        return std::min(std::max(v, lo), hi);
      };
      std::int64_t begin = 0, end = 0;
      if (stride > 0) {
        begin = clamp_index(starts[i], 0, extent);
        end = clamp_index(ends[i], 0, extent);
        shape[d] = std::max<std::int64_t>(0, (end - begin + stride - 1) / stride);
      } else {
        begin = clamp_index(starts[i], -1, extent - 1);
        end = clamp_index(ends[i], -1, extent - 1);
        shape[d] = std::max<std::int64_t>(0, (begin - end + (-stride) - 1) / (-stride));
      }
      first[d] = begin;
      step[d] = stride;
    }
    Value out{x.type, Tensor(shape)};
    const std::vector<std::int64_t> strides = strides_of(x.tensor.shape());
    std::vector<std::int64_t> index(static_cast<std::size_t>(rank), 0);
    for (std::int64_t k = 0; k < out.tensor.size(); ++k) {
      std::int64_t source = 0;
      for (std::size_t d = 0; d < index.size(); ++d) source += (first[d] + index[d] * step[d]) * strides[d];
      out.tensor[k] = x.tensor[source];
      for (int d = rank - 1; d >= 0; --d) {
        if (++index[static_cast<std::size_t>(d)] < shape[static_cast<std::size_t>(d)]) break;
        index[static_cast<std::size_t>(d)] = 0;
      }
    }
    return one(std::move(out));
  };
}

Kernel gather(const Node& node, int) {
  const std::int64_t axis_attribute = node.attributes.get_int("axis", 0);
  return [&node, axis_attribute](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    const Value& indices = input(inputs, 1, node);
    const int axis = normalize_axis(axis_attribute, x.tensor.rank(), node);
    Shape shape(x.tensor.shape().begin(), x.tensor.shape().begin() + axis);
    shape.insert(shape.end(), indices.tensor.shape().begin(), indices.tensor.shape().end());
    shape.insert(shape.end(), x.tensor.shape().begin() + axis + 1, x.tensor.shape().end());
    std::int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.tensor.dim(d);
    for (int d = axis + 1; d < x.tensor.rank(); ++d) inner *= x.tensor.dim(d);
    const std::int64_t extent = x.tensor.dim(axis);
    const std::vector<std::int64_t> picks = indices.to_ints();
    Value out{x.type, Tensor(shape)};
    float* target = out.tensor.data();
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::int64_t pick : picks) {
        if (pick < -extent || pick >= extent)
          invalid(node, "index " + std::to_string(pick) + " is out of range for axis length " + std::to_string(extent));
        const std::int64_t row = pick < 0 ? pick + extent : pick;
        const float* source = x.tensor.data() + (o * extent + row) * inner;
        target = std::copy(source, source + inner, target);
      }
    }
    return one(std::move(out));
  };
}

Kernel shape_op(const Node& node, int) {
  const std::int64_t start_attribute = node.attributes.get_int("start", 0);
  const std::int64_t end_attribute = node.attributes.get_int("end", std::numeric_limits<std::int64_t>::max());
  return [&node, start_attribute, end_attribute](Inputs inputs) {
    const Shape& shape = input(inputs, 0, node).tensor.shape();
    const auto rank = static_cast<std::int64_t>(shape.size());
    auto clamp_axis = [rank](std::int64_t a) { return std::clamp(a < 0 ? a + rank : a, std::int64_t{0}, rank); };
    const std::int64_t begin = clamp_axis(start_attribute), end = clamp_axis(end_attribute);
    return one(Value::ints(std::vector<std::int64_t>(shape.begin() + begin, shape.begin() + std::max(begin, end))));
  };
}

Kernel constant(const Node& node, int) {
  const Attributes& a = node.attributes;
  Value value;
  if (a.has("value")) {
    value = a.get_tensor("value");
  } else if (a.has("value_float")) {
    value = Value::floats(Tensor({}, a.get_float("value_float", 0.0f)));
  } else if (a.has("value_floats")) {
    const std::vector<float> v = a.get_floats("value_floats");
    value = Value::floats(Tensor({static_cast<std::int64_t>(v.size())}, v));
  } else if (a.has("value_int")) {
    value = Value::ints({a.get_int("value_int", 0)}, Shape{});
  } else if (a.has("value_ints")) {
    value = Value::ints(a.get_ints("value_ints"));
  } else {
    unsupported(node, "only value, value_float(s) and value_int(s) constants are supported");
  }
  return [value](Inputs) { return one(value); };
}

Kernel constant_of_shape(const Node& node, int) {
  Value fill = node.attributes.has("value") ? node.attributes.get_tensor("value") : Value::floats(Tensor({1}, 0.0f));
  return [&node, fill](Inputs inputs) {
    const std::vector<std::int64_t> dims = input(inputs, 0, node).to_ints();
    return one(
        Value{fill.type, Tensor(Shape(dims.begin(), dims.end()), fill.tensor.size() > 0 ? fill.tensor[0] : 0.0f)});
  };
}

Kernel pad(const Node& node, int opset) {
  const std::string mode = node.attributes.get_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") unsupported(node, "pad mode '" + mode + "'");
  return [&node, opset, mode](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    const int rank = x.tensor.rank();
    std::vector<std::int64_t> pads;
    float fill = 0.0f;
    if (opset < 11) {
      pads = node.attributes.get_ints("pads");
      fill = node.attributes.get_float("value", 0.0f);
    } else {
      pads = input(inputs, 1, node).to_ints();
      if (const Value* c = optional_input(inputs, 2); c != nullptr && c->tensor.size() > 0) fill = c->tensor[0];
      if (optional_input(inputs, 3) != nullptr) unsupported(node, "the axes input is not supported");
    }
    if (static_cast<int>(pads.size()) != 2 * rank) invalid(node, "pads must have 2 * rank values");
    for (std::int64_t p : pads) {
      if (p > simulator::kMaxTensorElements || p < -simulator::kMaxTensorElements) {
        invalid(node, "pad " + std::to_string(p) + " is beyond any tensor's size");
      }
    }
    if (mode != "constant") {
      for (int d = 0; d < rank; ++d) {
        if (x.tensor.dim(d) == 0 && (pads[static_cast<std::size_t>(d)] > 0 || pads[static_cast<std::size_t>(d + rank)] > 0)) {
          invalid(node, mode + " padding of an empty axis");
        }
      }
    }
    Shape shape = x.tensor.shape();
    for (int d = 0; d < rank; ++d) {
      shape[static_cast<std::size_t>(d)] +=
          pads[static_cast<std::size_t>(d)] + pads[static_cast<std::size_t>(d + rank)];
      if (shape[static_cast<std::size_t>(d)] < 0) invalid(node, "negative padding removes more than the axis holds");
    }
    Value out{x.type, Tensor(shape)};
    const std::vector<std::int64_t> strides = strides_of(x.tensor.shape());
    std::vector<std::int64_t> index(static_cast<std::size_t>(rank), 0);
    for (std::int64_t k = 0; k < out.tensor.size(); ++k) {
      std::int64_t source = 0;
      bool inside = true;
      for (int d = 0; d < rank; ++d) {
        const auto u = static_cast<std::size_t>(d);
        const std::int64_t extent = x.tensor.dim(d);
        std::int64_t c = index[u] - pads[u];
        if (c < 0 || c >= extent) {
          if (mode == "constant") {
            inside = false;
          } else if (mode == "edge") {
            c = std::clamp<std::int64_t>(c, 0, extent - 1);
          } else {  // reflect, without repeating the edge
            const std::int64_t period = std::max<std::int64_t>(2 * (extent - 1), 1);
            c = ((c % period) + period) % period;
            if (c >= extent) c = period - c;
          }
        }
        source += c * strides[u];
      }
      out.tensor[k] = inside ? x.tensor[source] : fill;
      for (int d = rank - 1; d >= 0; --d) {
        if (++index[static_cast<std::size_t>(d)] < shape[static_cast<std::size_t>(d)]) break;
        index[static_cast<std::size_t>(d)] = 0;
      }
    }
    return one(std::move(out));
  };
}

Kernel cast(const Node& node, int) {
  const std::int64_t to = node.attributes.get_int("to", 1);
  // TensorProto codes: 1 FLOAT, 6 INT32, 7 INT64, 9 BOOL.
  if (to != 1 && to != 6 && to != 7 && to != 9) unsupported(node, "cast to element type " + std::to_string(to));
  return [&node, to](Inputs inputs) {
    Value out = input(inputs, 0, node);
    if (to == 1) {
      out.type = DataType::kFloat;
    } else if (to == 9) {
      out.type = DataType::kBool;
      for (float& v : out.tensor.values()) v = v != 0.0f ? 1.0f : 0.0f;
    } else {
      out.type = DataType::kInt64;
      for (float& v : out.tensor.values()) v = std::trunc(v);
    }
    return one(std::move(out));
  };
}

// numpy broadcasting of the input to a shape (ONNX Expand: dimensions of 1 on either side
// stretch), keeping the input's element type.
Kernel expand(const Node& node, int) {
  return [&node](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    const std::vector<std::int64_t> wanted = input(inputs, 1, node).to_ints();
    for (std::int64_t extent : wanted) {
      if (extent < 0) invalid(node, "the shape to expand to has a negative extent");
    }
    const Tensor target(Shape(wanted.begin(), wanted.end()), 0.0f);
    Value out{x.type, broadcast_binary(x.tensor, target, node, [](float value, float) { return value; })};
    return one(std::move(out));
  };
}

}  // namespace

void register_shape_ops(Registry& registry) {
  registry["Expand"] = expand;
  registry["Flatten"] = flatten;
  registry["Reshape"] = reshape;
  registry["Transpose"] = transpose_op;
  registry["Squeeze"] = squeeze;
  registry["Unsqueeze"] = unsqueeze;
  registry["Concat"] = concat;
  registry["Split"] = split;
  registry["Slice"] = slice;
  registry["Gather"] = gather;
  registry["Shape"] = shape_op;
  registry["Constant"] = constant;
  registry["ConstantOfShape"] = constant_of_shape;
  registry["Pad"] = pad;
  registry["Cast"] = cast;
}

}  // namespace tessera::nn::ops
