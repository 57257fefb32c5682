// What every operator implementation shares: the registry, a function-backed Operator,
// input access with messages, axis normalisation and broadcasting.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/nn/errors.hpp"
#include "tessera/nn/operator.hpp"

namespace tessera::nn::ops {

using Inputs = std::span<const Value* const>;
using Kernel = std::function<std::vector<Value>(Inputs)>;
using Factory = std::function<Kernel(const Node&, int opset)>;
using Registry = std::map<std::string, Factory, std::less<>>;

void register_elementwise_ops(Registry& registry);
void register_linear_ops(Registry& registry);
void register_conv_ops(Registry& registry);
void register_pool_ops(Registry& registry);
void register_normalization_ops(Registry& registry);
void register_shape_ops(Registry& registry);
void register_reduce_ops(Registry& registry);
void register_recurrent_ops(Registry& registry);

/// inputs[index], which must be present.
const Value& input(Inputs inputs, std::size_t index, const Node& node);
/// inputs[index] or null when omitted.
const Value* optional_input(Inputs inputs, std::size_t index);

/// axis in [-rank, rank) -> [0, rank).
int normalize_axis(std::int64_t axis, int rank, const Node& node);

/// numpy broadcasting of two shapes; throws ModelError naming the node when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const Node& node);
/// Row-major strides of `shape` as seen from `target` (0 along broadcast dimensions).
std::vector<std::int64_t> broadcast_strides(const Shape& shape, const Shape& target);

/// out[k] = f(a[ia(k)], b[ib(k)]) over the broadcast shape.
template <class F>
Tensor broadcast_binary(const Tensor& a, const Tensor& b, const Node& node, F f) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), node);
  Tensor out(shape);
  if (a.shape() == b.shape()) {
    for (std::int64_t k = 0; k < out.size(); ++k) out[k] = f(a[k], b[k]);
    return out;
  }
  const auto sa = broadcast_strides(a.shape(), shape);
  const auto sb = broadcast_strides(b.shape(), shape);
  const int rank = static_cast<int>(shape.size());
  std::vector<std::int64_t> index(shape.size(), 0);
  std::int64_t ia = 0, ib = 0;
  for (std::int64_t k = 0; k < out.size(); ++k) {
    out[k] = f(a[ia], b[ib]);
    for (int d = rank - 1; d >= 0; --d) {  // odometer increment
      ++index[static_cast<std::size_t>(d)];
      ia += sa[static_cast<std::size_t>(d)];
      ib += sb[static_cast<std::size_t>(d)];
      if (index[static_cast<std::size_t>(d)] < shape[static_cast<std::size_t>(d)]) break;
      ia -= sa[static_cast<std::size_t>(d)] * shape[static_cast<std::size_t>(d)];
      ib -= sb[static_cast<std::size_t>(d)] * shape[static_cast<std::size_t>(d)];
      index[static_cast<std::size_t>(d)] = 0;
    }
  }
  return out;
}

/// Throws UnsupportedError "<node>: <what>".
[[noreturn]] void unsupported(const Node& node, const std::string& what);
/// Throws ModelError "<node>: <what>".
[[noreturn]] void invalid(const Node& node, const std::string& what);

/// Hardware cannot hold NaN or Inf: refuses `tensor` (e.g. "weight") naming the node, how many
/// values are not finite and the first one's flat index. The float model propagates them.
void require_finite(const Node& node, const Tensor& tensor, const std::string& what);

/// Row-major strides of a shape.
std::vector<std::int64_t> strides_of(const Shape& shape);

}  // namespace tessera::nn::ops
