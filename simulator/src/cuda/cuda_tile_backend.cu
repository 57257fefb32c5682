// The CUDA backend of a tile's forward pass: cuBLAS for the products (full float32, no TF32)
// and one kernel per element step, each calling the step function of periphery.hpp that the
// CPU backend calls, with the draws of philox.hpp's element functions, so that a step cannot
// differ between the backends and a draw is the same float on both.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "device_support.cuh"
#include "tessera/simulator/periphery.hpp"
#include "tessera/simulator/philox.hpp"
#include "tile_backends.hpp"

namespace tessera::simulator {
namespace {

using cuda::check;
using cuda::check_launch;
using cuda::DeviceBuffer;
using cuda::grid_for;

constexpr int kThreads = 256;

/// The (seed, stream id) pairs of a round's streams, as kernels take them.
struct StreamIds {
  std::uint64_t seed = 0;
  std::uint64_t id = 0;
};

StreamIds ids_of(const RandomStream& stream) { return {stream.seed(), stream.stream_id()}; }

__device__ float uniform_at(StreamIds stream, std::uint64_t element) {
  return stream_uniform(stream.seed, stream.id, element);
}
__device__ float normal_at(StreamIds stream, std::uint64_t element) {
  return stream_normal(stream.seed, stream.id, element);
}

// Row statistics as the CPU computes them (max |x| as the largest magnitude bit pattern, so
// NaN and Inf come through as themselves), one block per row.
__global__ void row_statistics_kernel(const float* input, std::int64_t length, float* abs_max, float* max,
                                      float* positive, float* negative) {
  __shared__ unsigned int largest[kThreads];
  __shared__ float highest[kThreads];
  __shared__ float sums[2][kThreads];
  const float* row = input + static_cast<std::int64_t>(blockIdx.x) * length;
  unsigned int bits_max = 0;
  float value_max = -INFINITY, plus = 0.0f, minus = 0.0f;
  for (std::int64_t j = threadIdx.x; j < length; j += blockDim.x) {
    const float x = row[j];
    const unsigned int bits = magnitude_bits(x);
    bits_max = bits > bits_max ? bits : bits_max;
    value_max = x > value_max ? x : value_max;
    plus += x > 0.0f ? x : 0.0f;
    minus -= x < 0.0f ? x : 0.0f;
  }
  largest[threadIdx.x] = bits_max;
  highest[threadIdx.x] = value_max;
  sums[0][threadIdx.x] = plus;
  sums[1][threadIdx.x] = minus;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      const unsigned other = threadIdx.x + stride;
      largest[threadIdx.x] = largest[other] > largest[threadIdx.x] ? largest[other] : largest[threadIdx.x];
      highest[threadIdx.x] = highest[other] > highest[threadIdx.x] ? highest[other] : highest[threadIdx.x];
      sums[0][threadIdx.x] += sums[0][other];
      sums[1][threadIdx.x] += sums[1][other];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    abs_max[blockIdx.x] = float_from_bits(largest[0]);
    max[blockIdx.x] = highest[0];
    positive[blockIdx.x] = sums[0][0];
    negative[blockIdx.x] = sums[1][0];
  }
}

// Element (a, j) of the active rows: the DAC.
__global__ void dac_kernel(const float* input, float* dac_out, const std::int64_t* samples, const float* scales,
                           std::int64_t active, std::int64_t in_size, std::uint64_t first_sample, StreamIds rounding,
                           StreamIds noise, DacSettings s) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= active * in_size) return;
  const std::int64_t a = k / in_size, j = k % in_size;
  const std::uint64_t element =
      (first_sample + static_cast<std::uint64_t>(samples[a])) * static_cast<std::uint64_t>(in_size) + j;
  const float uniform = s.stochastic ? uniform_at(rounding, element) : 0.0f;
  const float normal = s.noise > 0.0f ? normal_at(noise, element) : 0.0f;
  dac_out[k] = dac(input[samples[a] * in_size + j] * scales[a], s, uniform, normal);
}

// What the products for weight noise and IR drop multiply: v^2, |v|, v times its position.
__global__ void squares_kernel(const float* v, float* out, std::int64_t count) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < count) out[k] = v[k] * v[k];
}

__global__ void magnitudes_kernel(const float* v, float* out, std::int64_t count) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < count) out[k] = fabsf(v[k]);
}

__global__ void positioned_kernel(const float* v, float* out, std::int64_t count, std::int64_t in_size) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < count) out[k] = v[k] * ir_drop_position(k % in_size, in_size);
}

__global__ void row_squared_norm_kernel(const float* v, std::int64_t in_size, float* norms) {
  __shared__ float sums[kThreads];
  const float* row = v + static_cast<std::int64_t>(blockIdx.x) * in_size;
  float sum = 0.0f;
  for (std::int64_t j = threadIdx.x; j < in_size; j += blockDim.x) sum += row[j] * row[j];
  sums[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) sums[threadIdx.x] += sums[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) norms[blockIdx.x] = sums[0];
}

__global__ void ir_drop_kernel(float* y, const float* currents, const float* products, std::int64_t count,
                               IrDropSettings s) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < count) y[k] = ir_drop(y[k], currents[k], products[k], s);
}

// Element (a, i): weight and output noise. `variance` [a, i] (PCM_READ) or `norms` [a]
// (additive) hold the weight-noise sums before the w_noise^2 factor.
__global__ void noise_kernel(float* y, std::int64_t active, std::int64_t out_size, const std::int64_t* samples,
                             std::uint64_t first_sample, StreamIds first, StreamIds second, const float* sigma_out,
                             const float* nonlinearity, const float* variance, const float* norms, NoiseSettings s) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= active * out_size) return;
  const std::int64_t a = k / out_size, i = k % out_size;
  const std::uint64_t element =
      (first_sample + static_cast<std::uint64_t>(samples[a])) * static_cast<std::uint64_t>(out_size) + i;
  const float weight_variance =
      s.pcm_read ? s.w_noise_squared * variance[k] : (s.additive ? s.w_noise_squared * norms[a] : 0.0f);
  const float z_first = s.first_draw() ? normal_at(first, element) : 0.0f;
  const float z_second = s.second_draw() ? normal_at(second, element) : 0.0f;
  y[k] = analog_noise(y[k], weight_variance, sigma_out[i], nonlinearity != nullptr ? nonlinearity[i] : 0.0f, z_first,
                      z_second, s);
}

// Element (a, i): the ADC with its saturation flag, then the finish into the output row, as if
// this were the row's last round (one that saturated runs again and overwrites it).
__global__ void adc_finish_kernel(const float* y, float* output, std::int64_t active, std::int64_t out_size,
                                  const std::int64_t* samples, const float* output_scales, std::uint64_t first_sample,
                                  StreamIds rounding, AdcSettings s, const float* factors, const float* bias,
                                  int* saturated) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= active * out_size) return;
  const std::int64_t a = k / out_size, i = k % out_size;
  const std::uint64_t element =
      (first_sample + static_cast<std::uint64_t>(samples[a])) * static_cast<std::uint64_t>(out_size) + i;
  bool beyond = false;
  const float level = adc(y[k], s, s.stochastic ? uniform_at(rounding, element) : 0.0f, beyond);
  if (beyond) atomicOr(&saturated[a], 1);
  output[samples[a] * out_size + i] =
      finish_output(level, output_scales[a], factors[i], bias != nullptr ? bias + i : nullptr);
}

// Rows no round computed: zeros (NaN for a non-finite input), finished.
__global__ void uncomputed_rows_kernel(float* output, std::int64_t batch, std::int64_t out_size, const char* computed,
                                       const char* non_finite, const float* factors, const float* bias) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= batch * out_size) return;
  const std::int64_t b = k / out_size, i = k % out_size;
  if (computed[b]) return;
  const float value = non_finite[b] ? NAN : 0.0f;
  output[k] = finish_output(value, 1.0f, factors[i], bias != nullptr ? bias + i : nullptr);
}

__global__ void finish_all_kernel(float* output, std::int64_t count, std::int64_t out_size, const float* factors,
                                  const float* bias) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= count) return;
  const std::int64_t i = k % out_size;
  output[k] = finish_output(output[k], 1.0f, factors[i], bias != nullptr ? bias + i : nullptr);
}

class CudaTileBackend final : public TileBackend {
 public:
  explicit CudaTileBackend(TileSpec spec) : spec_(std::move(spec)) {
    check(cublasCreate(&handle_), "cublasCreate");
    // Full float32 products (no TF32), as the CPU computes them.
    check(cublasSetMathMode(handle_, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
    noise_std_.upload(spec_.output_noise_std);
    if (!spec_.output_nonlinearity.empty()) nonlinearity_.upload(spec_.output_nonlinearity);
  }
  ~CudaTileBackend() override {
    if (handle_ != nullptr) cublasDestroy(handle_);
  }
  CudaTileBackend(const CudaTileBackend&) = delete;
  CudaTileBackend& operator=(const CudaTileBackend&) = delete;

  Backend kind() const override { return Backend::cuda; }

  RowStatistics begin_batch(const Tensor& input, const TileWeights& weights, OutputFinish finish,
                            RowStatisticsWanted /*the kernel computes all four*/, bool /*identity rows: any rows*/) override {
    upload_weights(weights);
    upload_batch(input, finish);
    const auto rows = static_cast<std::size_t>(batch_);
    RowStatistics result;
    if (rows == 0) return result;
    float* stats = statistics_.reserve(4 * rows);
    row_statistics_kernel<<<static_cast<unsigned>(rows), kThreads>>>(input_.data(), spec_.in_size, stats, stats + rows,
                                                                      stats + 2 * rows, stats + 3 * rows);
    check_launch("row_statistics");
    std::vector<float> host(4 * rows);
    statistics_.download(host.data(), host.size());
    result.abs_max.assign(host.begin(), host.begin() + rows);
    result.max.assign(host.begin() + rows, host.begin() + 2 * rows);
    result.positive_sum.assign(host.begin() + 2 * rows, host.begin() + 3 * rows);
    result.negative_sum.assign(host.begin() + 3 * rows, host.end());
    return result;
  }

  void run_round(const TileRound& round, std::span<char> saturated_rows) override;

  Tensor end_batch(std::span<const char> computed, std::span<const char> non_finite) override {
    Tensor output({batch_, spec_.out_size});
    if (batch_ == 0) return output;
    const char* computed_rows = computed_.upload(computed.data(), computed.size());
    const char* non_finite_rows = non_finite_.upload(non_finite.data(), non_finite.size());
    uncomputed_rows_kernel<<<grid_for(batch_ * spec_.out_size), kThreads>>>(
        output_.data(), batch_, spec_.out_size, computed_rows, non_finite_rows, factors_.data(), bias_pointer());
    check_launch("uncomputed rows");
    output_.download(output.data(), static_cast<std::size_t>(output.size()));
    return output;
  }

  Tensor ideal_forward(const Tensor& input, const TileWeights& weights, const OutputFinish& finish) override {
    upload_weights(weights);
    upload_batch(input, finish);
    Tensor output({batch_, spec_.out_size});
    if (batch_ == 0) return output;
    product(input_.data(), weights_.data(), output_.data(), batch_);
    finish_all_kernel<<<grid_for(batch_ * spec_.out_size), kThreads>>>(output_.data(), batch_ * spec_.out_size,
                                                                       spec_.out_size, factors_.data(), bias_pointer());
    check_launch("finish");
    output_.download(output.data(), static_cast<std::size_t>(output.size()));
    return output;
  }

 private:
  // The device copies follow the weights' version (0: copied every time).
  void upload_weights(const TileWeights& weights) {
    if (weights.version != 0 && weights.version == weights_version_) return;
    weights_.upload(weights.values->data(), static_cast<std::size_t>(weights.values->size()));
    has_magnitudes_ = weights.magnitudes != nullptr;
    if (has_magnitudes_) magnitudes_.upload(weights.magnitudes->data(), static_cast<std::size_t>(weights.magnitudes->size()));
    weights_version_ = weights.version;
  }

  void upload_batch(const Tensor& input, const OutputFinish& finish) {
    batch_ = input.dim(0);
    const std::size_t outputs = static_cast<std::size_t>(batch_) * static_cast<std::size_t>(spec_.out_size);
    input_.upload(input.data(), static_cast<std::size_t>(input.size()));
    output_.reserve(outputs);
    factors_.upload(finish.factors);
    has_bias_ = !finish.bias.empty();
    if (has_bias_) bias_.upload(finish.bias);
  }

  const float* bias_pointer() const { return has_bias_ ? bias_.data() : nullptr; }

  // y[rows, out] = x[rows, in] W^T in row-major terms: column-major y^T = W x^T for cuBLAS.
  void product(const float* x, const float* matrix, float* y, std::int64_t rows) const {
    const float one = 1.0f, zero = 0.0f;
    check(cublasSgemm(handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(spec_.out_size), static_cast<int>(rows),
                      static_cast<int>(spec_.in_size), &one, matrix, static_cast<int>(spec_.in_size), x,
                      static_cast<int>(spec_.in_size), &zero, y, static_cast<int>(spec_.out_size)),
          "cublasSgemm");
  }

  TileSpec spec_;
  cublasHandle_t handle_ = nullptr;
  std::uint64_t weights_version_ = 0;
  bool has_magnitudes_ = false;
  bool has_bias_ = false;
  std::int64_t batch_ = 0;
  DeviceBuffer<float> weights_, magnitudes_, noise_std_, nonlinearity_;
  DeviceBuffer<float> input_, output_, dac_, round_outputs_, scratch_in_, scratch_a_, scratch_b_, norms_;
  DeviceBuffer<float> statistics_, input_scales_, output_scales_, factors_, bias_;
  DeviceBuffer<std::int64_t> samples_;
  DeviceBuffer<int> saturated_;
  DeviceBuffer<char> computed_, non_finite_;
};

void CudaTileBackend::run_round(const TileRound& round, std::span<char> saturated_rows) {
  const PeripherySettings& p = spec_.periphery;
  const auto active = static_cast<std::int64_t>(round.samples.size());
  std::fill(saturated_rows.begin(), saturated_rows.end(), 0);
  if (active == 0) return;
  const auto rows = static_cast<std::size_t>(active);
  const std::int64_t in_count = active * spec_.in_size, out_count = active * spec_.out_size;
  const std::int64_t* samples = samples_.upload(round.samples.data(), rows);
  const float* input_scales = input_scales_.upload(round.input_scales.data(), rows);
  const float* output_scales = output_scales_.upload(round.output_scales.data(), rows);
  float* v = dac_.reserve(static_cast<std::size_t>(in_count));
  float* y = round_outputs_.reserve(static_cast<std::size_t>(out_count));

  dac_kernel<<<grid_for(in_count), kThreads>>>(input_.data(), v, samples, input_scales, active, spec_.in_size,
                                               round.first_sample, ids_of(round.streams.dac_rounding),
                                               ids_of(round.streams.input_noise), p.dac);
  check_launch("dac");
  product(v, weights_.data(), y, active);

  if (p.ir_drop.strength > 0.0f) {
    if (!has_magnitudes_) throw std::logic_error("IR drop needs |W| on the device");
    float* inputs = scratch_in_.reserve(static_cast<std::size_t>(in_count));
    float* currents = scratch_a_.reserve(static_cast<std::size_t>(out_count));
    float* products = scratch_b_.reserve(static_cast<std::size_t>(out_count));
    magnitudes_kernel<<<grid_for(in_count), kThreads>>>(v, inputs, in_count);
    check_launch("ir_drop magnitudes");
    product(inputs, magnitudes_.data(), currents, active);
    positioned_kernel<<<grid_for(in_count), kThreads>>>(v, inputs, in_count, spec_.in_size);
    check_launch("ir_drop positions");
    product(inputs, weights_.data(), products, active);
    ir_drop_kernel<<<grid_for(out_count), kThreads>>>(y, currents, products, out_count, p.ir_drop);
    check_launch("ir_drop");
  }

  if (p.noise.any()) {
    float* variance = nullptr;
    float* norms = nullptr;
    if (p.noise.pcm_read) {
      if (!has_magnitudes_) throw std::logic_error("PCM_READ weight noise needs |W| on the device");
      float* squares = scratch_in_.reserve(static_cast<std::size_t>(in_count));
      variance = scratch_a_.reserve(static_cast<std::size_t>(out_count));
      squares_kernel<<<grid_for(in_count), kThreads>>>(v, squares, in_count);
      check_launch("squared inputs");
      product(squares, magnitudes_.data(), variance, active);
    }
    if (p.noise.additive) {
      norms = norms_.reserve(rows);
      row_squared_norm_kernel<<<static_cast<unsigned>(active), kThreads>>>(v, spec_.in_size, norms);
      check_launch("squared norms");
    }
    noise_kernel<<<grid_for(out_count), kThreads>>>(
        y, active, spec_.out_size, samples, round.first_sample, ids_of(round.streams.first_noise),
        ids_of(round.streams.second_noise), noise_std_.data(),
        spec_.output_nonlinearity.empty() ? nullptr : nonlinearity_.data(), variance, norms, p.noise);
    check_launch("analog noise");
  }

  int* saturated = saturated_.reserve(rows);
  check(cudaMemset(saturated, 0, rows * sizeof(int)), "cudaMemset");
  adc_finish_kernel<<<grid_for(out_count), kThreads>>>(y, output_.data(), active, spec_.out_size, samples, output_scales,
                                                       round.first_sample, ids_of(round.streams.adc_rounding), p.adc,
                                                       factors_.data(), bias_pointer(), saturated);
  check_launch("adc");
  std::vector<int> flags(rows);
  saturated_.download(flags.data(), rows);
  for (std::size_t a = 0; a < rows; ++a) saturated_rows[a] = flags[a] != 0;
}

}  // namespace

std::unique_ptr<TileBackend> make_cuda_tile_backend(TileSpec spec, std::string_view who) {
  cuda::require_device(who);
  return std::make_unique<CudaTileBackend>(std::move(spec));
}

}  // namespace tessera::simulator
