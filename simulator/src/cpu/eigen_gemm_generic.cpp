// Eigen's GEMM for the generic level (eigen_gemm_variant.inc; compile options in simulator/CMakeLists.txt).
#define TESSERA_EIGEN_NAMESPACE tessera_eigen_generic
#define TESSERA_EIGEN_PRODUCT product_generic
#include "eigen_gemm_variant.inc"
