// Matrix products on the CPU (Eigen's GEMM, OpenMP-parallel over bands of the output), so that
// every layer shares one implementation and one set of compiler settings. The one exception is
// the analog tile's MVM, which keeps its weights packed and runs its periphery inside the
// product (packed_product.hpp). `out` must be a different tensor from the operands; mismatched
// shapes throw std::invalid_argument.
#pragma once

#include <cstdint>
#include <functional>

#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {

/// out = a * b^T for rank-2 tensors a: [m, k], b: [n, k], out: [m, n] (the forward MVM).
void matmul_transposed(const Tensor& a, const Tensor& b, Tensor& out);

/// The bands matmul_transposed cuts an [rows, cols] output into (a partition that depends on
/// the shape only, so the sums do not depend on the thread count): calls
/// band(first_row, row_count, first_col, col_count) once per band, in parallel when the
/// product of depth `depth` is large enough. Lets a caller run more products of the same shape
/// and its element-wise work band by band, in one parallel region and while the band is in cache.
using ProductBand = std::function<void(std::int64_t, std::int64_t, std::int64_t, std::int64_t)>;
void for_each_product_band(std::int64_t rows, std::int64_t cols, std::int64_t depth, const ProductBand& band);

/// One band of matmul_transposed: out[r:r+m, c:c+n] = a[r:r+m] * b[c:c+n]^T, the same bits as
/// the whole product gives there.
void matmul_transposed_band(const Tensor& a, const Tensor& b, Tensor& out, std::int64_t first_row,
                            std::int64_t row_count, std::int64_t first_col, std::int64_t col_count);

/// out = a * b for a: [m, k], b: [k, n], out: [m, n] (the input gradient g * W).
void matmul(const Tensor& a, const Tensor& b, Tensor& out);

/// out = a^T * b for a: [k, m], b: [k, n], out: [m, n] (the weight gradient g^T * x).
void matmul_left_transposed(const Tensor& a, const Tensor& b, Tensor& out);

}  // namespace tessera::simulator
