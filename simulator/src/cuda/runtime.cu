// Device probing for the CUDA backend.
#include <cstdio>
#include <string>

#include "device_support.cuh"
#include "tessera/simulator/backend.hpp"

namespace tessera::simulator::cuda {

const Availability& availability() {
  static const Availability probe = [] {
    Availability result;
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      result.reason = std::string("no CUDA device (cudaGetDeviceCount: ") + cudaGetErrorString(status) + ")";
      return result;
    }
    if (count == 0) {
      result.reason = "no CUDA device (cudaGetDeviceCount found 0)";
      return result;
    }
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, 0) != cudaSuccess) {
      result.reason = "cannot read the properties of CUDA device 0";
      return result;
    }
    char text[256];
    std::snprintf(text, sizeof text, "%s (sm_%d%d, %.0f GiB)", properties.name, properties.major, properties.minor,
                  static_cast<double>(properties.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
    result.available = true;
    result.device = text;
    return result;
  }();
  return probe;
}

}  // namespace tessera::simulator::cuda
