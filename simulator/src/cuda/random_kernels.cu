// Counter-based random numbers on the device: the element functions of philox.hpp, so every
// element equals RandomStream's (the build uses --fmad=false, like -ffp-contract=off on the host).
#include "device_support.cuh"
#include "tessera/simulator/cuda_kernels.hpp"
#include "tessera/simulator/philox.hpp"

namespace tessera::simulator::cuda {
namespace {

template <bool kNormal>
__global__ void fill_stream(float* out, std::uint64_t seed, std::uint64_t stream_id, std::uint64_t offset,
                            std::int64_t count) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= count) return;
  const std::uint64_t element = offset + static_cast<std::uint64_t>(k);
  out[k] = kNormal ? stream_normal(seed, stream_id, element) : stream_uniform(seed, stream_id, element);
}

template <bool kNormal>
std::vector<float> draw(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t offset, std::int64_t count) {
  require_device(kNormal ? "stream_normals" : "stream_uniforms");
  std::vector<float> host(static_cast<std::size_t>(count));
  if (count == 0) return host;
  DeviceBuffer<float> values(host.size());
  fill_stream<kNormal><<<grid_for(count), 256>>>(values.data(), seed, stream_id, offset, count);
  check_launch("fill_stream");
  values.download(host.data(), host.size());
  return host;
}

}  // namespace

std::vector<float> stream_uniforms(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t offset,
                                   std::int64_t count) {
  return draw<false>(seed, stream_id, offset, count);
}

std::vector<float> stream_normals(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t offset,
                                  std::int64_t count) {
  return draw<true>(seed, stream_id, offset, count);
}

}  // namespace tessera::simulator::cuda
