// The CUDA backend's entry points in a build without CUDA: availability() says so and every
// entry point refuses with that reason (require_device throws before anything else runs).
#include "tessera/simulator/cuda_kernels.hpp"
#include "tile_backends.hpp"

namespace tessera::simulator::cuda {

const Availability& availability() {
  static const Availability probe{false, "tessera was built without CUDA (TESSERA_CUDA=OFF, or no nvcc found)", ""};
  return probe;
}

std::vector<float> stream_uniforms(std::uint64_t, std::uint64_t, std::uint64_t, std::int64_t) {
  require_device("stream_uniforms");
  return {};
}

std::vector<float> stream_normals(std::uint64_t, std::uint64_t, std::uint64_t, std::int64_t) {
  require_device("stream_normals");
  return {};
}

Tensor quantize_dequantize(const Tensor&, std::span<const float>, std::span<const std::int64_t>, std::int64_t,
                           std::int64_t, std::int64_t) {
  require_device("quantize_dequantize");
  return {};
}

struct SgemmBaseline::State {};
SgemmBaseline::SgemmBaseline(std::int64_t, std::int64_t, std::int64_t) { require_device("SGEMM baseline"); }
SgemmBaseline::~SgemmBaseline() = default;
void SgemmBaseline::run() {}

}  // namespace tessera::simulator::cuda

namespace tessera::simulator {

std::unique_ptr<TileBackend> make_cuda_tile_backend(TileSpec, std::string_view who) {
  cuda::require_device(who);
  return nullptr;  // not reached: require_device throws without CUDA
}

}  // namespace tessera::simulator
