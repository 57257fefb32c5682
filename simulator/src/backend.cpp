#include "tessera/simulator/backend.hpp"

#include <stdexcept>
#include <string>

namespace tessera::simulator {

std::string_view backend_name(Backend backend) { return backend == Backend::cuda ? "cuda" : "cpu"; }

Backend backend_from_name(std::string_view name) {
  if (name == "cpu") return Backend::cpu;
  if (name == "cuda") return Backend::cuda;
  throw std::invalid_argument("unknown backend '" + std::string(name) + "' (expected cpu or cuda)");
}

namespace cuda {

void require_device(std::string_view who) {
  const Availability& probe = availability();
  if (!probe.available) {
    throw std::runtime_error(std::string(who) + ": the CUDA backend is not available: " + probe.reason);
  }
}

}  // namespace cuda
}  // namespace tessera::simulator
