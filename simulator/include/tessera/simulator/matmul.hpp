// The one place tessera multiplies matrices on the CPU (Eigen's GEMM, OpenMP-parallel), so
// every MVM shares one implementation and one set of compiler settings. `out` must be a
// different tensor from the operands; mismatched shapes throw std::invalid_argument.
#pragma once

#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {

/// out = a * b^T for rank-2 tensors a: [m, k], b: [n, k], out: [m, n] (the forward MVM).
void matmul_transposed(const Tensor& a, const Tensor& b, Tensor& out);

/// out = a * b for a: [m, k], b: [k, n], out: [m, n] (the input gradient g * W).
void matmul(const Tensor& a, const Tensor& b, Tensor& out);

/// out = a^T * b for a: [k, m], b: [k, n], out: [m, n] (the weight gradient g^T * x).
void matmul_left_transposed(const Tensor& a, const Tensor& b, Tensor& out);

}  // namespace tessera::simulator
