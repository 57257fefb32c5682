// Entry points of the CUDA backend for host code (no CUDA headers needed). Every function
// throws std::runtime_error with cuda::availability().reason when no device is usable, so a
// build without CUDA links and fails clearly at run time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tessera/parameters/io.hpp"
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

/// Per-row statistics of a batch for noise management and the non-finite check.
struct RowStatistics {
  std::vector<float> abs_max;       ///< max |x| (NaN when the row has NaN, Inf when Inf)
  std::vector<float> max;           ///< max x
  std::vector<float> positive_sum;  ///< sum of max(x, 0)
  std::vector<float> negative_sum;  ///< sum of -min(x, 0)
};

/// What one bound-management round needs besides the input and weights.
struct RoundRequest {
  std::span<const std::int64_t> samples;  ///< batch rows still active
  std::span<const float> input_scales;    ///< per active row: 1 / (nm * reduction)
  std::uint64_t first_sample = 0;         ///< global index of the batch's first row
  std::uint64_t seed = 0;                 ///< of the forward call's noise streams
  std::uint64_t dac_rounding_stream = 0;  ///< ids of this round's streams (RandomStream::derive)
  std::uint64_t input_noise_stream = 0;
  std::uint64_t adc_rounding_stream = 0;
  std::uint64_t first_noise_stream = 0;   ///< weight noise (or the combined weight + output noise)
  std::uint64_t second_noise_stream = 0;  ///< output noise after a nonlinearity
  bool pcm_read = false;                  ///< w_noise with PCM_READ: variance w_noise^2 |w| v^2
  bool additive = false;                  ///< w_noise with ADDITIVE_CONSTANT
  bool combined = false;                  ///< weight and output noise in one draw (nothing nonlinear)
};

/// One analog tile's device state: weights (and |W|) in GPU memory, the batch being processed,
/// scratch buffers and a cuBLAS handle. The tile drives the rounds (tiles/src/forward_pass.cpp);
/// every step of the CPU pipeline has its kernel here.
class TileEngine {
 public:
  TileEngine(std::int64_t out_size, std::int64_t in_size, const parameters::IOParameters& io);
  ~TileEngine();
  TileEngine(const TileEngine&) = delete;
  TileEngine& operator=(const TileEngine&) = delete;

  /// Copies the weights the MVM uses (and |W| when given) to the device.
  void upload_weights(const Tensor& weights, const Tensor* magnitudes);
  /// Per-output vectors of the periphery (empty = not used).
  void upload_output_vectors(std::span<const float> output_noise_std, std::span<const float> output_nonlinearity);

  /// Copies a batch to the device and returns its row statistics.
  RowStatistics load_batch(const Tensor& input);
  /// Copies a batch to the device and computes y = W x for it, no periphery (is_perfect).
  void ideal_product(const Tensor& input);
  /// DAC -> MVM -> IR drop -> weight/output noise -> nonlinearity -> ADC for the active rows;
  /// returns per active row whether the ADC bound was exceeded.
  std::vector<char> run_round(const RoundRequest& request);
  /// Output rows targets[k] = round row done[k] * scales[k].
  void store_rows(std::span<const std::int64_t> done, std::span<const std::int64_t> targets,
                  std::span<const float> scales);
  /// Rows flagged non-finite become NaN; then y * factor + bias per output; back to the host.
  Tensor finish(std::span<const char> non_finite, std::span<const float> factors, std::span<const float> bias);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tessera::simulator::cuda
