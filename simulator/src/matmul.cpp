#include "tessera/simulator/matmul.hpp"

#include <stdexcept>
#include <string>

namespace tessera::simulator {
namespace {

void check_shapes(const char* what, bool compatible, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (a.rank() != 2 || b.rank() != 2 || out.rank() != 2 || !compatible) {
    throw std::invalid_argument(std::string(what) + ": cannot multiply " + shape_to_string(a.shape()) + " and " +
                                shape_to_string(b.shape()) + " into " + shape_to_string(out.shape()));
  }
}

}  // namespace

void matmul_transposed(const Tensor& a, const Tensor& b, Tensor& out) {
  check_shapes("matmul_transposed (a * b^T)",
               a.rank() == 2 && b.rank() == 2 && out.rank() == 2 && a.dim(1) == b.dim(1) && out.dim(0) == a.dim(0) &&
                   out.dim(1) == b.dim(0),
               a, b, out);
  out.matrix().noalias() = a.matrix() * b.matrix().transpose();
}

void matmul(const Tensor& a, const Tensor& b, Tensor& out) {
  check_shapes("matmul (a * b)",
               a.rank() == 2 && b.rank() == 2 && out.rank() == 2 && a.dim(1) == b.dim(0) && out.dim(0) == a.dim(0) &&
                   out.dim(1) == b.dim(1),
               a, b, out);
  out.matrix().noalias() = a.matrix() * b.matrix();
}

void matmul_left_transposed(const Tensor& a, const Tensor& b, Tensor& out) {
  check_shapes("matmul_left_transposed (a^T * b)",
               a.rank() == 2 && b.rank() == 2 && out.rank() == 2 && a.dim(0) == b.dim(0) && out.dim(0) == a.dim(1) &&
                   out.dim(1) == b.dim(1),
               a, b, out);
  out.matrix().noalias() = a.matrix().transpose() * b.matrix();
}

}  // namespace tessera::simulator
