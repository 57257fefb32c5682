// Eigen's GEMM compiled once per SIMD level (eigen_gemm_<level>.cpp, each with its own copy of
// Eigen under another namespace name, so that the copies cannot replace one another at link
// time), for the bands of simulator::matmul*. Raw pointers, row-major operands.
#pragma once

#include <cstdint>

namespace tessera::simulator::eigen_gemm {

enum class Layout {
  a_bt,  ///< out[m, n] = a[m, k] * b[n, k]^T
  a_b,   ///< out[m, n] = a[m, k] * b[k, n]
  at_b,  ///< out[m, n] = a[k, m]^T * b[k, n]
};

/// One product; lda, ldb, ldo are the row strides of the operands as stored.
struct Product {
  Layout layout;
  const float* a;
  std::int64_t lda;
  const float* b;
  std::int64_t ldb;
  float* out;
  std::int64_t ldo;
  std::int64_t m, n, k;
};

void product_generic(const Product& product);
void product_avx2(const Product& product);
void product_avx512(const Product& product);

}  // namespace tessera::simulator::eigen_gemm
