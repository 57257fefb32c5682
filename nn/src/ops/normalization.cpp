// BatchNormalization (inference), InstanceNormalization, LayerNormalization, Softmax and
// LogSoftmax (with the opset < 13 "coerce to 2-D" semantics).
#include <cmath>
#include <limits>

#include "ops/op_support.hpp"

namespace tessera::nn::ops {
namespace {

Kernel batch_norm(const Node& node, int) {
  if (node.attributes.get_int("training_mode", 0) != 0 || node.outputs.size() > 1) {
    unsupported(node, "training mode (running statistics outputs) is not simulated");
  }
  const float epsilon = node.attributes.get_float("epsilon", 1e-5f);
  return [&node, epsilon](Inputs inputs) {
    const Tensor& x = input(inputs, 0, node).tensor;
    const Tensor& scale = input(inputs, 1, node).tensor;
    const Tensor& bias = input(inputs, 2, node).tensor;
    const Tensor& mean = input(inputs, 3, node).tensor;
    const Tensor& var = input(inputs, 4, node).tensor;
    if (x.rank() < 2 || scale.size() != x.dim(1) || bias.size() != x.dim(1) || mean.size() != x.dim(1) ||
        var.size() != x.dim(1)) {
      invalid(node,
              "scale, B, mean and var must have one value per channel of " + simulator::shape_to_string(x.shape()));
    }
    Tensor out(x.shape());
    const std::int64_t channels = x.dim(1), plane = x.size() / std::max<std::int64_t>(x.dim(0) * channels, 1);
    for (std::int64_t n = 0; n < x.dim(0); ++n) {
      for (std::int64_t c = 0; c < channels; ++c) {
        const float factor = scale[c] / std::sqrt(var[c] + epsilon);
        const std::int64_t base = (n * channels + c) * plane;
        for (std::int64_t k = 0; k < plane; ++k) out[base + k] = (x[base + k] - mean[c]) * factor + bias[c];
      }
    }
    return std::vector<Value>{Value::floats(std::move(out))};
  };
}

// Normalises each of `groups` contiguous runs of `length` values, then applies
// scale[k % scale_period] and bias likewise (or per group when per_group_affine).
void normalize_runs(const Tensor& x, Tensor& out, std::int64_t length, float epsilon, const Tensor& scale,
                    const Tensor* bias, bool per_channel, std::int64_t channels) {
  const std::int64_t runs = x.size() / std::max<std::int64_t>(length, 1);
  for (std::int64_t r = 0; r < runs; ++r) {
    const float* source = x.data() + r * length;
    double mean = 0.0, squares = 0.0;
    for (std::int64_t k = 0; k < length; ++k) mean += source[k];
    mean /= static_cast<double>(length);
    for (std::int64_t k = 0; k < length; ++k) squares += (source[k] - mean) * (source[k] - mean);
    const double inv_std = 1.0 / std::sqrt(squares / static_cast<double>(length) + epsilon);
    for (std::int64_t k = 0; k < length; ++k) {
      const std::int64_t index = per_channel ? r % channels : k;
      const float normalised = static_cast<float>((source[k] - mean) * inv_std);
      out[r * length + k] = normalised * scale[index] + (bias != nullptr ? (*bias)[index] : 0.0f);
    }
  }
}

Kernel instance_norm(const Node& node, int) {
  const float epsilon = node.attributes.get_float("epsilon", 1e-5f);
  return [&node, epsilon](Inputs inputs) {
    const Tensor& x = input(inputs, 0, node).tensor;
    const Tensor& scale = input(inputs, 1, node).tensor;
    const Tensor& bias = input(inputs, 2, node).tensor;
    if (x.rank() < 3 || scale.size() != x.dim(1) || bias.size() != x.dim(1)) {
      invalid(node, "expects [N, C, spatial...] input and per-channel scale and B");
    }
    Tensor out(x.shape());
    normalize_runs(x, out, x.size() / (x.dim(0) * x.dim(1)), epsilon, scale, &bias, true, x.dim(1));
    return std::vector<Value>{Value::floats(std::move(out))};
  };
}

Kernel layer_norm(const Node& node, int) {
  if (node.outputs.size() > 1) unsupported(node, "the Mean and InvStdDev outputs are not supported");
  const std::int64_t axis_attribute = node.attributes.get_int("axis", -1);
  const float epsilon = node.attributes.get_float("epsilon", 1e-5f);
  return [&node, axis_attribute, epsilon](Inputs inputs) {
    const Tensor& x = input(inputs, 0, node).tensor;
    const int axis = normalize_axis(axis_attribute, x.rank(), node);
    std::int64_t length = 1;
    for (int d = axis; d < x.rank(); ++d) length *= x.dim(d);
    const Tensor& scale = input(inputs, 1, node).tensor;
    const Value* bias = optional_input(inputs, 2);
    if (scale.size() != length || (bias != nullptr && bias->tensor.size() != length)) {
      invalid(node, "Scale and B must cover the normalised axes (" + std::to_string(length) + " values)");
    }
    Tensor out(x.shape());
    normalize_runs(x, out, length, epsilon, scale, bias != nullptr ? &bias->tensor : nullptr, false, 0);
    return std::vector<Value>{Value::floats(std::move(out))};
  };
}

Factory softmax(bool log) {
  return [log](const Node& node, int opset) -> Kernel {
    const std::int64_t axis_attribute = node.attributes.get_int("axis", opset < 13 ? 1 : -1);
    return [&node, axis_attribute, log, opset](Inputs inputs) {
      const Tensor& x = input(inputs, 0, node).tensor;
      const int axis = normalize_axis(axis_attribute, x.rank(), node);
      // opset < 13: the input is a 2-D [prod(dims < axis), prod(dims >= axis)] matrix.
      std::int64_t length = 1, inner = 1;
      if (opset < 13) {
        for (int d = axis; d < x.rank(); ++d) length *= x.dim(d);
      } else {
        length = x.dim(axis);
        for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
      }
      Tensor out(x.shape());
      const std::int64_t outer = x.size() / std::max<std::int64_t>(length * inner, 1);
      for (std::int64_t o = 0; o < outer; ++o) {
        for (std::int64_t i = 0; i < inner; ++i) {
          const std::int64_t base = o * length * inner + i;
          float largest = -std::numeric_limits<float>::infinity();
          for (std::int64_t k = 0; k < length; ++k) largest = std::max(largest, x[base + k * inner]);
          double sum = 0.0;
          for (std::int64_t k = 0; k < length; ++k) sum += std::exp(static_cast<double>(x[base + k * inner] - largest));
          for (std::int64_t k = 0; k < length; ++k) {
            const double shifted = x[base + k * inner] - largest;
            out[base + k * inner] = static_cast<float>(log ? shifted - std::log(sum) : std::exp(shifted) / sum);
          }
        }
      }
      return std::vector<Value>{Value::floats(std::move(out))};
    };
  };
}

}  // namespace

void register_normalization_ops(Registry& registry) {
  registry["BatchNormalization"] = batch_norm;
  registry["InstanceNormalization"] = instance_norm;
  registry["LayerNormalization"] = layer_norm;
  registry["Softmax"] = softmax(false);
  registry["LogSoftmax"] = softmax(true);
}

}  // namespace tessera::nn::ops
