// Double-precision reference of y = x W^T, and the float32 error bound of a length-k dot
// product: |fl(x.w) - x.w| <= gamma_k sum |x_j w_j| with gamma_k ~ k * eps (Higham 2002).
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include "tessera/simulator/tensor.hpp"

namespace tessera::reference {

struct MatmulReference {
  std::vector<double> value;      ///< x W^T, [batch, out]
  std::vector<double> tolerance;  ///< per element: k * eps * sum |x_j w_ij|
};

inline MatmulReference matmul_transposed(const simulator::Tensor& x, const simulator::Tensor& w) {
  const std::int64_t batch = x.dim(0), in = x.dim(1), out = w.dim(0);
  MatmulReference result{std::vector<double>(static_cast<std::size_t>(batch * out)),
                         std::vector<double>(static_cast<std::size_t>(batch * out))};
  const double gamma = static_cast<double>(in) * std::numeric_limits<float>::epsilon();
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t i = 0; i < out; ++i) {
      double sum = 0.0, magnitude = 0.0;
      for (std::int64_t j = 0; j < in; ++j) {
        const double term = static_cast<double>(x[b * in + j]) * w[i * in + j];
        sum += term;
        magnitude += std::abs(term);
      }
      result.value[static_cast<std::size_t>(b * out + i)] = sum;
      result.tolerance[static_cast<std::size_t>(b * out + i)] = gamma * magnitude + std::numeric_limits<float>::min();
    }
  }
  return result;
}

}  // namespace tessera::reference
