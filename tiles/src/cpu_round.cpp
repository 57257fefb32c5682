// One bound-management round of AnalogTile's forward pass on the CPU:
//   DAC (per sample) -> per block of rows and outputs: MVM, the products weight noise and IR
//   drop need, then per element IR drop, weight + output noise, nonlinearity/asymmetry, ADC,
//   rescale, digital factors and bias.
// The MVM is simulator::packed_products with the weights packed once per change; each block's
// element-wise steps run on the thread that computed it, as soon as it is final, while it is
// still in cache. Its sums do not depend on the thread count or the blocking, and every random
// draw is indexed by (sample, output), so neither the blocks nor the threads change a result.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "forward_round.hpp"
#include "tessera/simulator/matmul.hpp"
#include "tessera/simulator/packed_product.hpp"
#include "tessera/simulator/periphery.hpp"

namespace tessera::tiles {

using simulator::RandomStream;

namespace {

float squared_norm(const float* row, std::int64_t length) {
  float sum = 0.0f;
  for (std::int64_t j = 0; j < length; ++j) sum += row[j] * row[j];
  return sum;
}

// aihwkit's IR drop weighs input j of n by how far along the row it sits: 1 - (1 - j / n)^2.
std::vector<float> ir_drop_positions(std::int64_t n) {
  std::vector<float> position(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) {
    const float distance = 1.0f - static_cast<float>(j) / static_cast<float>(n);
    position[static_cast<std::size_t>(j)] = 1.0f - distance * distance;
  }
  return position;
}

}  // namespace

// The DAC per active sample, and what the analog steps need of its output: v^2 (PCM_READ
// weight noise), |v|^2 (additive weight noise), |v| and the position-weighted v (IR drop).
void AnalogTile::prepare_inputs(const Tensor& input, Round& round) {
  const parameters::IOParameters& io = config_.forward;
  const float bin = simulator::converter_bin(io.inp_res, io.inp_bound);
  const auto bound = static_cast<float>(io.inp_bound);
  const auto asymmetry = static_cast<float>(io.inp_asymmetry);
  const auto noise = static_cast<float>(io.inp_noise);
  const NoiseChoice choice = noise_choice();
  const bool ir_drop = io.ir_drop > 0.0;
  const std::int64_t active = round.active();
  dac_outputs_.resize({active, in_size_});
  if (choice.pcm_read) squared_inputs_.resize({active, in_size_});
  if (choice.additive) input_squared_norms_.resize(static_cast<std::size_t>(active));
  const std::vector<float> position = ir_drop ? ir_drop_positions(in_size_) : std::vector<float>();
  if (ir_drop) {
    ir_abs_inputs_.resize({active, in_size_});
    ir_positioned_inputs_.resize({active, in_size_});
  }
  const RandomStream rounding = round.draws("dac_rounding");
  const RandomStream input_noise = round.draws("input_noise");
#pragma omp parallel if (active * in_size_ > kParallelElements)
  {
    std::vector<float> draws(io.inp_sto_round || noise > 0.0f ? static_cast<std::size_t>(in_size_) : 0);
#pragma omp for schedule(static)
    for (std::int64_t a = 0; a < active; ++a) {
      const float* x = input.data() + round.samples[static_cast<std::size_t>(a)] * in_size_;
      float* v = dac_outputs_.data() + a * in_size_;
      const std::uint64_t offset = round.global_sample(a) * static_cast<std::uint64_t>(in_size_);
      const float scale = round.input_scales[static_cast<std::size_t>(a)];
      // A one-hot row has its one nonzero at column global_sample(a); the DAC keeps zeros at zero
      // and the one-hot MVM reads that column only, so only it is converted.
      const std::int64_t first = round.one_hot ? static_cast<std::int64_t>(round.global_sample(a)) : 0;
      const std::int64_t last = round.one_hot ? first + 1 : in_size_;
      const std::span<float> range_draws(draws.data(), draws.empty() ? 0 : static_cast<std::size_t>(last - first));
      const std::uint64_t range_offset = offset + static_cast<std::uint64_t>(first);
      if (io.inp_sto_round) {
        rounding.fill_uniform(range_draws, range_offset);
        for (std::int64_t j = first; j < last; ++j) {
          v[j] = simulator::clip_to_bound(simulator::round_to_bin(x[j] * scale, bin, true, draws[j - first]), bound);
        }
      } else {
        for (std::int64_t j = first; j < last; ++j) {
          v[j] = simulator::clip_to_bound(simulator::round_to_bin(x[j] * scale, bin, false, 0.0f), bound);
        }
      }
      if (noise > 0.0f) {  // never one-hot: input noise makes every column nonzero
        input_noise.fill_normal(range_draws, range_offset);
        for (std::int64_t j = first; j < last; ++j) v[j] += noise * draws[j - first];
      }
      if (asymmetry != 0.0f) {
        for (std::int64_t j = first; j < last; ++j) v[j] = simulator::apply_asymmetry(v[j], asymmetry);
      }
      if (choice.pcm_read) {
        float* squared = squared_inputs_.data() + a * in_size_;
        for (std::int64_t j = first; j < last; ++j) squared[j] = v[j] * v[j];
      }
      if (choice.additive) {
        input_squared_norms_[static_cast<std::size_t>(a)] = squared_norm(v + first, last - first);
      }
      if (ir_drop) {
        float* magnitude = ir_abs_inputs_.data() + a * in_size_;
        float* positioned = ir_positioned_inputs_.data() + a * in_size_;
        for (std::int64_t j = first; j < last; ++j) {
          magnitude[j] = std::abs(v[j]);
          positioned[j] = v[j] * position[static_cast<std::size_t>(j)];
        }
      }
    }
  }
}

// outputs[r:r+m, c:c+n] = inputs[r:r+m] * weights[c:c+n]^T for one-hot input rows.
void AnalogTile::one_hot_product(const Round& round, const Tensor& inputs, const Tensor& weights, Tensor& outputs,
                                 std::int64_t r, std::int64_t m, std::int64_t c, std::int64_t n) const {
  // One-hot rows: outputs[a, i] = inputs[a, b] * weights[i, b] with b = global_sample(a), exactly what
  // the GEMM computes (the other products are zeros), in O(out) per row instead of O(out * in).
  // This reads W by columns, so it goes in square blocks (a transpose) to reuse cache lines.
  constexpr std::int64_t kBlock = 64;
  for (std::int64_t a0 = r; a0 < r + m; a0 += kBlock) {
    const std::int64_t a_end = std::min(a0 + kBlock, r + m);
    for (std::int64_t i0 = c; i0 < c + n; i0 += kBlock) {
      const std::int64_t i_end = std::min(i0 + kBlock, c + n);
      for (std::int64_t a = a0; a < a_end; ++a) {
        const auto b = static_cast<std::int64_t>(round.global_sample(a));
        const float value = inputs[a * in_size_ + b];
        float* row = outputs.data() + a * out_size_;
        for (std::int64_t i = i0; i < i_end; ++i) row[i] = value * weights[i * in_size_ + b];
      }
    }
  }
}

// aihwkit's IR-drop model: the current drawn along a row lowers the voltage the inputs see,
// more for inputs further from the driver. Per output i:
//   a_i = n / ir_drop_g_ratio * sum_j |w_ij| |v_j|,   c_i = a_i (a_i (0.05 a_i - 0.2) + 0.5)
//   y_i -= ir_drop * c_i * sum_j w_ij v_j (1 - (1 - j / n)^2)
// The two sums are the products ir_currents_ and ir_products_ of the band.
void AnalogTile::apply_ir_drop(std::int64_t a, std::int64_t c, std::int64_t n, float* y) const {
  const parameters::IOParameters& io = config_.forward;
  const auto current_scale = static_cast<float>(static_cast<double>(in_size_) / io.ir_drop_g_ratio);
  const auto strength = static_cast<float>(io.ir_drop);
  const float* currents = ir_currents_.data() + a * out_size_ + c;
  const float* products = ir_products_.data() + a * out_size_ + c;
  for (std::int64_t i = 0; i < n; ++i) {
    const float current = current_scale * currents[i];
    const float cubic = current * (current * (0.05f * current - 0.2f) + 0.5f);
    y[i] -= strength * cubic * products[i];
  }
}

// Weight noise, nonlinearity/asymmetry and output noise on outputs c..c+n of active sample a.
// Per-MVM weight noise is Gaussian per output with variance sum_j sigma_ij^2 v_j^2 (PCM_READ:
// sigma_ij^2 = w_noise^2 |w_ij|, the band's product of v^2 with |W|), so it is drawn exactly in
// distribution from that variance instead of sampling one number per weight and sample.
void AnalogTile::add_analog_noise(const Round& round, const NoiseStreams& streams, std::int64_t a, std::int64_t c,
                                  std::int64_t n, float* y, std::span<float> draws) const {
  const parameters::IOParameters& io = config_.forward;
  const NoiseChoice& choice = streams.choice;
  if (!choice.any()) return;
  const auto w_noise = static_cast<float>(io.w_noise);
  const float w_noise_squared = w_noise * w_noise;
  const bool weight_noise = choice.pcm_read || choice.additive;
  const std::uint64_t offset =
      round.global_sample(a) * static_cast<std::uint64_t>(out_size_) + static_cast<std::uint64_t>(c);
  const float* sigma_out = output_noise_std_.data() + c;
  const float additive_variance =
      choice.additive ? w_noise_squared * input_squared_norms_[static_cast<std::size_t>(a)] : 0.0f;
  const float* variance = choice.pcm_read ? weight_variance_.data() + a * out_size_ + c : nullptr;
  if (choice.combined() && !weight_noise) {
    streams.first.fill_normal(draws, offset);
    for (std::int64_t i = 0; i < n; ++i) y[i] += sigma_out[i] * draws[static_cast<std::size_t>(i)];
    return;
  }
  if (choice.combined()) {
    streams.first.fill_normal(draws, offset);
    for (std::int64_t i = 0; i < n; ++i) {
      const float weight_variance = choice.pcm_read ? w_noise_squared * variance[i] : additive_variance;
      y[i] += std::sqrt(weight_variance + sigma_out[i] * sigma_out[i]) * draws[static_cast<std::size_t>(i)];
    }
    return;
  }
  if (weight_noise) {
    streams.first.fill_normal(draws, offset);
    for (std::int64_t i = 0; i < n; ++i) {
      const float weight_variance = choice.pcm_read ? w_noise_squared * variance[i] : additive_variance;
      y[i] += std::sqrt(weight_variance) * draws[static_cast<std::size_t>(i)];
    }
  }
  const float* nonlinearity = output_nonlinearity_.empty() ? nullptr : output_nonlinearity_.data() + c;
  for (std::int64_t i = 0; i < n && nonlinearity != nullptr; ++i) y[i] /= 1.0f + nonlinearity[i] * std::abs(y[i]);
  const auto out_asymmetry = static_cast<float>(io.out_asymmetry);
  if (out_asymmetry != 0.0f) {
    for (std::int64_t i = 0; i < n; ++i) y[i] = simulator::apply_asymmetry(y[i], out_asymmetry);
  }
  if (choice.output_noise) {
    streams.second.fill_normal(draws, offset);
    for (std::int64_t i = 0; i < n; ++i) y[i] += sigma_out[i] * draws[static_cast<std::size_t>(i)];
  }
}

// The ADC on outputs c..c+n of active sample a; true when a level lay beyond the bound (the
// test bound management makes).
bool AnalogTile::digitize_outputs(const Round& round, const NoiseStreams& streams, std::int64_t a, std::int64_t c,
                                  std::int64_t n, float* y, std::span<float> draws) const {
  const parameters::IOParameters& io = config_.forward;
  const float bin = simulator::converter_bin(io.out_res, io.out_bound);
  const auto bound = static_cast<float>(io.out_bound);
  if (io.out_sto_round) {
    const std::uint64_t offset =
        round.global_sample(a) * static_cast<std::uint64_t>(out_size_) + static_cast<std::uint64_t>(c);
    streams.adc_rounding.fill_uniform(draws, offset);
    for (std::int64_t i = 0; i < n; ++i)
      y[i] = simulator::round_to_bin(y[i], bin, true, draws[static_cast<std::size_t>(i)]);
  } else {
    for (std::int64_t i = 0; i < n; ++i) y[i] = simulator::round_to_bin(y[i], bin, false, 0.0f);
  }
  if (bound <= 0.0f) return false;
  // Counting (rather than or-ing) the levels beyond the bound; GCC 12 vectorises the count only
  // when told it is a reduction.
  int beyond = 0;
  const float lower = io.bm_test_negative_bound ? -bound : -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(+ : beyond)
  for (std::int64_t i = 0; i < n; ++i) beyond += (y[i] > bound) + (y[i] < lower);
  for (std::int64_t i = 0; i < n; ++i) y[i] = simulator::clip_to_bound(y[i], bound);
  return beyond > 0;
}

void AnalogTile::run_round_on_cpu(const Tensor& input, Round& round, Tensor& output, const Finish& finish) {
  const parameters::IOParameters& io = config_.forward;
  prepare_inputs(input, round);
  const std::int64_t active = round.active();
  const bool ir_drop = io.ir_drop > 0.0;
  const NoiseChoice choice = noise_choice();
  const NoiseStreams streams{choice, round.draws(choice.first_stream()), round.draws("output_noise"),
                             round.draws("adc_rounding")};
  if (streams.choice.pcm_read) weight_variance_.resize({active, out_size_});
  if (ir_drop) {
    ir_currents_.resize({active, out_size_});
    ir_products_.resize({active, out_size_});
  }
  round.saturated.assign(static_cast<std::size_t>(active), 0);
  const bool in_place = round.outputs == &output;
  // Rows r..r+m of every product are final for outputs c..c+n: the periphery steps, then the
  // digital finish.
  auto finish_block = [&](std::int64_t r, std::int64_t m, std::int64_t c, std::int64_t n) {
    thread_local std::vector<float> draws;
    draws.resize(static_cast<std::size_t>(n));
    for (std::int64_t a = r; a < r + m; ++a) {
      float* y = round.outputs->data() + a * out_size_ + c;
      if (ir_drop) apply_ir_drop(a, c, n, y);
      add_analog_noise(round, streams, a, c, n, y, draws);
      if (digitize_outputs(round, streams, a, c, n, y, draws)) {
        std::atomic_ref<char>(round.saturated[static_cast<std::size_t>(a)]).store(1, std::memory_order_relaxed);
      }
      // Finished as if this were the sample's last round: one that saturated runs again and
      // its next round overwrites this.
      float* target = in_place ? y : output.data() + round.samples[static_cast<std::size_t>(a)] * out_size_ + c;
      finish.apply(y, round.output_scales[static_cast<std::size_t>(a)], target, c, n);
    }
  };
  if (round.one_hot) {
    simulator::for_each_product_band(
        active, out_size_, in_size_, [&](std::int64_t r, std::int64_t m, std::int64_t c, std::int64_t n) {
          one_hot_product(round, dac_outputs_, *round.weights.values, *round.outputs, r, m, c, n);
          if (streams.choice.pcm_read) {
            one_hot_product(round, squared_inputs_, *round.weights.magnitudes, weight_variance_, r, m, c, n);
          }
          if (ir_drop) {
            one_hot_product(round, ir_abs_inputs_, *round.weights.magnitudes, ir_currents_, r, m, c, n);
            one_hot_product(round, ir_positioned_inputs_, *round.weights.values, ir_products_, r, m, c, n);
          }
          finish_block(r, m, c, n);
        });
    return;
  }
  pack_weights(round.weights);
  std::vector<simulator::PackedProduct> products{{&dac_outputs_, &packed_values_, round.outputs}};
  if (streams.choice.pcm_read) products.push_back({&squared_inputs_, &packed_magnitudes_, &weight_variance_});
  if (ir_drop) {
    products.push_back({&ir_abs_inputs_, &packed_magnitudes_, &ir_currents_});
    products.push_back({&ir_positioned_inputs_, &packed_values_, &ir_products_});
  }
  simulator::packed_products(products, finish_block);
}

// is_perfect: the plain product, then the digital factors and bias block by block.
void AnalogTile::ideal_product(const Tensor& input, const MvmWeights& weights, Tensor& output, const Finish& finish) {
  pack_weights(weights);
  const simulator::PackedProduct products[] = {{&input, &packed_values_, &output}};
  simulator::packed_products(products, [&](std::int64_t r, std::int64_t m, std::int64_t c, std::int64_t n) {
    for (std::int64_t b = r; b < r + m; ++b) {
      float* y = output.data() + b * out_size_ + c;
      finish.apply(y, 1.0f, y, c, n);
    }
  });
}

// The packed copies follow the weights the MVM uses; modified weights are new on every call.
void AnalogTile::pack_weights(const MvmWeights& weights) {
  if (packed_source_ == weights.values && weights.values != &modified_weights_) return;
  packed_values_ = simulator::PackedWeights(*weights.values);
  if (needs_weight_magnitudes()) packed_magnitudes_ = simulator::PackedWeights(*weights.magnitudes);
  packed_source_ = weights.values;
}

}  // namespace tessera::tiles
