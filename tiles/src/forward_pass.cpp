// The batched forward pass of AnalogTile (aihwkit's InferenceTile order of steps):
//   noise management -> DAC -> MVM -> weight noise + output noise -> nonlinearity/asymmetry
//   -> ADC -> bound management -> rescale -> out_scale -> bias.
// Bound management runs in rounds: every round is one GEMM over the samples whose outputs
// still saturated the ADC, with their input reduction doubled (per sample, as aihwkit's C++).
// This file holds the loop over rounds and noise management; a round's steps on the CPU are in
// cpu_round.cpp, on the device in simulator/src/cuda.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "batch_shape_check.hpp"
#include "forward_round.hpp"
#include "tessera/simulator/periphery.hpp"

namespace tessera::tiles {

using parameters::BoundManagementType;
using parameters::NoiseManagementType;
using parameters::WeightNoiseType;
using simulator::RandomStream;

namespace {

// Row reductions as plain loops: they vectorise, and GCC 12 raises false -Wmaybe-uninitialized
// warnings inside Eigen's AVX-512 reductions.
// max |x| over a row. For non-negative floats the order of the bit patterns is the order of
// the values, so an integer max over the sign-cleared bits vectorises (a float max reduction
// does not without -ffast-math); a NaN in the row gives NaN, which then propagates.
float abs_max(const float* row, std::int64_t length) {
  std::uint32_t largest = 0;
  for (std::int64_t j = 0; j < length; ++j) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, row + j, sizeof bits);
    largest = std::max(largest, bits & 0x7fffffffu);
  }
  float value = 0.0f;
  std::memcpy(&value, &largest, sizeof value);
  return value;
}

float max_value(const float* row, std::int64_t length) {
  float value = row[0];
  for (std::int64_t j = 1; j < length; ++j) value = std::max(value, row[j]);
  return value;
}

}  // namespace

// What noise management and the non-finite check need per row; the CUDA engine computes the
// same on the device. max and the sums only when the noise management reads them.
simulator::cuda::RowStatistics AnalogTile::row_statistics(const Tensor& input) const {
  const parameters::IOParameters& io = config_.forward;
  const std::int64_t batch = input.dim(0);
  const std::int64_t length = input.dim(1);
  const bool wants_max = io.noise_management == NoiseManagementType::MAX;
  const bool wants_sums = io.noise_management == NoiseManagementType::ABS_MAX_NP_SUM;
  simulator::cuda::RowStatistics rows;
  rows.abs_max.resize(static_cast<std::size_t>(batch));
  rows.max.resize(wants_max ? static_cast<std::size_t>(batch) : 0);
  rows.positive_sum.resize(wants_sums ? static_cast<std::size_t>(batch) : 0);
  rows.negative_sum.resize(wants_sums ? static_cast<std::size_t>(batch) : 0);
#pragma omp parallel for schedule(static) if (batch * length > kParallelElements)
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* row = input.data() + b * length;
    const auto index = static_cast<std::size_t>(b);
    rows.abs_max[index] = abs_max(row, length);
    if (wants_max) rows.max[index] = max_value(row, length);
    if (wants_sums) {
      float positive = 0.0f;
      float negative = 0.0f;
      for (std::int64_t j = 0; j < length; ++j) {
        positive += std::max(row[j], 0.0f);
        negative -= std::min(row[j], 0.0f);
      }
      rows.positive_sum[index] = positive;
      rows.negative_sum[index] = negative;
    }
  }
  return rows;
}

// Rows of the identity (drift-compensation readouts) hold one 1 and zeros: their statistics are
// known without reading them.
simulator::cuda::RowStatistics AnalogTile::identity_row_statistics(std::int64_t batch) const {
  const parameters::IOParameters& io = config_.forward;
  const auto rows = static_cast<std::size_t>(batch);
  const bool wants_sums = io.noise_management == NoiseManagementType::ABS_MAX_NP_SUM;
  simulator::cuda::RowStatistics statistics;
  statistics.abs_max.assign(rows, 1.0f);
  statistics.max.assign(io.noise_management == NoiseManagementType::MAX ? rows : 0, 1.0f);
  statistics.positive_sum.assign(wants_sums ? rows : 0, 1.0f);
  statistics.negative_sum.assign(wants_sums ? rows : 0, 0.0f);
  return statistics;
}

std::vector<float> AnalogTile::noise_management_scales(const simulator::cuda::RowStatistics& rows, bool update_state) {
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
        const float running = average_abs_max_started_ ? average_abs_max_ * static_cast<float>(1.0 - io.nm_decay) +
                                                             static_cast<float>(io.nm_decay) * mean
                                                       : mean;
        if (update_state) {  // readouts (drift compensation) use the value but leave it alone
          average_abs_max_ = running;
          average_abs_max_started_ = true;
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

AnalogTile::NoiseChoice AnalogTile::noise_choice() const {
  const parameters::IOParameters& io = config_.forward;
  NoiseChoice choice;
  choice.pcm_read = io.w_noise > 0.0 && io.w_noise_type == WeightNoiseType::PCM_READ;
  choice.additive = io.w_noise > 0.0 && io.w_noise_type == WeightNoiseType::ADDITIVE_CONSTANT;
  choice.output_noise = io.out_noise > 0.0;
  choice.nonlinear = !output_nonlinearity_.empty() || io.out_asymmetry != 0.0;
  return choice;
}

// One round of the pipeline on the device: the same steps and the same streams as the CPU's
// prepare_inputs, apply_ir_drop, add_analog_noise and digitize_outputs.
void AnalogTile::run_round_on_device(const Tensor& /*input: already on the device*/, Round& round) {
  const NoiseChoice choice = noise_choice();
  simulator::cuda::RoundRequest request;
  request.samples = round.samples;
  request.input_scales = round.input_scales;
  request.first_sample = round.first_sample;
  request.seed = round.stream->seed();
  request.dac_rounding_stream = round.draws("dac_rounding").stream_id();
  request.input_noise_stream = round.draws("input_noise").stream_id();
  request.adc_rounding_stream = round.draws("adc_rounding").stream_id();
  request.first_noise_stream = round.draws(choice.first_stream()).stream_id();
  request.second_noise_stream = round.draws("output_noise").stream_id();
  request.pcm_read = choice.pcm_read;
  request.additive = choice.additive;
  request.combined = choice.combined();
  round.saturated = engine_->run_round(request);
}

Tensor AnalogTile::forward(const Tensor& input) {
  const auto held = lock_.hold();
  check_batch_shape("tile '" + name_ + "'", "input", input, in_size_);
  const std::uint64_t first_sample = samples_seen_;
  samples_seen_ += static_cast<std::uint64_t>(input.dim(0));
  const MvmWeights weights = forward_weights(first_sample);
  return run_forward(input, weights, first_sample, stream_.derive("forward"), /*digital_post_processing=*/true);
}

Tensor AnalogTile::run_forward(const Tensor& input, MvmWeights weights, std::uint64_t first_sample,
                               const RandomStream& stream, bool digital_post_processing, bool identity_input) {
  const parameters::IOParameters& io = config_.forward;
  const std::int64_t batch = input.dim(0);
  // The device runs the pipeline's steps for forward calls; the one-hot readouts of drift
  // compensation are O(out) per row on the CPU and stay there.
  simulator::cuda::TileEngine* device = identity_input ? nullptr : engine_.get();
  if (device != nullptr && (device_weights_ != weights.values || weights.values == &modified_weights_)) {
    device->upload_weights(*weights.values, needs_weight_magnitudes() ? weights.magnitudes : nullptr);
    device_weights_ = weights.values;  // modified weights change every call: always uploaded again
  }
  Tensor output({batch, out_size_});
  const Finish finish{output_factors(digital_post_processing),
                      digital_post_processing ? std::span<const float>(bias_) : std::span<const float>()};
  if (io.is_perfect || io.mv_type == parameters::AnalogMVType::IDEAL) {
    if (device != nullptr) {
      device->ideal_product(input);
      const std::vector<char> finite_rows(static_cast<std::size_t>(batch), 0);
      return device->finish(finite_rows, finish.factors, finish.bias);
    }
    ideal_product(input, weights, output, finish);
    return output;
  }

  const simulator::cuda::RowStatistics rows = device != nullptr ? device->load_batch(input)
                                              : identity_input  ? identity_row_statistics(batch)
                                                                : row_statistics(input);
  const std::vector<float> nm_scales = noise_management_scales(rows, /*update_state=*/digital_post_processing);
  std::vector<float> reduction(static_cast<std::size_t>(batch), 1.0f);
  // aihwkit's limits: stop halving the input once the reduction passes max_bm_factor or
  // max_bm_res / inp_res (the DAC would lose all resolution).
  const auto dac_fraction = static_cast<float>(simulator::resolution_fraction(io.inp_res));
  const float reduction_limit = std::min(
      static_cast<float>(io.max_bm_factor),
      dac_fraction > 0.0f ? static_cast<float>(io.max_bm_res) / dac_fraction : static_cast<float>(io.max_bm_factor));
  const bool bound_management = io.bound_management == BoundManagementType::ITERATIVE && io.out_bound > 0.0;

  Round round;
  round.stream = &stream;
  round.weights = weights;
  // The DAC maps 0 to 0, so identity rows stay one-hot unless input noise is added.
  round.one_hot = identity_input && io.inp_noise <= 0.0;
  round.first_sample = first_sample;
  // A sample with NaN or Inf among its inputs has no DAC representation, and outputs that
  // looked valid would hide it: its outputs are NaN (README, "Non-finite values").
  std::vector<char> non_finite(static_cast<std::size_t>(batch), 0);
  for (std::int64_t b = 0; b < batch; ++b) {
    non_finite[static_cast<std::size_t>(b)] = !std::isfinite(rows.abs_max[static_cast<std::size_t>(b)]);
  }
  for (std::int64_t b = 0; b < batch; ++b) {
    if (non_finite[static_cast<std::size_t>(b)]) continue;
    // A sample whose noise-management scale is <= 0 gives zeros (aihwkit), unless input noise
    // would still produce an output.
    if (nm_scales[static_cast<std::size_t>(b)] > 0.0f || io.inp_noise > 0.0) round.samples.push_back(b);
  }
  // Rows that no round computes (non-finite or all-zero inputs) are finished at the end.
  std::vector<char> computed(static_cast<std::size_t>(batch), 0);
  for (std::int64_t b : round.samples) computed[static_cast<std::size_t>(b)] = 1;
  while (!round.samples.empty()) {
    const std::int64_t active = round.active();
    round.input_scales.resize(round.samples.size());
    round.output_scales.resize(round.samples.size());
    for (std::size_t a = 0; a < round.samples.size(); ++a) {
      const auto b = static_cast<std::size_t>(round.samples[a]);
      const float nm = nm_scales[b] > 0.0f ? nm_scales[b] : 1.0f;
      round.output_scales[a] = nm * reduction[b];
      round.input_scales[a] = 1.0f / round.output_scales[a];
    }
    // A first round over the whole batch computes straight into the output.
    const bool in_place = active == batch;
    if (!in_place && device == nullptr) round_outputs_.resize({active, out_size_});
    round.outputs = in_place ? &output : &round_outputs_;
    if (device != nullptr) {
      run_round_on_device(input, round);
    } else {
      run_round_on_cpu(input, round, output, finish);  // rows written finished, as if done
    }

    // Samples whose outputs still saturated go again with their input halved; the others are
    // done (the CPU round has written them finished; the device stores them now, scaled back
    // by nm * reduction).
    std::vector<std::int64_t> again;
    std::vector<std::int64_t> done;
    for (std::int64_t a = 0; a < active; ++a) {
      const auto b = static_cast<std::size_t>(round.samples[static_cast<std::size_t>(a)]);
      if (bound_management && round.saturated[static_cast<std::size_t>(a)] && reduction[b] <= reduction_limit) {
        reduction[b] *= 2.0f;
        again.push_back(static_cast<std::int64_t>(b));
      } else {
        done.push_back(a);
      }
    }
    if (device != nullptr) {
      std::vector<std::int64_t> targets;
      std::vector<float> scales;
      for (std::int64_t a : done) {
        targets.push_back(round.samples[static_cast<std::size_t>(a)]);
        scales.push_back(round.output_scales[static_cast<std::size_t>(a)]);
      }
      device->store_rows(done, targets, scales);
    }
    round.samples = std::move(again);
    ++round.index;
  }
  if (device != nullptr) return device->finish(non_finite, finish.factors, finish.bias);
  for (std::int64_t b = 0; b < batch; ++b) {
    if (computed[static_cast<std::size_t>(b)]) continue;
    float* y = output.data() + b * out_size_;
    // NaN for a non-finite input; zeros (then factors and bias) for a sample that gives none.
    if (non_finite[static_cast<std::size_t>(b)]) std::fill(y, y + out_size_, std::numeric_limits<float>::quiet_NaN());
    finish.apply(y, 1.0f, y, 0, out_size_);
  }
  return output;
}

}  // namespace tessera::tiles
