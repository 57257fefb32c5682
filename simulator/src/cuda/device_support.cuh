// Error checks and an owning device buffer for the CUDA backend's translation units.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tessera::simulator::cuda {

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(status));
}

inline void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string("cuBLAS: ") + what + ": status " + std::to_string(static_cast<int>(status)));
  }
}

/// Checks the last kernel launch.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

/// A device array of T that grows on demand and frees itself.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t count) { reserve(count); }
  ~DeviceBuffer() {
    if (data_ != nullptr) cudaFree(data_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  /// At least `count` elements (contents are not kept when it grows).
  T* reserve(std::size_t count) {
    if (count > capacity_) {
      if (data_ != nullptr) check(cudaFree(data_), "cudaFree");
      data_ = nullptr;
      check(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)), "cudaMalloc");
      capacity_ = count;
    }
    return data_;
  }
  T* upload(const T* host, std::size_t count) {
    reserve(count);
    if (count > 0) check(cudaMemcpy(data_, host, count * sizeof(T), cudaMemcpyHostToDevice), "copy to device");
    return data_;
  }
  T* upload(const std::vector<T>& host) { return upload(host.data(), host.size()); }
  void download(T* host, std::size_t count) const {
    if (count > 0) check(cudaMemcpy(host, data_, count * sizeof(T), cudaMemcpyDeviceToHost), "copy to host");
  }
  T* data() const { return data_; }

 private:
  T* data_ = nullptr;
  std::size_t capacity_ = 0;
};

/// Blocks of 256 threads covering `count` elements.
inline unsigned grid_for(std::int64_t count) { return static_cast<unsigned>((count + 255) / 256); }

}  // namespace tessera::simulator::cuda
