// Reading NumPy's .npy files (format versions 1-3, C order, little- or big-endian numbers):
//   NpyArray images = read_npy("x_test.npy");   // shape [N, 1, 28, 28], any numeric dtype
// Values come back as doubles, which hold every float32 and every integer label exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera::experiments {

struct NpyArray {
  std::vector<std::int64_t> shape;
  std::string dtype;           ///< numpy's descr, e.g. "<f4", "|u1"
  std::vector<double> values;  ///< row-major
};

/// Throws std::runtime_error naming the file for a missing or truncated file, a malformed
/// header, Fortran order, or a dtype that is not bool, (u)int8-64 or float16/32/64.
NpyArray read_npy(const std::string& path);

}  // namespace tessera::experiments
