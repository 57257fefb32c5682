// Element-wise operators: activations, arithmetic with numpy broadcasting, Clip, Dropout.
#include <cmath>
#include <limits>

#include "ops/activations.hpp"
#include "ops/op_support.hpp"

namespace tessera::nn::ops {
namespace {

/// A unary op with float attributes read when the node is built.
template <class Make>
Factory unary_with(Make make) {
  return [make](const Node& node, int) -> Kernel {
    auto f = make(node.attributes);
    return [f, &node](Inputs inputs) {
      const Value& x = input(inputs, 0, node);
      Value out{x.type, Tensor(x.tensor.shape())};
      for (std::int64_t k = 0; k < x.tensor.size(); ++k) out.tensor[k] = f(x.tensor[k]);
      return std::vector<Value>{std::move(out)};
    };
  };
}

template <class F>
Factory unary(F f) {
  return unary_with([f](const Attributes&) { return f; });
}

template <class F>
Factory binary(F f) {
  return [f](const Node& node, int opset) -> Kernel {
    if (opset < 7 && node.attributes.has("axis")) {
      unsupported(node, "opset < 7 broadcasting along an explicit axis is not supported");
    }
    return [f, &node](Inputs inputs) {
      const Value& a = input(inputs, 0, node);
      const Value& b = input(inputs, 1, node);
      const bool integer = a.type == DataType::kInt64 && b.type == DataType::kInt64;
      Value out{a.type, broadcast_binary(a.tensor, b.tensor, node, [&](float x, float y) { return f(x, y, integer); })};
      return std::vector<Value>{std::move(out)};
    };
  };
}

Kernel clip(const Node& node, int opset) {
  float low = -std::numeric_limits<float>::infinity();
  float high = std::numeric_limits<float>::infinity();
  if (opset < 11) {
    low = node.attributes.get_float("min", low);
    high = node.attributes.get_float("max", high);
  }
  return [low, high, &node](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    float lo = low, hi = high;
    if (const Value* min_value = optional_input(inputs, 1); min_value != nullptr && min_value->tensor.size() > 0) {
      lo = min_value->tensor[0];
    }
    if (const Value* max_value = optional_input(inputs, 2); max_value != nullptr && max_value->tensor.size() > 0) {
      hi = max_value->tensor[0];
    }
    Value out{x.type, Tensor(x.tensor.shape())};
    for (std::int64_t k = 0; k < x.tensor.size(); ++k) {
      const float v = x.tensor[k];
      out.tensor[k] = std::isnan(v) ? v : std::min(std::max(v, lo), hi);
    }
    return std::vector<Value>{std::move(out)};
  };
}

// Inference: Dropout is the identity; the optional mask output is all true.
Kernel dropout(const Node& node, int) {
  return [&node](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    if (const Value* training = optional_input(inputs, 2); training != nullptr && training->tensor[0] != 0.0f) {
      unsupported(node, "training_mode = true (random dropout) is not simulated");
    }
    std::vector<Value> outputs{x};
    if (node.outputs.size() > 1) outputs.push_back({DataType::kBool, Tensor(x.tensor.shape(), 1.0f)});
    return outputs;
  };
}

Kernel prelu(const Node& node, int opset) {
  return [&node, opset](Inputs inputs) {
    const Value& x = input(inputs, 0, node);
    Tensor slope = input(inputs, 1, node).tensor;
    // Before opset 7 a 1-D slope holds one value per channel (axis 1), not numpy broadcasting.
    if (opset < 7 && slope.rank() == 1 && x.tensor.rank() > 2 && slope.dim(0) == x.tensor.dim(1)) {
      Shape per_channel(static_cast<std::size_t>(x.tensor.rank() - 1), 1);
      per_channel[0] = slope.dim(0);
      slope.reshape(per_channel);
    }
    return std::vector<Value>{
        Value::floats(broadcast_binary(x.tensor, slope, node, [](float v, float s) { return v < 0.0f ? v * s : v; }))};
  };
}

}  // namespace

void register_elementwise_ops(Registry& registry) {
  registry["Relu"] = unary(activation::relu);
  registry["Sigmoid"] = unary(activation::sigmoid);
  registry["Tanh"] = unary(activation::tanh);
  registry["Softsign"] = unary(activation::softsign);
  registry["Softplus"] = unary(activation::softplus);
  registry["Erf"] = unary([](float x) { return std::erf(x); });
  registry["Sqrt"] = unary([](float x) { return std::sqrt(x); });
  registry["Exp"] = unary([](float x) { return std::exp(x); });
  registry["Log"] = unary([](float x) { return std::log(x); });
  registry["Abs"] = unary([](float x) { return std::abs(x); });
  registry["Neg"] = unary([](float x) { return -x; });
  registry["Reciprocal"] = unary([](float x) { return 1.0f / x; });
  registry["Floor"] = unary([](float x) { return std::floor(x); });
  registry["Ceil"] = unary([](float x) { return std::ceil(x); });
  registry["Identity"] = unary([](float x) { return x; });
  registry["HardSwish"] = unary([](float x) { return x * std::min(std::max(x / 6.0f + 0.5f, 0.0f), 1.0f); });
  registry["LeakyRelu"] = unary_with([](const Attributes& a) {
    const float alpha = a.get_float("alpha", 0.01f);
    return [alpha](float x) { return activation::leaky_relu(x, alpha); };
  });
  registry["Elu"] = unary_with([](const Attributes& a) {
    const float alpha = a.get_float("alpha", 1.0f);
    return [alpha](float x) { return activation::elu(x, alpha); };
  });
  registry["Selu"] = unary_with([](const Attributes& a) {
    const float alpha = a.get_float("alpha", 1.67326319217681884765625f);
    const float gamma = a.get_float("gamma", 1.05070102710723876953125f);
    return [alpha, gamma](float x) { return x <= 0.0f ? gamma * (alpha * std::exp(x) - alpha) : gamma * x; };
  });
  registry["HardSigmoid"] = unary_with([](const Attributes& a) {
    const float alpha = a.get_float("alpha", 0.2f);
    const float beta = a.get_float("beta", 0.5f);
    return [alpha, beta](float x) { return activation::hard_sigmoid(x, alpha, beta); };
  });
  registry["Add"] = binary([](float a, float b, bool) { return a + b; });
  registry["Sub"] = binary([](float a, float b, bool) { return a - b; });
  registry["Mul"] = binary([](float a, float b, bool) { return a * b; });
  registry["Div"] = binary([](float a, float b, bool integer) { return integer ? std::trunc(a / b) : a / b; });
  registry["Pow"] = binary([](float a, float b, bool) { return std::pow(a, b); });
  registry["PRelu"] = prelu;
  registry["Clip"] = clip;
  registry["Dropout"] = dropout;
}

}  // namespace tessera::nn::ops
