// Slow double-precision reference of per-block fake quantization, written from the formula
// with no code shared with the library: element j uses encoding (j_d / B_d)_d.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "tessera/simulator/tensor.hpp"

namespace tessera::reference {

inline std::vector<double> fake_quant_per_block(const simulator::Tensor& input, simulator::Shape encoding,
                                                simulator::Shape block_size, const std::vector<float>& scale,
                                                const std::vector<std::int64_t>& zero_point, std::int64_t qmin,
                                                std::int64_t qmax, std::vector<double>* steps = nullptr) {
  const simulator::Shape& shape = input.shape();
  const std::size_t rank = shape.size();
  while (encoding.size() < rank) encoding.insert(encoding.begin(), 1);
  if (block_size.empty()) {
    for (std::size_t d = 0; d < rank; ++d) block_size.push_back(shape[d] / encoding[d]);
  }
  for (std::size_t d = 0; d < rank; ++d) {
    if (block_size[d] == -1) block_size[d] = shape[d] / encoding[d];
  }
  std::vector<double> output(static_cast<std::size_t>(input.size()));
  if (steps != nullptr) steps->assign(output.size(), 0.0);
  std::vector<std::int64_t> index(rank, 0);
  for (std::int64_t flat = 0; flat < input.size(); ++flat) {
    std::int64_t rest = flat;
    for (std::size_t d = rank; d-- > 0;) {
      index[d] = rest % shape[d];
      rest /= shape[d];
    }
    std::int64_t e = 0;
    for (std::size_t d = 0; d < rank; ++d) e = e * encoding[d] + index[d] / block_size[d];
    const double s = scale[static_cast<std::size_t>(e)];
    const double z = static_cast<double>(zero_point[static_cast<std::size_t>(e)]);
    double q = std::nearbyint(static_cast<double>(input[flat]) / s) + z;
    q = std::fmin(std::fmax(q, static_cast<double>(qmin)), static_cast<double>(qmax));
    output[static_cast<std::size_t>(flat)] = (q - z) * s;
    if (steps != nullptr) (*steps)[static_cast<std::size_t>(flat)] = s;
  }
  return output;
}

}  // namespace tessera::reference
