// The one place tessera multiplies matrices on the CPU (Eigen's GEMM, OpenMP-parallel), so
// every MVM shares one implementation and one set of compiler settings.
#pragma once

#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {

/// out = a * b^T for rank-2 tensors a: [m, k], b: [n, k], out: [m, n]; out must be a different
/// tensor from a and b. Throws std::invalid_argument on mismatched shapes.
void matmul_transposed(const Tensor& a, const Tensor& b, Tensor& out);

}  // namespace tessera::simulator
