// The one check that a batch handed to a tile or tile array has the columns it expects.
#pragma once

#include <stdexcept>
#include <string>

#include "tessera/simulator/tensor.hpp"

namespace tessera::tiles {

/// Throws "<owner> expects <what> of shape [batch, <columns>], got [...]" unless `tensor` is
/// rank 2 with `columns` columns. `owner` reads e.g. "tile 'fc'".
inline void check_batch_shape(const std::string& owner, const char* what, const simulator::Tensor& tensor,
                              std::int64_t columns) {
  if (tensor.rank() != 2 || tensor.dim(1) != columns) {
    throw std::invalid_argument(owner + " expects " + what + " of shape [batch, " + std::to_string(columns) +
                                "], got " + simulator::shape_to_string(tensor.shape()));
  }
}

}  // namespace tessera::tiles
