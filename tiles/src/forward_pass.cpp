// The batched forward pass of AnalogTile (aihwkit's InferenceTile order of steps):
//   noise management -> DAC -> MVM -> weight noise + output noise -> nonlinearity/asymmetry
//   -> ADC -> bound management -> rescale -> out_scale -> bias.
// Bound management runs in rounds: every round is one product over the samples whose outputs
// still saturated the ADC, with their input reduction doubled (per sample, as aihwkit's C++).
// This file holds the loop over rounds and noise management, the same for every backend; the
// steps of a round run on the tile's backend (simulator/tile_backend.hpp).
#include <algorithm>
#include <cmath>
#include <string>

#include "batch_shape_check.hpp"
#include "tessera/simulator/periphery.hpp"
#include "tessera/simulator/tile_backend.hpp"
#include "tessera/tiles/analog_tile.hpp"

namespace tessera::tiles {

using parameters::BoundManagementType;
using parameters::NoiseManagementType;
using simulator::RandomStream;

std::vector<float> AnalogTile::noise_management_scales(const simulator::RowStatistics& rows, bool update_state) {
  const parameters::IOParameters& io = config_.forward;
  const auto dac_fraction = static_cast<float>(simulator::resolution_fraction(io.inp_res));
  const auto batch = static_cast<std::int64_t>(rows.abs_max.size());
  std::vector<float> scales(static_cast<std::size_t>(batch), 1.0f);
  switch (io.noise_management) {
    case NoiseManagementType::NONE:
      break;
    case NoiseManagementType::CONSTANT:
      std::fill(scales.begin(), scales.end(), io.nm_thres > 0.0 ? static_cast<float>(io.nm_thres) : 1.0f);
      break;
    case NoiseManagementType::ABS_MAX:
    case NoiseManagementType::AVERAGE_ABS_MAX:
    case NoiseManagementType::ABS_MAX_NP_SUM:
      for (std::int64_t b = 0; b < batch; ++b) {
        const auto index = static_cast<std::size_t>(b);
        float value = rows.abs_max[index];
        if (io.noise_management == NoiseManagementType::ABS_MAX && io.nm_thres > 0.0) {
          value = std::min(value, static_cast<float>(io.nm_thres));
        }
        if (io.noise_management == NoiseManagementType::ABS_MAX_NP_SUM) {
          // aihwkit: also bound the expected output by the positive/negative input sums.
          const float by_sum = std::max(rows.positive_sum[index], rows.negative_sum[index]) *
                               static_cast<float>(io.nm_assumed_wmax / io.out_bound);
          const float cap = dac_fraction > 0.0f ? value / dac_fraction * static_cast<float>(io.max_bm_res) : value;
          value = std::max(value, std::min(cap, by_sum));
        }
        scales[index] = value;
      }
      if (io.noise_management == NoiseManagementType::AVERAGE_ABS_MAX && batch > 0) {
        // One running value for the whole batch, updated with the batch mean of max|x|.
        float mean = 0.0f;
        for (float value : scales) mean += value / static_cast<float>(batch);
        PeripheryState& state = periphery_;
        const float running = state.average_abs_max_started
                                  ? state.average_abs_max * static_cast<float>(1.0 - io.nm_decay) +
                                        static_cast<float>(io.nm_decay) * mean
                                  : mean;
        if (update_state) {  // readouts (drift compensation) use the value but leave it alone
          state.average_abs_max = running;
          state.average_abs_max_started = true;
        }
        std::fill(scales.begin(), scales.end(), running);
      }
      break;
    case NoiseManagementType::MAX:
      scales = rows.max;
      break;
  }
  return scales;
}

Tensor AnalogTile::forward(const Tensor& input) {
  const auto held = lock_.hold();
  check_batch_shape("tile '" + name_ + "'", "input", input, in_size_);
  const std::uint64_t first_sample = periphery_.samples_seen;
  periphery_.samples_seen += static_cast<std::uint64_t>(input.dim(0));
  const simulator::TileWeights weights = forward_weights(first_sample);
  return run_forward(input, weights, first_sample, stream_.derive("forward"), /*digital_post_processing=*/true);
}

Tensor AnalogTile::run_forward(const Tensor& input, const simulator::TileWeights& weights, std::uint64_t first_sample,
                               const RandomStream& stream, bool digital_post_processing, bool identity_input) {
  const parameters::IOParameters& io = config_.forward;
  const std::int64_t batch = input.dim(0);
  // User forward calls run where the user chose; the one-hot readouts of drift compensation
  // are O(out) per row on the CPU and stay there.
  simulator::TileBackend& backend = identity_input ? *cpu_ : compute_backend();
  if (io.is_perfect || io.mv_type == parameters::AnalogMVType::IDEAL) {
    return backend.ideal_forward(input, weights, output_finish(digital_post_processing));
  }

  const simulator::RowStatisticsWanted wanted{io.noise_management == NoiseManagementType::MAX,
                                              io.noise_management == NoiseManagementType::ABS_MAX_NP_SUM};
  const simulator::RowStatistics rows =
      backend.begin_batch(input, weights, output_finish(digital_post_processing), wanted, identity_input);
  const std::vector<float> nm_scales = noise_management_scales(rows, /*update_state=*/digital_post_processing);
  std::vector<float> reduction(static_cast<std::size_t>(batch), 1.0f);
  // aihwkit's limits: stop halving the input once the reduction passes max_bm_factor or
  // max_bm_res / inp_res (the DAC would lose all resolution).
  const auto dac_fraction = static_cast<float>(simulator::resolution_fraction(io.inp_res));
  const float reduction_limit = std::min(
      static_cast<float>(io.max_bm_factor),
      dac_fraction > 0.0f ? static_cast<float>(io.max_bm_res) / dac_fraction : static_cast<float>(io.max_bm_factor));
  const bool bound_management = io.bound_management == BoundManagementType::ITERATIVE && io.out_bound > 0.0;

  // A sample with NaN or Inf among its inputs has no DAC representation, and outputs that
  // looked valid would hide it: its outputs are NaN (README, "Non-finite values"). A sample
  // whose noise-management scale is <= 0 gives zeros (aihwkit), unless input noise would still
  // produce an output.
  std::vector<char> non_finite(static_cast<std::size_t>(batch), 0);
  std::vector<char> computed(static_cast<std::size_t>(batch), 0);
  std::vector<std::int64_t> samples;
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto index = static_cast<std::size_t>(b);
    non_finite[index] = !std::isfinite(rows.abs_max[index]);
    if (non_finite[index]) continue;
    if (nm_scales[index] > 0.0f || io.inp_noise > 0.0) {
      samples.push_back(b);
      computed[index] = 1;
    }
  }
  const bool combined_noise =
      simulator::periphery_settings(io, in_size_, !periphery_.output_nonlinearity.empty()).noise.combined();
  simulator::TileRound round;
  round.first_sample = first_sample;
  std::vector<float> input_scales, output_scales;
  std::vector<char> saturated;
  for (int index = 0; !samples.empty(); ++index) {
    input_scales.resize(samples.size());
    output_scales.resize(samples.size());
    for (std::size_t a = 0; a < samples.size(); ++a) {
      const auto b = static_cast<std::size_t>(samples[a]);
      const float nm = nm_scales[b] > 0.0f ? nm_scales[b] : 1.0f;
      output_scales[a] = nm * reduction[b];
      input_scales[a] = 1.0f / output_scales[a];
    }
    // Each round draws afresh.
    auto draws = [&](const char* name) { return stream.derive(name).derive(static_cast<std::uint64_t>(index)); };
    round.samples = samples;
    round.input_scales = input_scales;
    round.output_scales = output_scales;
    round.streams = {draws("dac_rounding"), draws("input_noise"),
                     draws(combined_noise ? "output_noise" : "weight_noise"), draws("output_noise"),
                     draws("adc_rounding")};
    saturated.resize(samples.size());
    backend.run_round(round, saturated);  // rows written finished, as if done

    // Samples whose outputs still saturated go again with their input halved.
    std::vector<std::int64_t> again;
    for (std::size_t a = 0; a < samples.size(); ++a) {
      const auto b = static_cast<std::size_t>(samples[a]);
      if (bound_management && saturated[a] && reduction[b] <= reduction_limit) {
        reduction[b] *= 2.0f;
        again.push_back(samples[a]);
      }
    }
    samples = std::move(again);
  }
  return backend.end_batch(computed, non_finite);
}

}  // namespace tessera::tiles
