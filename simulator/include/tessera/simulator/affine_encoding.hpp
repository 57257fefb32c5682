// Integer grids of affine quantizers and the conversions between a clipping range [min, max]
// and an encoding (scale, zero_point). Conventions (documented in README "Quantization"):
//   signed grid     [-2^(b-1), 2^(b-1) - 1]     unsigned grid  [0, 2^b - 1]
//   scale      = (max - min) / (qmax - qmin), floored at float epsilon
//   zero_point = 0 (symmetric, signed), 2^(b-1) (symmetric, unsigned, as torch's quint8),
//                qmin - round_half_even(min / scale) clamped to the grid (asymmetric)
//   min        = scale * (qmin - zero_point),  max = scale * (qmax - zero_point)
// AIMET's `offset` is -zero_point.
#pragma once

#include <cstdint>

namespace tessera::simulator {

struct QuantGrid {
  std::int64_t qmin = 0;
  std::int64_t qmax = 0;
  std::int64_t num_steps() const { return qmax - qmin; }
};

/// Bit widths 1..32 (above 16 only for accumulators and biases); throws otherwise.
QuantGrid make_grid(int bitwidth, bool is_signed);

struct ClipRange {
  double min = 0.0;
  double max = 0.0;
};

struct Encoding {
  float scale = 1.0f;
  std::int64_t zero_point = 0;
};

/// The encoding of a clipping range on a grid (the range is first widened to contain 0).
Encoding encoding_from_range(ClipRange range, const QuantGrid& grid, bool symmetric);
/// The clipping range an encoding represents.
ClipRange range_from_encoding(const Encoding& encoding, const QuantGrid& grid);
/// What an estimated range becomes before it is turned into an encoding (AIMET's
/// adjust_min_max): widened to contain 0, widened if narrower than the float resolution,
/// and for symmetric grids re-centred to [-num_neg * delta, num_pos * delta] with
/// num_neg = ceil(steps / 2), num_pos = floor(steps / 2).
ClipRange adjust_range_for_grid(ClipRange range, const QuantGrid& grid, bool symmetric);

}  // namespace tessera::simulator
