// Where an analog tile's forward pass computes: the interface between the tile (tiles/, which
// keeps the state and drives noise and bound management) and the hardware that runs the steps
// of each bound-management round (DAC, MVM, IR drop, noise, ADC, finish; periphery.hpp). One
// call per batch to start and end it, one per round in between. The CPU backend (Eigen-free
// packed products, OpenMP) is always there; the CUDA backend is built with nvcc and refuses to
// start without a device. Both draw the same random numbers for the same element.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tessera/parameters/io.hpp"
#include "tessera/simulator/backend.hpp"
#include "tessera/simulator/periphery.hpp"
#include "tessera/simulator/random_stream.hpp"
#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {

/// The weights a forward pass multiplies with. `version` changes whenever their values do, so a
/// backend's packed or device copy is refreshed exactly when needed (0: no copy may be kept).
struct TileWeights {
  const Tensor* values = nullptr;      ///< [out, in]
  const Tensor* magnitudes = nullptr;  ///< |W|, where PCM_READ weight noise or IR drop needs it
  std::uint64_t version = 0;
};

/// Per-row statistics of a batch for noise management and the non-finite check.
struct RowStatistics {
  std::vector<float> abs_max;       ///< max |x| (NaN when the row has NaN, Inf when Inf)
  std::vector<float> max;           ///< max x (only for NoiseManagementType::MAX)
  std::vector<float> positive_sum;  ///< sum of max(x, 0) (only for ABS_MAX_NP_SUM)
  std::vector<float> negative_sum;  ///< sum of -min(x, 0) (only for ABS_MAX_NP_SUM)
};

/// Which row statistics a tile's noise management reads.
struct RowStatisticsWanted {
  bool max = false;
  bool sums = false;
};

/// The digital steps after the ADC for one batch: a factor per output (out_scale, weight
/// mapping, drift compensation) and the bias (empty: none).
struct OutputFinish {
  std::vector<float> factors;
  std::vector<float> bias;
};

/// The noise streams of one round (each round draws afresh). Element (sample, j) of a stream is
/// counter sample * width + j, with width the input size for the DAC's streams and the output
/// size for the others.
struct RoundStreams {
  RandomStream dac_rounding{0};
  RandomStream input_noise{0};
  RandomStream first_noise{0};   ///< weight noise, or weight and output noise combined
  RandomStream second_noise{0};  ///< output noise after a nonlinearity
  RandomStream adc_rounding{0};
};

/// One bound-management round over the rows still active.
struct TileRound {
  std::span<const std::int64_t> samples;  ///< batch rows still active, increasing
  std::span<const float> input_scales;    ///< per active row: 1 / (nm * reduction)
  std::span<const float> output_scales;   ///< per active row: nm * reduction
  std::uint64_t first_sample = 0;         ///< noise address of batch row 0
  RoundStreams streams;
};

/// What a backend is made for: the tile's shape, its periphery and the per-output spreads drawn
/// once per tile.
struct TileSpec {
  std::int64_t out_size = 0;
  std::int64_t in_size = 0;
  PeripherySettings periphery;
  std::vector<float> output_noise_std;     ///< per output: out_noise with its device spread
  std::vector<float> output_nonlinearity;  ///< per output: n of y / (1 + n |y|); empty = none
};

/// The element-step settings of an IOParameters block (`has_nonlinearity`: the tile drew
/// per-output nonlinearities).
PeripherySettings periphery_settings(const parameters::IOParameters& io, std::int64_t in_size, bool has_nonlinearity);

class TileBackend {
 public:
  virtual ~TileBackend() = default;
  virtual Backend kind() const = 0;

  /// Starts a batch [rows, in_size] with these weights and digital finish and returns its row
  /// statistics. `identity_rows`: row r is one-hot at column first_sample + r of the rounds (a
  /// block of the identity: a drift-compensation readout), which lets the CPU's MVM skip the
  /// product while the DAC keeps the rows one-hot (no input noise).
  virtual RowStatistics begin_batch(const Tensor& input, const TileWeights& weights, OutputFinish finish,
                                    RowStatisticsWanted wanted, bool identity_rows) = 0;
  /// One round: every active row through DAC, MVM, IR drop, noise and ADC, then written
  /// finished into its output row (a later round overwrites rows that go again).
  /// saturated[a] becomes 1 where active row a's ADC bound was exceeded.
  virtual void run_round(const TileRound& round, std::span<char> saturated) = 0;
  /// The batch's outputs: rows no round computed are zeros (NaN where non_finite) finished.
  virtual Tensor end_batch(std::span<const char> computed, std::span<const char> non_finite) = 0;
  /// is_perfect: the plain product of a batch, finished.
  virtual Tensor ideal_forward(const Tensor& input, const TileWeights& weights, const OutputFinish& finish) = 0;
};

/// The backend of `kind` for a tile; throws std::runtime_error "<who>: the CUDA backend is not
/// available: <reason>" for CUDA without a device.
std::unique_ptr<TileBackend> make_tile_backend(Backend kind, TileSpec spec, std::string_view who);

}  // namespace tessera::simulator
