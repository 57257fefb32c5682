#include "tessera/simulator/matmul.hpp"

#include <stdexcept>
#include <string>

namespace tessera::simulator {

void matmul_transposed(const Tensor& a, const Tensor& b, Tensor& out) {
  if (a.rank() != 2 || b.rank() != 2 || out.rank() != 2 || a.dim(1) != b.dim(1) || out.dim(0) != a.dim(0) ||
      out.dim(1) != b.dim(0)) {
    throw std::invalid_argument("matmul_transposed: cannot multiply " + shape_to_string(a.shape()) + " by " +
                                shape_to_string(b.shape()) + "^T into " + shape_to_string(out.shape()));
  }
  out.matrix().noalias() = a.matrix() * b.matrix().transpose();
}

}  // namespace tessera::simulator
