#include "ops/op_support.hpp"

#include <cmath>

namespace tessera::nn::ops {

const Value& input(Inputs inputs, std::size_t index, const Node& node) {
  if (index >= inputs.size() || inputs[index] == nullptr) {
    invalid(node, "input " + std::to_string(index) + " is required but missing");
  }
  return *inputs[index];
}

const Value* optional_input(Inputs inputs, std::size_t index) {
  return index < inputs.size() ? inputs[index] : nullptr;
}

int normalize_axis(std::int64_t axis, int rank, const Node& node) {
  if (axis < -rank || axis >= rank) {
    invalid(node, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const Node& node) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t d = 0; d < rank; ++d) {
    const std::int64_t da = d + a.size() >= rank ? a[d + a.size() - rank] : 1;
    const std::int64_t db = d + b.size() >= rank ? b[d + b.size() - rank] : 1;
    if (da != db && da != 1 && db != 1) {
      invalid(node,
              "cannot broadcast shapes " + simulator::shape_to_string(a) + " and " + simulator::shape_to_string(b));
    }
    out[d] = da == 1 ? db : da;
  }
  return out;
}

std::vector<std::int64_t> strides_of(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) {
    strides[static_cast<std::size_t>(d)] =
        strides[static_cast<std::size_t>(d) + 1] * shape[static_cast<std::size_t>(d) + 1];
  }
  return strides;
}

std::vector<std::int64_t> broadcast_strides(const Shape& shape, const Shape& target) {
  const std::vector<std::int64_t> own = strides_of(shape);
  std::vector<std::int64_t> strides(target.size(), 0);
  const std::size_t offset = target.size() - shape.size();
  for (std::size_t d = 0; d < shape.size(); ++d) strides[offset + d] = shape[d] == 1 ? 0 : own[d];
  return strides;
}

void unsupported(const Node& node, const std::string& what) { throw UnsupportedError(node.describe() + ": " + what); }

void invalid(const Node& node, const std::string& what) { throw ModelError(node.describe() + ": " + what); }

void require_finite(const Node& node, const Tensor& tensor, const std::string& what) {
  std::int64_t count = 0, first = -1;
  for (std::int64_t i = 0; i < tensor.size(); ++i) {
    if (std::isfinite(tensor[i])) continue;
    if (count++ == 0) first = i;
  }
  if (count > 0) {
    invalid(node, "the " + what + " holds " + std::to_string(count) + " NaN or Inf value(s), the first at flat index " +
                      std::to_string(first) + "; hardware cannot hold them (the float model would propagate them)");
  }
}

}  // namespace tessera::nn::ops
