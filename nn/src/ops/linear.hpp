// Matrix helpers shared by the float operators and the converted (analog, quantized) layers.
#pragma once

#include "tessera/nn/graph.hpp"

namespace tessera::nn::ops {

Tensor transpose_matrix(const Tensor& m);
/// numpy matmul of a and b (1-D operands promoted, batch dimensions broadcast).
Tensor matmul_nd(const Tensor& a, const Tensor& b, const Node& node);

}  // namespace tessera::nn::ops
