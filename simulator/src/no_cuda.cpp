// The CUDA backend's entry points in a build without CUDA: availability() says so and every
// entry point refuses with that reason (require_device throws before anything else runs).
#include "tessera/simulator/cuda_kernels.hpp"

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

struct TileEngine::State {};

TileEngine::TileEngine(std::int64_t, std::int64_t, const parameters::IOParameters&) { require_device("analog tile"); }
TileEngine::~TileEngine() = default;
void TileEngine::upload_weights(const Tensor&, const Tensor*) {}
void TileEngine::upload_output_vectors(std::span<const float>, std::span<const float>) {}
RowStatistics TileEngine::load_batch(const Tensor&) { return {}; }
void TileEngine::ideal_product(const Tensor&) {}
std::vector<char> TileEngine::run_round(const RoundRequest&) { return {}; }
void TileEngine::store_rows(std::span<const std::int64_t>, std::span<const std::int64_t>, std::span<const float>) {}
Tensor TileEngine::finish(std::span<const char>, std::span<const float>, std::span<const float>) { return {}; }

}  // namespace tessera::simulator::cuda
