#include "tessera/nn/operator.hpp"

#include "ops/op_support.hpp"

namespace tessera::nn {
namespace {

const ops::Registry& registry() {
  static const ops::Registry instance = [] {
    ops::Registry r;
    ops::register_elementwise_ops(r);
    ops::register_linear_ops(r);
    ops::register_conv_ops(r);
    ops::register_pool_ops(r);
    ops::register_normalization_ops(r);
    ops::register_shape_ops(r);
    ops::register_reduce_ops(r);
    ops::register_recurrent_ops(r);
    return r;
  }();
  return instance;
}

class KernelOperator final : public Operator {
 public:
  explicit KernelOperator(ops::Kernel kernel) : kernel_(std::move(kernel)) {}
  std::vector<Value> run(std::span<const Value* const> inputs) override { return kernel_(inputs); }

 private:
  ops::Kernel kernel_;
};

}  // namespace

std::unique_ptr<Operator> make_operator(const Node& node, int opset) {
  const auto found = registry().find(node.op_type);
  if (found == registry().end()) ops::unsupported(node, "operator type '" + node.op_type + "' is not supported");
  try {
    return std::make_unique<KernelOperator>(found->second(node, opset));
  } catch (const ModelError&) {
    throw;
  } catch (const std::exception& error) {  // attribute of the wrong type, and the like
    throw ModelError(node.describe() + ": " + error.what());
  }
}

std::vector<std::string_view> supported_op_types() {
  std::vector<std::string_view> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

}  // namespace tessera::nn
