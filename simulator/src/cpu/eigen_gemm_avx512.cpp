// Eigen's GEMM for the avx512 level (eigen_gemm_variant.inc; compile options in simulator/CMakeLists.txt).
#define TESSERA_EIGEN_NAMESPACE tessera_eigen_avx512
#define TESSERA_EIGEN_PRODUCT product_avx512
#include "eigen_gemm_variant.inc"
