#include "tessera/simulator/matmul.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "cpu/eigen_gemm.hpp"
#include "cpu/simd_targets.hpp"

namespace tessera::simulator {
namespace {

void check_shapes(const char* what, bool compatible, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (a.rank() != 2 || b.rank() != 2 || out.rank() != 2 || !compatible) {
    throw std::invalid_argument(std::string(what) + ": cannot multiply " + shape_to_string(a.shape()) + " and " +
                                shape_to_string(b.shape()) + " into " + shape_to_string(out.shape()));
  }
}

// Eigen's multi-threaded GEMM chooses its blocking from the thread count, which changes the
// order of the sums, so OMP_NUM_THREADS=1 and =2 would give different bits. Instead the output
// is cut into kBlocks bands along its longer side, a partition that depends on the shape only,
// and each band is one sequential Eigen product: the same sums for any thread count, and
// measured as fast as Eigen's own threading on 2 cores for the shapes tessera runs (within
// 5 % at 256x512x512, faster for small batches; 20 % slower at 256x2048x2048).
constexpr std::int64_t kBlocks = 4;
constexpr double kParallelWork = 1 << 18;  // multiply-adds below which threads cost more than they give

// Eigen's product of the level in use, on the calling thread (the bands are what runs in
// parallel).
void product(const eigen_gemm::Product& product) {
  for_level(eigen_gemm::product_generic, eigen_gemm::product_avx2, eigen_gemm::product_avx512)(product);
}

template <class Band>
void for_each_band(std::int64_t rows, std::int64_t cols, std::int64_t depth, Band band) {
  const bool by_rows = rows >= cols;
  const std::int64_t extent = by_rows ? rows : cols;
  const std::int64_t size = std::max<std::int64_t>(16, ((extent + kBlocks - 1) / kBlocks + 15) / 16 * 16);
  const std::int64_t bands = (extent + size - 1) / size;
  const double work = static_cast<double>(rows) * static_cast<double>(cols) * static_cast<double>(depth);
#pragma omp parallel for schedule(static) if (bands > 1 && work > kParallelWork)
  for (std::int64_t b = 0; b < bands; ++b) {
    const std::int64_t start = b * size, length = std::min(size, extent - start);
    if (by_rows) {
      band(start, length, std::int64_t{0}, cols);
    } else {
      band(std::int64_t{0}, rows, start, length);
    }
  }
}

}  // namespace

void for_each_product_band(std::int64_t rows, std::int64_t cols, std::int64_t depth, const ProductBand& band) {
  for_each_band(rows, cols, depth, band);
}

void matmul_transposed_band(const Tensor& a, const Tensor& b, Tensor& out, std::int64_t first_row,
                            std::int64_t row_count, std::int64_t first_col, std::int64_t col_count) {
  const std::int64_t depth = a.dim(1);
  product({eigen_gemm::Layout::a_bt, a.data() + first_row * depth, depth, b.data() + first_col * depth, depth,
           out.data() + first_row * out.dim(1) + first_col, out.dim(1), row_count, col_count, depth});
}

void matmul_transposed(const Tensor& a, const Tensor& b, Tensor& out) {
  check_shapes("matmul_transposed (a * b^T)",
               a.rank() == 2 && b.rank() == 2 && out.rank() == 2 && a.dim(1) == b.dim(1) && out.dim(0) == a.dim(0) &&
                   out.dim(1) == b.dim(0),
               a, b, out);
  for_each_band(out.dim(0), out.dim(1), a.dim(1),
                [&](auto r, auto m, auto c, auto n) { matmul_transposed_band(a, b, out, r, m, c, n); });
}

void matmul(const Tensor& a, const Tensor& b, Tensor& out) {
  check_shapes("matmul (a * b)",
               a.rank() == 2 && b.rank() == 2 && out.rank() == 2 && a.dim(1) == b.dim(0) && out.dim(0) == a.dim(0) &&
                   out.dim(1) == b.dim(1),
               a, b, out);
  const std::int64_t depth = a.dim(1), width = out.dim(1);
  for_each_band(out.dim(0), width, depth, [&](auto r, auto m, auto c, auto n) {
    product({eigen_gemm::Layout::a_b, a.data() + r * depth, depth, b.data() + c, b.dim(1), out.data() + r * width + c,
             width, m, n, depth});
  });
}

void matmul_left_transposed(const Tensor& a, const Tensor& b, Tensor& out) {
  check_shapes("matmul_left_transposed (a^T * b)",
               a.rank() == 2 && b.rank() == 2 && out.rank() == 2 && a.dim(0) == b.dim(0) && out.dim(0) == a.dim(1) &&
                   out.dim(1) == b.dim(1),
               a, b, out);
  const std::int64_t depth = a.dim(0), width = out.dim(1);
  for_each_band(out.dim(0), width, depth, [&](auto r, auto m, auto c, auto n) {
    product({eigen_gemm::Layout::at_b, a.data() + r, a.dim(1), b.data() + c, b.dim(1), out.data() + r * width + c,
             width, m, n, depth});
  });
}

}  // namespace tessera::simulator
