// The CPU backend of a tile's forward pass. Per round: the DAC per active row, then, per block
// of rows and outputs, the MVM (simulator::packed_products, weights packed once per version)
// and the products weight noise and IR drop need, and right after it, while the block is in
// cache, the element steps of periphery.hpp on it: IR drop, weight and output noise, ADC,
// finish. Every random draw is addressed by (sample, element), so neither the blocks nor the
// threads change a result.
#include <algorithm>
#include <atomic>
#include <limits>

#include "tile_backends.hpp"
#include "tessera/simulator/matmul.hpp"
#include "tessera/simulator/packed_product.hpp"

namespace tessera::simulator {
namespace {

/// Below this many elements per step, loops stay on the calling thread.
constexpr std::int64_t kParallelElements = 1 << 15;

float squared_norm(const float* row, std::int64_t length) {
  float sum = 0.0f;
  for (std::int64_t j = 0; j < length; ++j) sum += row[j] * row[j];
  return sum;
}

class CpuTileBackend final : public TileBackend {
 public:
  explicit CpuTileBackend(TileSpec spec) : spec_(std::move(spec)) {
    if (spec_.periphery.ir_drop.strength > 0.0f) {
      positions_.resize(static_cast<std::size_t>(spec_.in_size));
      for (std::int64_t j = 0; j < spec_.in_size; ++j)
        positions_[static_cast<std::size_t>(j)] = ir_drop_position(j, spec_.in_size);
    }
  }

  Backend kind() const override { return Backend::cpu; }

  RowStatistics begin_batch(const Tensor& input, const TileWeights& weights, OutputFinish finish,
                            RowStatisticsWanted wanted, bool identity_rows) override {
    input_ = &input;
    weights_ = weights;
    finish_ = std::move(finish);
    one_hot_ = identity_rows && spec_.periphery.dac.noise <= 0.0f;  // the DAC maps 0 to 0
    output_.resize({input.dim(0), spec_.out_size});
    return identity_rows ? identity_statistics(input.dim(0), wanted) : row_statistics(input, wanted);
  }

  void run_round(const TileRound& round, std::span<char> saturated) override;

  Tensor end_batch(std::span<const char> computed, std::span<const char> non_finite) override {
    const std::int64_t batch = output_.dim(0), out = spec_.out_size;
    for (std::int64_t b = 0; b < batch; ++b) {
      if (computed[static_cast<std::size_t>(b)]) continue;
      // NaN for a non-finite input (README, "Non-finite values"); zeros for a sample that gives none.
      const float value = non_finite[static_cast<std::size_t>(b)] ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
      float* y = output_.data() + b * out;
      std::fill(y, y + out, value);
      finish_rows(y, 1.0f, y, 0, out);
    }
    input_ = nullptr;
    Tensor result = std::move(output_);
    output_ = Tensor();
    return result;
  }

  Tensor ideal_forward(const Tensor& input, const TileWeights& weights, const OutputFinish& finish) override {
    pack(weights);
    finish_ = finish;
    Tensor output({input.dim(0), spec_.out_size});
    const PackedProduct products[] = {{&input, &packed_values_, &output}};
    packed_products(products, [&](std::int64_t r, std::int64_t m, std::int64_t c, std::int64_t n) {
      for (std::int64_t b = r; b < r + m; ++b) {
        float* y = output.data() + b * spec_.out_size + c;
        finish_rows(y, 1.0f, y, c, n);
      }
    });
    return output;
  }

 private:
  RowStatistics row_statistics(const Tensor& input, RowStatisticsWanted wanted) const;
  RowStatistics identity_statistics(std::int64_t batch, RowStatisticsWanted wanted) const;
  void prepare_inputs(const TileRound& round);
  void one_hot_product(const TileRound& round, const Tensor& inputs, const Tensor& weights, Tensor& outputs,
                       std::int64_t r, std::int64_t m, std::int64_t c, std::int64_t n) const;
  void pack(const TileWeights& weights);
  /// target[i] = finish_output(source[i], scale, factor, bias) for outputs c..c+n.
  void finish_rows(const float* source, float scale, float* target, std::int64_t c, std::int64_t n) const {
    const float* factor = finish_.factors.data() + c;
    if (finish_.bias.empty()) {
      for (std::int64_t i = 0; i < n; ++i) target[i] = finish_output(source[i], scale, factor[i], nullptr);
      return;
    }
    const float* bias = finish_.bias.data() + c;
    for (std::int64_t i = 0; i < n; ++i) target[i] = finish_output(source[i], scale, factor[i], bias + i);
  }

  TileSpec spec_;
  std::vector<float> positions_;  ///< ir_drop_position of every input
  // The batch being computed.
  const Tensor* input_ = nullptr;
  TileWeights weights_;
  OutputFinish finish_;
  bool one_hot_ = false;
  Tensor output_;
  // Workspaces reused across calls (no allocation per call).
  Tensor dac_outputs_, round_outputs_, squared_inputs_, weight_variance_;
  Tensor ir_abs_inputs_, ir_positioned_inputs_, ir_currents_, ir_products_;
  std::vector<float> input_squared_norms_;
  PackedWeights packed_values_, packed_magnitudes_;  ///< the MVM weights (and |W|) packed for the product
  std::uint64_t packed_version_ = 0;                 ///< the weights version they hold; 0: none
};

RowStatistics CpuTileBackend::row_statistics(const Tensor& input, RowStatisticsWanted wanted) const {
  const std::int64_t batch = input.dim(0), length = input.dim(1);
  const auto rows = static_cast<std::size_t>(batch);
  RowStatistics statistics;
  statistics.abs_max.resize(rows);
  statistics.max.resize(wanted.max ? rows : 0);
  statistics.positive_sum.resize(wanted.sums ? rows : 0);
  statistics.negative_sum.resize(wanted.sums ? rows : 0);
#pragma omp parallel for schedule(static) if (batch * length > kParallelElements)
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* row = input.data() + b * length;
    const auto index = static_cast<std::size_t>(b);
    std::uint32_t largest = 0;
    for (std::int64_t j = 0; j < length; ++j) largest = std::max(largest, magnitude_bits(row[j]));
    statistics.abs_max[index] = float_from_bits(largest);
    if (wanted.max) {
      float value = row[0];
      for (std::int64_t j = 1; j < length; ++j) value = std::max(value, row[j]);
      statistics.max[index] = value;
    }
    if (wanted.sums) {
      float positive = 0.0f, negative = 0.0f;
      for (std::int64_t j = 0; j < length; ++j) {
        positive += std::max(row[j], 0.0f);
        negative -= std::min(row[j], 0.0f);
      }
      statistics.positive_sum[index] = positive;
      statistics.negative_sum[index] = negative;
    }
  }
  return statistics;
}

// Rows of the identity hold one 1 and zeros: their statistics are known without reading them.
RowStatistics CpuTileBackend::identity_statistics(std::int64_t batch, RowStatisticsWanted wanted) const {
  const auto rows = static_cast<std::size_t>(batch);
  RowStatistics statistics;
  statistics.abs_max.assign(rows, 1.0f);
  statistics.max.assign(wanted.max ? rows : 0, 1.0f);
  statistics.positive_sum.assign(wanted.sums ? rows : 0, 1.0f);
  statistics.negative_sum.assign(wanted.sums ? rows : 0, 0.0f);
  return statistics;
}

// The DAC per active row, and what the analog steps need of its output: v^2 (PCM_READ weight
// noise), |v|^2 (additive weight noise), |v| and the position-weighted v (IR drop).
void CpuTileBackend::prepare_inputs(const TileRound& round) {
  const PeripherySettings& p = spec_.periphery;
  const std::int64_t in = spec_.in_size;
  const auto active = static_cast<std::int64_t>(round.samples.size());
  const bool ir_drop = p.ir_drop.strength > 0.0f;
  dac_outputs_.resize({active, in});
  if (p.noise.pcm_read) squared_inputs_.resize({active, in});
  if (p.noise.additive) input_squared_norms_.resize(static_cast<std::size_t>(active));
  if (ir_drop) {
    ir_abs_inputs_.resize({active, in});
    ir_positioned_inputs_.resize({active, in});
  }
  const bool rounding_draws = p.dac.stochastic;
  const bool noise_draws = p.dac.noise > 0.0f;
#pragma omp parallel if (active * in > kParallelElements)
  {
    std::vector<float> uniforms(rounding_draws ? static_cast<std::size_t>(in) : 0);
    std::vector<float> normals(noise_draws ? static_cast<std::size_t>(in) : 0);
    // A copy of the settings: stores through v cannot change it, so the compiler keeps them in
    // registers and vectorises the loop (through the member it reloaded them per element).
    const DacSettings settings = p.dac;
#pragma omp for schedule(static)
    for (std::int64_t a = 0; a < active; ++a) {
      const std::int64_t sample = round.samples[static_cast<std::size_t>(a)];
      const float* x = input_->data() + sample * in;
      float* v = dac_outputs_.data() + a * in;
      const std::uint64_t global = round.first_sample + static_cast<std::uint64_t>(sample);
      const float scale = round.input_scales[static_cast<std::size_t>(a)];
      // A one-hot row has its one nonzero at column `global`; the DAC keeps zeros at zero and
      // the one-hot MVM reads that column only, so only it is converted.
      const std::int64_t first = one_hot_ ? static_cast<std::int64_t>(global) : 0;
      const std::int64_t last = one_hot_ ? first + 1 : in;
      const auto count = static_cast<std::size_t>(last - first);
      const std::uint64_t offset = global * static_cast<std::uint64_t>(in) + static_cast<std::uint64_t>(first);
      if (rounding_draws) round.streams.dac_rounding.fill_uniform(std::span(uniforms.data(), count), offset);
      if (noise_draws) round.streams.input_noise.fill_normal(std::span(normals.data(), count), offset);
      if (rounding_draws || noise_draws) {
        for (std::int64_t j = first; j < last; ++j) {
          const auto k = static_cast<std::size_t>(j - first);
          v[j] = dac(x[j] * scale, settings, rounding_draws ? uniforms[k] : 0.0f, noise_draws ? normals[k] : 0.0f);
        }
      } else {
        for (std::int64_t j = first; j < last; ++j) v[j] = dac(x[j] * scale, settings, 0.0f, 0.0f);
      }
      if (p.noise.pcm_read) {
        float* squared = squared_inputs_.data() + a * in;
        for (std::int64_t j = first; j < last; ++j) squared[j] = v[j] * v[j];
      }
      if (p.noise.additive) input_squared_norms_[static_cast<std::size_t>(a)] = squared_norm(v + first, last - first);
      if (ir_drop) {
        float* magnitude = ir_abs_inputs_.data() + a * in;
        float* positioned = ir_positioned_inputs_.data() + a * in;
        for (std::int64_t j = first; j < last; ++j) {
          magnitude[j] = std::abs(v[j]);
          positioned[j] = v[j] * positions_[static_cast<std::size_t>(j)];
        }
      }
    }
  }
}

// outputs[r:r+m, c:c+n] = inputs[r:r+m] * weights[c:c+n]^T for one-hot input rows: row a's one
// nonzero is at column first_sample + samples[a], so the product is that column of W scaled,
// exactly what the GEMM computes (the other products are zeros), in O(out) per row instead of
// O(out * in). This reads W by columns, so it goes in square blocks (a transpose) to reuse
// cache lines.
void CpuTileBackend::one_hot_product(const TileRound& round, const Tensor& inputs, const Tensor& weights,
                                     Tensor& outputs, std::int64_t r, std::int64_t m, std::int64_t c,
                                     std::int64_t n) const {
  constexpr std::int64_t kBlock = 64;
  const std::int64_t in = spec_.in_size, out = spec_.out_size;
  for (std::int64_t a0 = r; a0 < r + m; a0 += kBlock) {
    const std::int64_t a_end = std::min(a0 + kBlock, r + m);
    for (std::int64_t i0 = c; i0 < c + n; i0 += kBlock) {
      const std::int64_t i_end = std::min(i0 + kBlock, c + n);
      for (std::int64_t a = a0; a < a_end; ++a) {
        const auto b = static_cast<std::int64_t>(round.first_sample) + round.samples[static_cast<std::size_t>(a)];
        const float value = inputs[a * in + b];
        float* row = outputs.data() + a * out;
        for (std::int64_t i = i0; i < i_end; ++i) row[i] = value * weights[i * in + b];
      }
    }
  }
}

void CpuTileBackend::run_round(const TileRound& round, std::span<char> saturated) {
  const PeripherySettings& p = spec_.periphery;
  const std::int64_t out = spec_.out_size;
  prepare_inputs(round);
  const auto active = static_cast<std::int64_t>(round.samples.size());
  const bool ir_drop = p.ir_drop.strength > 0.0f;
  if (p.noise.pcm_read) weight_variance_.resize({active, out});
  if (ir_drop) {
    ir_currents_.resize({active, out});
    ir_products_.resize({active, out});
  }
  std::fill(saturated.begin(), saturated.end(), 0);
  // A first round over the whole batch computes straight into the output.
  const bool in_place = active == output_.dim(0);
  if (!in_place) round_outputs_.resize({active, out});
  Tensor& outputs = in_place ? output_ : round_outputs_;
  const float* sigma_out = spec_.output_noise_std.data();
  const float* nonlinearity = spec_.output_nonlinearity.empty() ? nullptr : spec_.output_nonlinearity.data();

  // Rows r..r+m of every product are final for outputs c..c+n: the element steps, then the
  // digital finish, as if this were the row's last round (one that saturated runs again and its
  // next round overwrites it).
  auto finish_block = [&](std::int64_t r, std::int64_t m, std::int64_t c, std::int64_t n) {
    const PeripherySettings p = spec_.periphery;  // a local copy, for the reason in prepare_inputs
    // Draws are addressed by (sample, output), so whole rows of the samples from the block's
    // first to its last are one range of each stream: one fill for the block when they are
    // mostly computed ones (narrow tiles have many short rows; a sample with all-zero inputs
    // is skipped), else one fill per row. The numbers are the same either way.
    const std::int64_t first_sample = round.samples[static_cast<std::size_t>(r)];
    const std::int64_t spanned = round.samples[static_cast<std::size_t>(r + m - 1)] - first_sample + 1;
    const bool one_range = n == out && spanned <= 2 * m;
    const std::int64_t per_fill = one_range ? spanned * n : n;
    thread_local std::vector<float> first_draws, second_draws, adc_draws;
    for (auto* draws : {&first_draws, &second_draws, &adc_draws}) draws->resize(static_cast<std::size_t>(per_fill));
    auto fill = [&](std::int64_t a, bool wanted, const RandomStream& stream, std::vector<float>& draws, bool normal) {
      if (!wanted || (one_range && a != r)) return;
      const std::int64_t sample = round.samples[static_cast<std::size_t>(a)];
      const std::uint64_t offset = (round.first_sample + static_cast<std::uint64_t>(sample)) *
                                       static_cast<std::uint64_t>(out) +
                                   static_cast<std::uint64_t>(c);
      if (normal) {
        stream.fill_normal(draws, offset);
      } else {
        stream.fill_uniform(draws, offset);
      }
    };
    for (std::int64_t a = r; a < r + m; ++a) {
      const std::int64_t sample = round.samples[static_cast<std::size_t>(a)];
      const std::size_t row_draws = one_range ? static_cast<std::size_t>((sample - first_sample) * n) : 0;
      float* y = outputs.data() + a * out + c;
      if (ir_drop) {
        const float* currents = ir_currents_.data() + a * out + c;
        const float* products = ir_products_.data() + a * out + c;
        for (std::int64_t i = 0; i < n; ++i) y[i] = simulator::ir_drop(y[i], currents[i], products[i], p.ir_drop);
      }
      if (p.noise.any()) {
        fill(a, p.noise.first_draw(), round.streams.first_noise, first_draws, true);
        fill(a, p.noise.second_draw(), round.streams.second_noise, second_draws, true);
        const float* z1 = first_draws.data() + row_draws;
        const float* z2 = second_draws.data() + row_draws;
        const float* nl = nonlinearity != nullptr ? nonlinearity + c : nullptr;
        if (p.noise.pcm_read) {
          const float* variance = weight_variance_.data() + a * out + c;
          for (std::int64_t i = 0; i < n; ++i) {
            y[i] = analog_noise(y[i], p.noise.w_noise_squared * variance[i], sigma_out[c + i],
                                nl != nullptr ? nl[i] : 0.0f, z1[i], z2[i], p.noise);
          }
        } else {
          const float variance =
              p.noise.additive ? p.noise.w_noise_squared * input_squared_norms_[static_cast<std::size_t>(a)] : 0.0f;
          for (std::int64_t i = 0; i < n; ++i) {
            y[i] = analog_noise(y[i], variance, sigma_out[c + i], nl != nullptr ? nl[i] : 0.0f, z1[i], z2[i], p.noise);
          }
        }
      }
      fill(a, p.adc.stochastic, round.streams.adc_rounding, adc_draws, false);
      const float* u = adc_draws.data() + row_draws;
      int beyond = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        bool level_beyond = false;
        y[i] = adc(y[i], p.adc, p.adc.stochastic ? u[i] : 0.0f, level_beyond);
        beyond += level_beyond ? 1 : 0;
      }
      if (beyond > 0) std::atomic_ref<char>(saturated[static_cast<std::size_t>(a)]).store(1, std::memory_order_relaxed);
      float* target = in_place ? y : output_.data() + sample * out + c;
      finish_rows(y, round.output_scales[static_cast<std::size_t>(a)], target, c, n);
    }
  };
  if (one_hot_) {
    const Tensor& values = *weights_.values;
    for_each_product_band(active, out, spec_.in_size, [&](std::int64_t r, std::int64_t m, std::int64_t c, std::int64_t n) {
      one_hot_product(round, dac_outputs_, values, outputs, r, m, c, n);
      if (p.noise.pcm_read) one_hot_product(round, squared_inputs_, *weights_.magnitudes, weight_variance_, r, m, c, n);
      if (ir_drop) {
        one_hot_product(round, ir_abs_inputs_, *weights_.magnitudes, ir_currents_, r, m, c, n);
        one_hot_product(round, ir_positioned_inputs_, values, ir_products_, r, m, c, n);
      }
      finish_block(r, m, c, n);
    });
    return;
  }
  pack(weights_);
  std::vector<PackedProduct> products{{&dac_outputs_, &packed_values_, &outputs}};
  if (p.noise.pcm_read) products.push_back({&squared_inputs_, &packed_magnitudes_, &weight_variance_});
  if (ir_drop) {
    products.push_back({&ir_abs_inputs_, &packed_magnitudes_, &ir_currents_});
    products.push_back({&ir_positioned_inputs_, &packed_values_, &ir_products_});
  }
  packed_products(products, finish_block);
}

// The packed copies follow the weights' version; version 0 (weights modified per call) is
// packed every time.
void CpuTileBackend::pack(const TileWeights& weights) {
  if (weights.version != 0 && weights.version == packed_version_) return;
  packed_values_ = PackedWeights(*weights.values);
  if (weights.magnitudes != nullptr) packed_magnitudes_ = PackedWeights(*weights.magnitudes);
  packed_version_ = weights.version;
}

}  // namespace

std::unique_ptr<TileBackend> make_cpu_tile_backend(TileSpec spec) {
  return std::make_unique<CpuTileBackend>(std::move(spec));
}

}  // namespace tessera::simulator
