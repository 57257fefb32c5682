// Eigen's GEMM for the avx2 level (eigen_gemm_variant.inc; compile options in simulator/CMakeLists.txt).
#define TESSERA_EIGEN_NAMESPACE tessera_eigen_avx2
#define TESSERA_EIGEN_PRODUCT product_avx2
#include "eigen_gemm_variant.inc"
