// The batched forward pass of AnalogTile (aihwkit's InferenceTile order of steps):
//   noise management -> DAC -> MVM -> weight noise + output noise -> nonlinearity/asymmetry
//   -> ADC -> bound management -> rescale -> out_scale -> bias.
// Bound management runs in rounds: every round is one GEMM over the samples whose outputs
// still saturated the ADC, with their input reduction doubled (per sample, as aihwkit's C++).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "batch_shape_check.hpp"
#include "tessera/simulator/matmul.hpp"
#include "tessera/simulator/periphery.hpp"
#include "tessera/tiles/analog_tile.hpp"

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

float squared_norm(const float* row, std::int64_t length) {
  float sum = 0.0f;
  for (std::int64_t j = 0; j < length; ++j) sum += row[j] * row[j];
  return sum;
}

}  // namespace

struct AnalogTile::Round {
  const RandomStream* stream = nullptr;  // noise of this forward call
  MvmWeights weights;                    // what the MVM multiplies with
  int index = 0;                         // bound-management round, 0 first
  std::uint64_t first_sample = 0;        // global index of the batch's first sample
  std::vector<std::int64_t> samples;     // batch rows still active
  std::vector<float> input_scales;       // per active sample: 1 / (nm * reduction)
  std::vector<float> output_scales;      // per active sample: nm * reduction
  Tensor* outputs = nullptr;             // [active, out]: the output itself in a full first round
  bool one_hot = false;                  // DAC row a is zero except at column global_sample(a)
  std::vector<char> saturated;           // per active sample: ADC bound exceeded

  std::int64_t active() const { return static_cast<std::int64_t>(samples.size()); }
  std::uint64_t global_sample(std::int64_t a) const {
    return first_sample + static_cast<std::uint64_t>(samples[static_cast<std::size_t>(a)]);
  }
};

namespace {
// Below this many elements per step, loops stay on the calling thread.
constexpr std::int64_t kParallelElements = 1 << 15;
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

void AnalogTile::prepare_inputs(const Tensor& input, Round& round) {
  const parameters::IOParameters& io = config_.forward;
  const float bin = simulator::converter_bin(io.inp_res, io.inp_bound);
  const auto bound = static_cast<float>(io.inp_bound);
  const auto asymmetry = static_cast<float>(io.inp_asymmetry);
  const auto noise = static_cast<float>(io.inp_noise);
  const std::int64_t active = round.active();
  dac_outputs_.resize({active, in_size_});
  const RandomStream rounding = round.stream->derive("dac_rounding").derive(static_cast<std::uint64_t>(round.index));
  const RandomStream input_noise = round.stream->derive("input_noise").derive(static_cast<std::uint64_t>(round.index));
#pragma omp parallel if (active * in_size_ > kParallelElements)
  {
    std::vector<float> draws(io.inp_sto_round || noise > 0.0f ? static_cast<std::size_t>(in_size_) : 0);
#pragma omp for schedule(static)
    for (std::int64_t a = 0; a < active; ++a) {
      const float* x = input.data() + round.samples[static_cast<std::size_t>(a)] * in_size_;
      float* v = dac_outputs_.data() + a * in_size_;
      const std::uint64_t offset = round.global_sample(a) * static_cast<std::uint64_t>(in_size_);
      const float scale = round.input_scales[static_cast<std::size_t>(a)];
      if (io.inp_sto_round) {
        rounding.fill_uniform(draws, offset);
        for (std::int64_t j = 0; j < in_size_; ++j) {
          v[j] = simulator::clip_to_bound(simulator::round_to_bin(x[j] * scale, bin, true, draws[j]), bound);
        }
      } else {
        for (std::int64_t j = 0; j < in_size_; ++j) {
          v[j] = simulator::clip_to_bound(simulator::round_to_bin(x[j] * scale, bin, false, 0.0f), bound);
        }
      }
      if (noise > 0.0f) {
        input_noise.fill_normal(draws, offset);
        for (std::int64_t j = 0; j < in_size_; ++j) v[j] += noise * draws[j];
      }
      if (asymmetry != 0.0f) {
        for (std::int64_t j = 0; j < in_size_; ++j) v[j] = simulator::apply_asymmetry(v[j], asymmetry);
      }
    }
  }
}

// aihwkit's IR-drop model: the current drawn along a row lowers the voltage the inputs see,
// more for inputs further from the driver (index j of n). Per output i:
//   a_i = n / ir_drop_g_ratio * sum_j |w_ij| |v_j|,   c_i = a_i (a_i (0.05 a_i - 0.2) + 0.5)
//   y_i -= ir_drop * c_i * sum_j w_ij v_j (1 - (1 - j / n)^2)
// Two extra GEMMs over the batch (|v| with |W|, and the position-weighted v with W).
void AnalogTile::apply_ir_drop(Round& round) {
  const parameters::IOParameters& io = config_.forward;
  const std::int64_t active = round.active();
  const auto n = static_cast<float>(in_size_);
  ir_inputs_.resize({active, in_size_});
  ir_currents_.resize({active, out_size_});
  ir_products_.resize({active, out_size_});
  for (std::int64_t k = 0; k < ir_inputs_.size(); ++k) ir_inputs_[k] = std::abs(dac_outputs_[k]);
  analog_product(round, ir_inputs_, *round.weights.magnitudes, ir_currents_);
  std::vector<float> position(static_cast<std::size_t>(in_size_));
  for (std::int64_t j = 0; j < in_size_; ++j) {
    const float distance = 1.0f - static_cast<float>(j) / n;
    position[static_cast<std::size_t>(j)] = 1.0f - distance * distance;
  }
  for (std::int64_t a = 0; a < active; ++a) {
    for (std::int64_t j = 0; j < in_size_; ++j) {
      ir_inputs_[a * in_size_ + j] = dac_outputs_[a * in_size_ + j] * position[static_cast<std::size_t>(j)];
    }
  }
  analog_product(round, ir_inputs_, *round.weights.values, ir_products_);
  const auto current_scale = static_cast<float>(in_size_ / io.ir_drop_g_ratio);
  const auto strength = static_cast<float>(io.ir_drop);
  for (std::int64_t k = 0; k < ir_products_.size(); ++k) {
    const float a = current_scale * ir_currents_[k];
    const float c = a * (a * (0.05f * a - 0.2f) + 0.5f);
    (*round.outputs)[k] -= strength * c * ir_products_[k];
  }
}

struct AnalogTile::NoiseChoice {
  bool pcm_read = false;      // w_noise, PCM_READ: variance w_noise^2 |w| v^2
  bool additive = false;      // w_noise, ADDITIVE_CONSTANT: variance w_noise^2 |v|^2
  bool output_noise = false;  // out_noise
  bool nonlinear = false;     // an output nonlinearity or asymmetry between the noises
  // With nothing nonlinear between them, weight noise and output noise are two independent
  // Gaussians on the same output: one draw with the summed variance has the same distribution.
  bool combined() const { return !nonlinear; }
  bool any() const { return pcm_read || additive || output_noise || nonlinear; }
};

AnalogTile::NoiseChoice AnalogTile::noise_choice() const {
  const parameters::IOParameters& io = config_.forward;
  NoiseChoice choice;
  choice.pcm_read = io.w_noise > 0.0 && io.w_noise_type == WeightNoiseType::PCM_READ;
  choice.additive = io.w_noise > 0.0 && io.w_noise_type == WeightNoiseType::ADDITIVE_CONSTANT;
  choice.output_noise = io.out_noise > 0.0;
  choice.nonlinear = !output_nonlinearity_.empty() || io.out_asymmetry != 0.0;
  return choice;
}

void AnalogTile::add_analog_noise(Round& round) {
  const parameters::IOParameters& io = config_.forward;
  const std::int64_t active = round.active();
  const auto w_noise = static_cast<float>(io.w_noise);
  const NoiseChoice choice = noise_choice();
  const bool pcm_read = choice.pcm_read;
  const bool additive = choice.additive;
  const bool weight_noise = pcm_read || additive;
  const bool output_noise = choice.output_noise;
  if (!choice.any()) return;

  // Per-MVM weight noise is Gaussian per output with variance sum_j sigma_ij^2 v_j^2 (PCM_READ:
  // sigma_ij^2 = w_noise^2 |w_ij|), so it is drawn exactly in distribution from that variance,
  // one GEMM of v^2 with |W|, instead of sampling one number per weight and sample.
  if (pcm_read) {
    squared_inputs_.resize({active, in_size_});
    for (std::int64_t k = 0; k < squared_inputs_.size(); ++k) squared_inputs_[k] = dac_outputs_[k] * dac_outputs_[k];
    weight_variance_.resize({active, out_size_});
    analog_product(round, squared_inputs_, *round.weights.magnitudes, weight_variance_);
  }
  const bool combined = choice.combined();
  const RandomStream first_stream =
      round.stream->derive(combined ? "output_noise" : "weight_noise").derive(static_cast<std::uint64_t>(round.index));
  const RandomStream second_stream =
      round.stream->derive("output_noise").derive(static_cast<std::uint64_t>(round.index));
  const auto out_asymmetry = static_cast<float>(io.out_asymmetry);
  const float w_noise_squared = w_noise * w_noise;
#pragma omp parallel if (active * out_size_ > kParallelElements)
  {
    std::vector<float> draws(static_cast<std::size_t>(out_size_));
#pragma omp for schedule(static)
    for (std::int64_t a = 0; a < active; ++a) {
      float* y = round.outputs->data() + a * out_size_;
      const std::uint64_t offset = round.global_sample(a) * static_cast<std::uint64_t>(out_size_);
      const float additive_variance =
          additive ? w_noise_squared * squared_norm(dac_outputs_.data() + a * in_size_, in_size_) : 0.0f;
      const float* variance = pcm_read ? weight_variance_.data() + a * out_size_ : nullptr;
      if (combined && !weight_noise) {
        first_stream.fill_normal(draws, offset);
        for (std::int64_t i = 0; i < out_size_; ++i)
          y[i] += output_noise_std_[static_cast<std::size_t>(i)] * draws[static_cast<std::size_t>(i)];
        continue;
      }
      if (combined) {
        first_stream.fill_normal(draws, offset);
        for (std::int64_t i = 0; i < out_size_; ++i) {
          const float sigma_out = output_noise_std_[static_cast<std::size_t>(i)];
          const float weight_variance = pcm_read ? w_noise_squared * variance[i] : additive_variance;
          y[i] += std::sqrt(weight_variance + sigma_out * sigma_out) * draws[static_cast<std::size_t>(i)];
        }
        continue;
      }
      if (weight_noise) {
        first_stream.fill_normal(draws, offset);
        for (std::int64_t i = 0; i < out_size_; ++i) {
          const float weight_variance = pcm_read ? w_noise_squared * variance[i] : additive_variance;
          y[i] += std::sqrt(weight_variance) * draws[static_cast<std::size_t>(i)];
        }
      }
      for (std::int64_t i = 0; i < out_size_ && !output_nonlinearity_.empty(); ++i) {
        y[i] /= 1.0f + output_nonlinearity_[static_cast<std::size_t>(i)] * std::abs(y[i]);
      }
      if (out_asymmetry != 0.0f) {
        for (std::int64_t i = 0; i < out_size_; ++i) y[i] = simulator::apply_asymmetry(y[i], out_asymmetry);
      }
      if (output_noise) {
        second_stream.fill_normal(draws, offset);
        for (std::int64_t i = 0; i < out_size_; ++i) {
          y[i] += output_noise_std_[static_cast<std::size_t>(i)] * draws[static_cast<std::size_t>(i)];
        }
      }
    }
  }
}

void AnalogTile::digitize_outputs(Round& round) const {
  const parameters::IOParameters& io = config_.forward;
  const float bin = simulator::converter_bin(io.out_res, io.out_bound);
  const auto bound = static_cast<float>(io.out_bound);
  const std::int64_t active = round.active();
  round.saturated.assign(static_cast<std::size_t>(active), 0);
  const RandomStream rounding = round.stream->derive("adc_rounding").derive(static_cast<std::uint64_t>(round.index));
#pragma omp parallel if (active * out_size_ > kParallelElements)
  {
    std::vector<float> uniforms(io.out_sto_round ? static_cast<std::size_t>(out_size_) : 0);
#pragma omp for schedule(static)
    for (std::int64_t a = 0; a < active; ++a) {
      float* y = round.outputs->data() + a * out_size_;
      if (io.out_sto_round) {
        rounding.fill_uniform(uniforms, round.global_sample(a) * static_cast<std::uint64_t>(out_size_));
        for (std::int64_t i = 0; i < out_size_; ++i) {
          y[i] = simulator::round_to_bin(y[i], bin, true, uniforms[static_cast<std::size_t>(i)]);
        }
      } else {
        for (std::int64_t i = 0; i < out_size_; ++i) y[i] = simulator::round_to_bin(y[i], bin, false, 0.0f);
      }
      // Counting (rather than or-ing) the levels beyond the bound keeps the loop vectorisable.
      int beyond = 0;
      if (bound > 0.0f) {
        const float lower = io.bm_test_negative_bound ? -bound : -std::numeric_limits<float>::infinity();
        for (std::int64_t i = 0; i < out_size_; ++i) beyond += (y[i] > bound) + (y[i] < lower);
        for (std::int64_t i = 0; i < out_size_; ++i) y[i] = simulator::clip_to_bound(y[i], bound);
      }
      round.saturated[static_cast<std::size_t>(a)] = beyond > 0;
    }
  }
}

void AnalogTile::finish_outputs(Tensor& output, bool digital_post_processing) const {
  const std::int64_t batch = output.dim(0);
  const std::vector<float> factors = output_factors(digital_post_processing);
  const std::vector<float> no_bias;
  const std::vector<float>& bias = digital_post_processing ? bias_ : no_bias;
#pragma omp parallel for schedule(static) if (batch * out_size_ > kParallelElements)
  for (std::int64_t b = 0; b < batch; ++b) {
    float* y = output.data() + b * out_size_;
    for (std::int64_t i = 0; i < out_size_; ++i) y[i] *= factors[static_cast<std::size_t>(i)];
    for (std::size_t i = 0; i < bias.size(); ++i) y[i] += bias[i];
  }
}

// One round of the pipeline on the device: the same steps and the same streams as the CPU's
// prepare_inputs, apply_ir_drop, add_analog_noise and digitize_outputs.
void AnalogTile::run_round_on_device(const Tensor& /*input: already on the device*/, Round& round) {
  const NoiseChoice choice = noise_choice();
  const auto index = static_cast<std::uint64_t>(round.index);
  const RandomStream& stream = *round.stream;
  simulator::cuda::RoundRequest request;
  request.samples = round.samples;
  request.input_scales = round.input_scales;
  request.first_sample = round.first_sample;
  request.seed = stream.seed();
  request.dac_rounding_stream = stream.derive("dac_rounding").derive(index).stream_id();
  request.input_noise_stream = stream.derive("input_noise").derive(index).stream_id();
  request.adc_rounding_stream = stream.derive("adc_rounding").derive(index).stream_id();
  request.first_noise_stream =
      stream.derive(choice.combined() ? "output_noise" : "weight_noise").derive(index).stream_id();
  request.second_noise_stream = stream.derive("output_noise").derive(index).stream_id();
  request.pcm_read = choice.pcm_read;
  request.additive = choice.additive;
  request.combined = choice.combined();
  round.saturated = engine_->run_round(request);
}

Tensor AnalogTile::forward(const Tensor& input) {
  check_batch_shape("tile '" + name_ + "'", "input", input, in_size_);
  const std::uint64_t first_sample = samples_seen_;
  samples_seen_ += static_cast<std::uint64_t>(input.dim(0));
  const MvmWeights weights = forward_weights(first_sample);
  return run_forward(input, weights, first_sample, stream_.derive("forward"), /*digital_post_processing=*/true);
}

void AnalogTile::analog_product(const Round& round, const Tensor& inputs, const Tensor& weights,
                                Tensor& outputs) const {
  if (!round.one_hot) {
    simulator::matmul_transposed(inputs, weights, outputs);
    return;
  }
  // One-hot rows: outputs[a, i] = inputs[a, b] * weights[i, b] with b = global_sample(a), exactly what
  // the GEMM computes (the other products are zeros), in O(out) per row instead of O(out * in).
  // This reads W by columns, so it goes in square blocks (a transpose) to reuse cache lines.
  constexpr std::int64_t kBlock = 64;
  const std::int64_t active = round.active();
#pragma omp parallel for schedule(static) if (active * out_size_ > kParallelElements)
  for (std::int64_t a0 = 0; a0 < active; a0 += kBlock) {
    const std::int64_t a_end = std::min(a0 + kBlock, active);
    for (std::int64_t i0 = 0; i0 < out_size_; i0 += kBlock) {
      const std::int64_t i_end = std::min(i0 + kBlock, out_size_);
      for (std::int64_t a = a0; a < a_end; ++a) {
        const auto b = static_cast<std::int64_t>(round.global_sample(a));
        const float value = inputs[a * in_size_ + b];
        float* row = outputs.data() + a * out_size_;
        for (std::int64_t i = i0; i < i_end; ++i) row[i] = value * weights[i * in_size_ + b];
      }
    }
  }
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
  if (io.is_perfect || io.mv_type == parameters::AnalogMVType::IDEAL) {
    if (device != nullptr) {
      device->ideal_product(input);
      const std::vector<char> finite_rows(static_cast<std::size_t>(batch), 0);
      return device->finish(finite_rows, output_factors(digital_post_processing),
                            digital_post_processing ? std::span<const float>(bias_) : std::span<const float>());
    }
    simulator::matmul_transposed(input, *weights.values, output);
    finish_outputs(output, digital_post_processing);
    return output;
  }

  const simulator::cuda::RowStatistics rows = device != nullptr ? device->load_batch(input) : row_statistics(input);
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
      prepare_inputs(input, round);
      analog_product(round, dac_outputs_, *weights.values, *round.outputs);
      if (io.ir_drop > 0.0) apply_ir_drop(round);
      add_analog_noise(round);
      digitize_outputs(round);
    }

    // Samples whose outputs still saturated go again with their input halved; the others are
    // done: scaled back by nm * reduction into their output rows.
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
    const auto finished = static_cast<std::int64_t>(done.size());
    if (device != nullptr) {
      std::vector<std::int64_t> targets;
      std::vector<float> scales;
      for (std::int64_t a : done) {
        targets.push_back(round.samples[static_cast<std::size_t>(a)]);
        scales.push_back(round.output_scales[static_cast<std::size_t>(a)]);
      }
      device->store_rows(done, targets, scales);
      round.samples = std::move(again);
      ++round.index;
      continue;
    }
#pragma omp parallel for schedule(static) if (finished * out_size_ > kParallelElements)
    for (std::int64_t d = 0; d < finished; ++d) {
      const std::int64_t a = done[static_cast<std::size_t>(d)];
      const float* source = round.outputs->data() + a * out_size_;
      float* target = output.data() + round.samples[static_cast<std::size_t>(a)] * out_size_;
      const float scale = round.output_scales[static_cast<std::size_t>(a)];
      for (std::int64_t i = 0; i < out_size_; ++i) target[i] = source[i] * scale;
    }
    round.samples = std::move(again);
    ++round.index;
  }
  if (device != nullptr) {
    return device->finish(non_finite, output_factors(digital_post_processing),
                          digital_post_processing ? std::span<const float>(bias_) : std::span<const float>());
  }
  for (std::int64_t b = 0; b < batch; ++b) {
    if (!non_finite[static_cast<std::size_t>(b)]) continue;
    std::fill(output.data() + b * out_size_, output.data() + (b + 1) * out_size_,
              std::numeric_limits<float>::quiet_NaN());
  }
  finish_outputs(output, digital_post_processing);
  return output;
}

}  // namespace tessera::tiles
