// Gemm and MatMul (numpy semantics: 1-D operands promoted, batch dimensions broadcast).
#include "ops/linear.hpp"

#include "ops/op_support.hpp"
#include "tessera/simulator/matmul.hpp"

namespace tessera::nn::ops {

Tensor transpose_matrix(const Tensor& m) {
  Tensor t({m.dim(1), m.dim(0)});
  for (std::int64_t i = 0; i < m.dim(0); ++i) {
    for (std::int64_t j = 0; j < m.dim(1); ++j) t[j * m.dim(0) + i] = m[i * m.dim(1) + j];
  }
  return t;
}

Tensor matmul_nd(const Tensor& a_in, const Tensor& b_in, const Node& node) {
  Tensor a = a_in, b = b_in;
  const bool a_vector = a.rank() == 1, b_vector = b.rank() == 1;
  if (a.rank() == 0 || b.rank() == 0) invalid(node, "MatMul operands must have rank >= 1");
  if (a_vector) a.reshape({1, a.dim(0)});
  if (b_vector) b.reshape({b.dim(0), 1});
  const std::int64_t m = a.dim(a.rank() - 2), k = a.dim(a.rank() - 1);
  const std::int64_t k2 = b.dim(b.rank() - 2), n = b.dim(b.rank() - 1);
  if (k != k2) {
    invalid(node, "cannot multiply " + simulator::shape_to_string(a_in.shape()) + " by " +
                      simulator::shape_to_string(b_in.shape()));
  }
  const Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(batch_a, batch_b, node);
  const std::int64_t batches = simulator::element_count(batch);
  const auto sa = broadcast_strides(batch_a, batch), sb = broadcast_strides(batch_b, batch);
  const auto strides = strides_of(batch);
  Shape out_shape = batch;
  if (!a_vector) out_shape.push_back(m);
  if (!b_vector) out_shape.push_back(n);
  Tensor out(out_shape);
  Tensor left({m, k}), right({k, n}), product({m, n});
  for (std::int64_t p = 0; p < batches; ++p) {
    std::int64_t offset_a = 0, offset_b = 0, rest = p;
    for (std::size_t d = 0; d < batch.size(); ++d) {
      const std::int64_t index = rest / strides[d];
      rest %= strides[d];
      offset_a += index * sa[d];
      offset_b += index * sb[d];
    }
    std::copy(a.data() + offset_a * m * k, a.data() + (offset_a + 1) * m * k, left.data());
    std::copy(b.data() + offset_b * k * n, b.data() + (offset_b + 1) * k * n, right.data());
    simulator::matmul(left, right, product);
    std::copy(product.data(), product.data() + m * n, out.data() + p * m * n);
  }
  return out;
}

namespace {

Kernel gemm(const Node& node, int) {
  const float alpha = node.attributes.get_float("alpha", 1.0f);
  const float beta = node.attributes.get_float("beta", 1.0f);
  const bool trans_a = node.attributes.get_int("transA", 0) != 0;
  const bool trans_b = node.attributes.get_int("transB", 0) != 0;
  return [=, &node](Inputs inputs) {
    const Tensor& a = input(inputs, 0, node).tensor;
    const Tensor& b = input(inputs, 1, node).tensor;
    if (a.rank() != 2 || b.rank() != 2) invalid(node, "Gemm operands must be matrices");
    const Tensor left = trans_a ? transpose_matrix(a) : a;
    Tensor out({left.dim(0), trans_b ? b.dim(0) : b.dim(1)});
    if ((trans_b ? b.dim(1) : b.dim(0)) != left.dim(1)) {
      invalid(node, "cannot multiply " + simulator::shape_to_string(a.shape()) + " by " +
                        simulator::shape_to_string(b.shape()) + (trans_b ? "^T" : ""));
    }
    if (trans_b) {
      simulator::matmul_transposed(left, b, out);
    } else {
      simulator::matmul(left, b, out);
    }
    if (alpha != 1.0f) {
      for (float& v : out.values()) v *= alpha;
    }
    if (const Value* c = optional_input(inputs, 2); c != nullptr && c->tensor.size() > 0) {
      out = broadcast_binary(out, c->tensor, node, [beta](float y, float bias) { return y + beta * bias; });
    }
    return std::vector<Value>{Value::floats(std::move(out))};
  };
}

Kernel matmul(const Node& node, int) {
  return [&node](Inputs inputs) {
    return std::vector<Value>{
        Value::floats(matmul_nd(input(inputs, 0, node).tensor, input(inputs, 1, node).tensor, node))};
  };
}

}  // namespace

void register_linear_ops(Registry& registry) {
  registry["Gemm"] = gemm;
  registry["MatMul"] = matmul;
}

}  // namespace tessera::nn::ops
