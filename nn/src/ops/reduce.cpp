// ReduceMean, ReduceSum, ReduceMax, ReduceMin over any set of axes (keepdims,
// noop_with_empty_axes; ReduceSum takes its axes as an input from opset 13).
#include <limits>

#include "ops/op_support.hpp"

namespace tessera::nn::ops {
namespace {

enum class Reduction { kMean, kSum, kMax, kMin };

Factory reduce(Reduction kind) {
  return [kind](const Node& node, int opset) -> Kernel {
    const bool keep = node.attributes.get_int("keepdims", 1) != 0;
    const bool noop_when_empty = node.attributes.get_int("noop_with_empty_axes", 0) != 0;
    const bool axes_from_input = kind == Reduction::kSum && opset >= 13;
    return [=, &node](Inputs inputs) {
      const Value& x = input(inputs, 0, node);
      std::vector<std::int64_t> axes = node.attributes.get_ints("axes");
      if (axes_from_input) {
        const Value* given = optional_input(inputs, 1);
        axes = given != nullptr ? given->to_ints() : std::vector<std::int64_t>{};
      }
      const int rank = x.tensor.rank();
      if (axes.empty() && noop_when_empty) return std::vector<Value>{x};
      std::vector<bool> reduced(static_cast<std::size_t>(rank), axes.empty());
      for (std::int64_t a : axes) reduced[static_cast<std::size_t>(normalize_axis(a, rank, node))] = true;
      Shape kept_shape, out_shape;
      for (int d = 0; d < rank; ++d) {
        const bool r = reduced[static_cast<std::size_t>(d)];
        kept_shape.push_back(r ? 1 : x.tensor.dim(d));
        if (!r || keep) out_shape.push_back(r ? 1 : x.tensor.dim(d));
      }
      const std::int64_t outputs = simulator::element_count(kept_shape);
      std::vector<double> accumulator(static_cast<std::size_t>(outputs),
                                      kind == Reduction::kMax   ? -std::numeric_limits<double>::infinity()
                                      : kind == Reduction::kMin ? std::numeric_limits<double>::infinity()
                                                                : 0.0);
      const std::vector<std::int64_t> out_strides = broadcast_strides(kept_shape, x.tensor.shape());
      std::vector<std::int64_t> index(static_cast<std::size_t>(rank), 0);
      std::int64_t target = 0;
      for (std::int64_t k = 0; k < x.tensor.size(); ++k) {
        double& slot = accumulator[static_cast<std::size_t>(target)];
        const double v = x.tensor[k];
        slot = kind == Reduction::kMax ? std::max(slot, v) : kind == Reduction::kMin ? std::min(slot, v) : slot + v;
        for (int d = rank - 1; d >= 0; --d) {
          const auto u = static_cast<std::size_t>(d);
          ++index[u];
          target += out_strides[u];
          if (index[u] < x.tensor.dim(d)) break;
          target -= out_strides[u] * x.tensor.dim(d);
          index[u] = 0;
        }
      }
      const double count =
          static_cast<double>(x.tensor.size()) / static_cast<double>(std::max<std::int64_t>(outputs, 1));
      Value out{x.type, Tensor(out_shape)};
      for (std::int64_t k = 0; k < outputs; ++k) {
        const double v = accumulator[static_cast<std::size_t>(k)];
        out.tensor[k] = static_cast<float>(kind == Reduction::kMean ? v / count : v);
      }
      return std::vector<Value>{std::move(out)};
    };
  };
}

}  // namespace

void register_reduce_ops(Registry& registry) {
  registry["ReduceMean"] = reduce(Reduction::kMean);
  registry["ReduceSum"] = reduce(Reduction::kSum);
  registry["ReduceMax"] = reduce(Reduction::kMax);
  registry["ReduceMin"] = reduce(Reduction::kMin);
}

}  // namespace tessera::nn::ops
