// cuBLAS SGEMM of a fixed shape: the baseline the GPU benchmarks compare a tile with.
#include <vector>

#include "device_support.cuh"
#include "tessera/simulator/cuda_kernels.hpp"

namespace tessera::simulator::cuda {

struct SgemmBaseline::State {
  std::int64_t rows = 0, out_size = 0, in_size = 0;
  cublasHandle_t handle = nullptr;
  DeviceBuffer<float> x, w, y;
};

SgemmBaseline::SgemmBaseline(std::int64_t rows, std::int64_t out_size, std::int64_t in_size)
    : state_(std::make_unique<State>()) {
  require_device("SGEMM baseline");
  State& s = *state_;
  s.rows = rows;
  s.out_size = out_size;
  s.in_size = in_size;
  check(cublasCreate(&s.handle), "cublasCreate");
  check(cublasSetMathMode(s.handle, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
  const std::vector<float> ones_x(static_cast<std::size_t>(rows * in_size), 0.5f);
  const std::vector<float> ones_w(static_cast<std::size_t>(out_size * in_size), 0.01f);
  s.x.upload(ones_x);
  s.w.upload(ones_w);
  s.y.reserve(static_cast<std::size_t>(rows * out_size));
}

SgemmBaseline::~SgemmBaseline() {
  if (state_ && state_->handle != nullptr) cublasDestroy(state_->handle);
}

void SgemmBaseline::run() {
  State& s = *state_;
  const float one = 1.0f, zero = 0.0f;
  check(cublasSgemm(s.handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(s.out_size), static_cast<int>(s.rows),
                    static_cast<int>(s.in_size), &one, s.w.data(), static_cast<int>(s.in_size), s.x.data(),
                    static_cast<int>(s.in_size), &zero, s.y.data(), static_cast<int>(s.out_size)),
        "cublasSgemm");
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

}  // namespace tessera::simulator::cuda
