// Entry points of the CUDA backend for host code (no CUDA headers needed). Every function
// throws std::runtime_error with cuda::availability().reason when no device is usable, so a
// build without CUDA links and fails clearly at run time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tessera/simulator/backend.hpp"
#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator::cuda {

/// Elements offset .. offset + count - 1 of the stream (seed, stream_id), drawn on the device
/// with the same element functions as RandomStream (philox.hpp): bit-identical to fill_*.
std::vector<float> stream_uniforms(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t offset,
                                   std::int64_t count);
std::vector<float> stream_normals(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t offset,
                                  std::int64_t count);

/// Fake quantization on the device, per tensor (one scale) or per channel: element e uses
/// encoding (e / inner) % scale.size(). Grids up to 16 bits (float arithmetic, as torch).
Tensor quantize_dequantize(const Tensor& input, std::span<const float> scale, std::span<const std::int64_t> zero_point,
                           std::int64_t qmin, std::int64_t qmax, std::int64_t inner);

/// cuBLAS SGEMM of a fixed shape on device-resident operands: the baseline GPU benchmarks
/// compare with (y[rows, out] = x[rows, in] W^T, full float32).
class SgemmBaseline {
 public:
  SgemmBaseline(std::int64_t rows, std::int64_t out_size, std::int64_t in_size);
  ~SgemmBaseline();
  SgemmBaseline(const SgemmBaseline&) = delete;
  SgemmBaseline& operator=(const SgemmBaseline&) = delete;
  /// One product, waited for.
  void run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tessera::simulator::cuda
