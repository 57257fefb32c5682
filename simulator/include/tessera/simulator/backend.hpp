// Where a tile or quantizer computes: on the CPU (always) or on a CUDA device (when tessera was
// built with CUDA and a device is present). ARCHITECTURE.md decision 1: the same pipeline, a
// runtime choice, not a different class.
#pragma once

#include <string>
#include <string_view>

namespace tessera::simulator {

enum class Backend { cpu, cuda };

std::string_view backend_name(Backend backend);

/// "cpu" or "cuda"; throws std::invalid_argument naming the choices otherwise.
Backend backend_from_name(std::string_view name);

namespace cuda {

struct Availability {
  bool available = false;
  std::string reason;  ///< why not, when not: "built without CUDA", "no CUDA device (cudaGetDeviceCount: ...)"
  std::string device;  ///< e.g. "NVIDIA H200 (sm_90, 139 GiB)" when available
};

/// Probed once per process.
const Availability& availability();

/// Throws std::runtime_error "<who>: the CUDA backend is not available: <reason>" unless a
/// device is usable.
void require_device(std::string_view who);

}  // namespace cuda
}  // namespace tessera::simulator
