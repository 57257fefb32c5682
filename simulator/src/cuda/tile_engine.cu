// The analog tile's forward pipeline on the device: one kernel per step of the CPU pipeline
// (tiles/src/forward_pass.cpp), cuBLAS for the products, and the same element functions
// (periphery.hpp, philox.hpp) so that noise draws are the CPU's, element for element.
#include <cmath>
#include <cstring>

#include "device_support.cuh"
#include "tessera/simulator/cuda_kernels.hpp"
#include "tessera/simulator/periphery.hpp"
#include "tessera/simulator/philox.hpp"

namespace tessera::simulator::cuda {
namespace {

constexpr int kThreads = 256;

// max |x| of a row as the CPU computes it: the largest sign-cleared bit pattern, so NaN and
// Inf come through as themselves.
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
    unsigned int bits = 0;
    std::memcpy(&bits, &x, sizeof bits);
    bits &= 0x7fffffffu;
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
    float value = 0.0f;
    std::memcpy(&value, &largest[0], sizeof value);
    abs_max[blockIdx.x] = value;
    max[blockIdx.x] = highest[0];
    positive[blockIdx.x] = sums[0][0];
    negative[blockIdx.x] = sums[1][0];
  }
}

struct DacParameters {
  float bin, bound, asymmetry, noise;
  bool stochastic;
};

__global__ void dac_kernel(const float* input, float* dac, const std::int64_t* samples, const float* scales,
                           std::int64_t active, std::int64_t in_size, std::uint64_t first_sample, std::uint64_t seed,
                           std::uint64_t rounding_stream, std::uint64_t noise_stream, DacParameters p) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= active * in_size) return;
  const std::int64_t a = k / in_size, j = k % in_size;
  const std::uint64_t element =
      (first_sample + static_cast<std::uint64_t>(samples[a])) * static_cast<std::uint64_t>(in_size) + j;
  const float x = input[samples[a] * in_size + j] * scales[a];
  const float uniform = p.stochastic ? stream_uniform(seed, rounding_stream, element) : 0.0f;
  float v = clip_to_bound(round_to_bin(x, p.bin, p.stochastic, uniform), p.bound);
  if (p.noise > 0.0f) v += p.noise * stream_normal(seed, noise_stream, element);
  if (p.asymmetry != 0.0f) v = apply_asymmetry(v, p.asymmetry);
  dac[k] = v;
}

__global__ void transform_inputs_kernel(const float* dac, float* out, std::int64_t count, std::int64_t in_size,
                                        int mode) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= count) return;
  const float v = dac[k];
  if (mode == 0) {  // |v| for IR-drop currents
    out[k] = fabsf(v);
  } else if (mode == 1) {  // v weighted by the distance from the driver (IR drop)
    const float distance = 1.0f - static_cast<float>(k % in_size) / static_cast<float>(in_size);
    out[k] = v * (1.0f - distance * distance);
  } else {  // v^2 for the PCM_READ variance
    out[k] = v * v;
  }
}

__global__ void ir_drop_kernel(float* y, const float* currents, const float* products, std::int64_t count,
                               float current_scale, float strength) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= count) return;
  const float a = current_scale * currents[k];
  const float c = a * (a * (0.05f * a - 0.2f) + 0.5f);
  y[k] -= strength * c * products[k];
}

__global__ void row_squared_norm_kernel(const float* dac, std::int64_t in_size, float* norms) {
  __shared__ float sums[kThreads];
  const float* row = dac + static_cast<std::int64_t>(blockIdx.x) * in_size;
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

struct NoiseParameters {
  float w_noise_squared, out_asymmetry;
  bool pcm_read, additive, combined, output_noise, has_nonlinearity;
};

// The CPU's add_analog_noise, per element (a, i); variance[a, i] (PCM_READ) or norms[a]
// (additive) hold the weight-noise variance before the w_noise^2 factor.
__global__ void noise_kernel(float* y, std::int64_t active, std::int64_t out_size, const std::int64_t* samples,
                             std::uint64_t first_sample, std::uint64_t seed, std::uint64_t first_stream,
                             std::uint64_t second_stream, const float* noise_std, const float* nonlinearity,
                             const float* variance, const float* norms, NoiseParameters p) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= active * out_size) return;
  const std::int64_t a = k / out_size, i = k % out_size;
  const std::uint64_t element =
      (first_sample + static_cast<std::uint64_t>(samples[a])) * static_cast<std::uint64_t>(out_size) + i;
  const bool weight_noise = p.pcm_read || p.additive;
  const float weight_variance =
      p.pcm_read ? p.w_noise_squared * variance[k] : (p.additive ? p.w_noise_squared * norms[a] : 0.0f);
  const float sigma_out = noise_std != nullptr ? noise_std[i] : 0.0f;
  float value = y[k];
  if (p.combined) {
    const float z = stream_normal(seed, first_stream, element);
    value += (weight_noise ? sqrtf(weight_variance + sigma_out * sigma_out) : sigma_out) * z;
    y[k] = value;
    return;
  }
  if (weight_noise) value += sqrtf(weight_variance) * stream_normal(seed, first_stream, element);
  if (p.has_nonlinearity) value /= 1.0f + nonlinearity[i] * fabsf(value);
  if (p.out_asymmetry != 0.0f) value = apply_asymmetry(value, p.out_asymmetry);
  if (p.output_noise) value += sigma_out * stream_normal(seed, second_stream, element);
  y[k] = value;
}

struct AdcParameters {
  float bin, bound, lower;
  bool stochastic;
};

__global__ void adc_kernel(float* y, std::int64_t active, std::int64_t out_size, const std::int64_t* samples,
                           std::uint64_t first_sample, std::uint64_t seed, std::uint64_t rounding_stream,
                           int* saturated, AdcParameters p) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= active * out_size) return;
  const std::int64_t a = k / out_size, i = k % out_size;
  const std::uint64_t element =
      (first_sample + static_cast<std::uint64_t>(samples[a])) * static_cast<std::uint64_t>(out_size) + i;
  const float uniform = p.stochastic ? stream_uniform(seed, rounding_stream, element) : 0.0f;
  float value = round_to_bin(y[k], p.bin, p.stochastic, uniform);
  if (p.bound > 0.0f) {
    if (value > p.bound || value < p.lower) atomicOr(&saturated[a], 1);
    value = clip_to_bound(value, p.bound);
  }
  y[k] = value;
}

__global__ void store_rows_kernel(const float* round_outputs, float* output, const std::int64_t* done,
                                  const std::int64_t* targets, const float* scales, std::int64_t count,
                                  std::int64_t out_size) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= count * out_size) return;
  const std::int64_t d = k / out_size, i = k % out_size;
  output[targets[d] * out_size + i] = round_outputs[done[d] * out_size + i] * scales[d];
}

__global__ void finish_kernel(float* output, std::int64_t batch, std::int64_t out_size, const char* non_finite,
                              const float* factors, const float* bias, bool has_bias) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= batch * out_size) return;
  const std::int64_t b = k / out_size, i = k % out_size;
  float value = non_finite[b] ? NAN : output[k];
  value *= factors[i];
  if (has_bias) value += bias[i];
  output[k] = value;
}

}  // namespace

struct TileEngine::State {
  std::int64_t out_size = 0;
  std::int64_t in_size = 0;
  parameters::IOParameters io;
  cublasHandle_t handle = nullptr;
  bool has_magnitudes = false;
  bool has_noise_std = false;
  bool has_nonlinearity = false;
  std::int64_t batch = 0;
  DeviceBuffer<float> weights, magnitudes, noise_std, nonlinearity;
  DeviceBuffer<float> input, output, dac, round_outputs, scratch_in, scratch_a, scratch_b, norms;
  DeviceBuffer<float> statistics, scales, factors, bias;
  DeviceBuffer<std::int64_t> samples, done, targets;
  DeviceBuffer<int> saturated;
  DeviceBuffer<char> non_finite;

  // The batch to the device; output rows start at 0 (rows that never become active, with
  // scale 0 and no input noise, stay 0 as on the CPU).
  void upload_batch(const Tensor& x) {
    batch = x.dim(0);
    const std::size_t outputs = static_cast<std::size_t>(batch) * static_cast<std::size_t>(out_size);
    input.upload(x.data(), static_cast<std::size_t>(x.size()));
    output.reserve(outputs);
    if (outputs > 0) check(cudaMemset(output.data(), 0, outputs * sizeof(float)), "cudaMemset");
  }

  // y[rows, out] = x[rows, in] W^T (row-major), i.e. column-major y^T = W^T... as cuBLAS sees it.
  void product(const float* x, const float* matrix, float* y, std::int64_t rows) const {
    const float one = 1.0f, zero = 0.0f;
    check(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out_size), static_cast<int>(rows),
                      static_cast<int>(in_size), &one, matrix, static_cast<int>(in_size), x, static_cast<int>(in_size),
                      &zero, y, static_cast<int>(out_size)),
          "cublasSgemm");
  }
};

TileEngine::TileEngine(std::int64_t out_size, std::int64_t in_size, const parameters::IOParameters& io)
    : state_(std::make_unique<State>()) {
  require_device("analog tile");
  state_->out_size = out_size;
  state_->in_size = in_size;
  state_->io = io;
  check(cublasCreate(&state_->handle), "cublasCreate");
  // Full float32 products (no TF32), as the CPU computes them.
  check(cublasSetMathMode(state_->handle, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
}

TileEngine::~TileEngine() {
  if (state_ && state_->handle != nullptr) cublasDestroy(state_->handle);
}

void TileEngine::upload_weights(const Tensor& weights, const Tensor* magnitudes) {
  state_->weights.upload(weights.data(), static_cast<std::size_t>(weights.size()));
  state_->has_magnitudes = magnitudes != nullptr && magnitudes->size() == weights.size();
  if (state_->has_magnitudes)
    state_->magnitudes.upload(magnitudes->data(), static_cast<std::size_t>(magnitudes->size()));
}

void TileEngine::upload_output_vectors(std::span<const float> output_noise_std,
                                       std::span<const float> output_nonlinearity) {
  state_->has_noise_std = !output_noise_std.empty();
  state_->has_nonlinearity = !output_nonlinearity.empty();
  if (state_->has_noise_std) state_->noise_std.upload(output_noise_std.data(), output_noise_std.size());
  if (state_->has_nonlinearity) state_->nonlinearity.upload(output_nonlinearity.data(), output_nonlinearity.size());
}

RowStatistics TileEngine::load_batch(const Tensor& input) {
  State& s = *state_;
  s.upload_batch(input);
  const auto batch = static_cast<std::size_t>(s.batch);
  RowStatistics result;
  if (batch == 0) return result;
  float* stats = s.statistics.reserve(4 * batch);
  row_statistics_kernel<<<static_cast<unsigned>(batch), kThreads>>>(s.input.data(), s.in_size, stats, stats + batch,
                                                                    stats + 2 * batch, stats + 3 * batch);
  check_launch("row_statistics");
  std::vector<float> host(4 * batch);
  s.statistics.download(host.data(), host.size());
  result.abs_max.assign(host.begin(), host.begin() + batch);
  result.max.assign(host.begin() + batch, host.begin() + 2 * batch);
  result.positive_sum.assign(host.begin() + 2 * batch, host.begin() + 3 * batch);
  result.negative_sum.assign(host.begin() + 3 * batch, host.end());
  return result;
}

void TileEngine::ideal_product(const Tensor& input) {
  State& s = *state_;
  s.upload_batch(input);
  if (s.batch > 0) s.product(s.input.data(), s.weights.data(), s.output.data(), s.batch);
}

std::vector<char> TileEngine::run_round(const RoundRequest& request) {
  State& s = *state_;
  const parameters::IOParameters& io = s.io;
  const auto active = static_cast<std::int64_t>(request.samples.size());
  std::vector<char> saturated_rows(static_cast<std::size_t>(active), 0);
  if (active == 0) return saturated_rows;
  const auto rows = static_cast<std::size_t>(active);
  const std::size_t in_elements = rows * static_cast<std::size_t>(s.in_size);
  const std::size_t out_elements = rows * static_cast<std::size_t>(s.out_size);
  const std::int64_t* samples = s.samples.upload(request.samples.data(), rows);
  const float* scales = s.scales.upload(request.input_scales.data(), rows);
  float* dac = s.dac.reserve(in_elements);
  float* y = s.round_outputs.reserve(out_elements);

  const DacParameters dac_parameters{converter_bin(io.inp_res, io.inp_bound), static_cast<float>(io.inp_bound),
                                     static_cast<float>(io.inp_asymmetry), static_cast<float>(io.inp_noise),
                                     io.inp_sto_round};
  dac_kernel<<<grid_for(active * s.in_size), kThreads>>>(
      s.input.data(), dac, samples, scales, active, s.in_size, request.first_sample, request.seed,
      request.dac_rounding_stream, request.input_noise_stream, dac_parameters);
  check_launch("dac");
  s.product(dac, s.weights.data(), y, active);

  if (io.ir_drop > 0.0) {
    if (!s.has_magnitudes) throw std::logic_error("IR drop needs |W| on the device");
    float* inputs = s.scratch_in.reserve(in_elements);
    float* currents = s.scratch_a.reserve(out_elements);
    float* products = s.scratch_b.reserve(out_elements);
    transform_inputs_kernel<<<grid_for(active * s.in_size), kThreads>>>(dac, inputs, active * s.in_size, s.in_size, 0);
    check_launch("ir_drop inputs");
    s.product(inputs, s.magnitudes.data(), currents, active);
    transform_inputs_kernel<<<grid_for(active * s.in_size), kThreads>>>(dac, inputs, active * s.in_size, s.in_size, 1);
    check_launch("ir_drop positions");
    s.product(inputs, s.weights.data(), products, active);
    ir_drop_kernel<<<grid_for(active * s.out_size), kThreads>>>(y, currents, products, active * s.out_size,
                                                                static_cast<float>(s.in_size / io.ir_drop_g_ratio),
                                                                static_cast<float>(io.ir_drop));
    check_launch("ir_drop");
  }

  const bool output_noise = io.out_noise > 0.0;
  const bool nonlinear = s.has_nonlinearity || io.out_asymmetry != 0.0;
  if (output_noise || request.pcm_read || request.additive || nonlinear) {
    float* variance = nullptr;
    float* norms = nullptr;
    if (request.pcm_read) {
      if (!s.has_magnitudes) throw std::logic_error("PCM_READ weight noise needs |W| on the device");
      float* squares = s.scratch_in.reserve(in_elements);
      variance = s.scratch_a.reserve(out_elements);
      transform_inputs_kernel<<<grid_for(active * s.in_size), kThreads>>>(dac, squares, active * s.in_size, s.in_size,
                                                                          2);
      check_launch("squared inputs");
      s.product(squares, s.magnitudes.data(), variance, active);
    }
    if (request.additive) {
      norms = s.norms.reserve(rows);
      row_squared_norm_kernel<<<static_cast<unsigned>(active), kThreads>>>(dac, s.in_size, norms);
      check_launch("squared norms");
    }
    const auto w_noise = static_cast<float>(io.w_noise);
    const NoiseParameters noise{w_noise * w_noise, static_cast<float>(io.out_asymmetry),
                                request.pcm_read,  request.additive,
                                request.combined,  output_noise,
                                s.has_nonlinearity};
    noise_kernel<<<grid_for(active * s.out_size), kThreads>>>(
        y, active, s.out_size, samples, request.first_sample, request.seed, request.first_noise_stream,
        request.second_noise_stream, s.has_noise_std ? s.noise_std.data() : nullptr,
        s.has_nonlinearity ? s.nonlinearity.data() : nullptr, variance, norms, noise);
    check_launch("analog noise");
  }

  int* saturated = s.saturated.reserve(rows);
  check(cudaMemset(saturated, 0, rows * sizeof(int)), "cudaMemset");
  const auto bound = static_cast<float>(io.out_bound);
  const AdcParameters adc{converter_bin(io.out_res, io.out_bound), bound,
                          io.bm_test_negative_bound ? -bound : -INFINITY, io.out_sto_round};
  adc_kernel<<<grid_for(active * s.out_size), kThreads>>>(y, active, s.out_size, samples, request.first_sample,
                                                          request.seed, request.adc_rounding_stream, saturated, adc);
  check_launch("adc");
  std::vector<int> flags(rows);
  s.saturated.download(flags.data(), rows);
  for (std::size_t a = 0; a < rows; ++a) saturated_rows[a] = flags[a] != 0;
  return saturated_rows;
}

void TileEngine::store_rows(std::span<const std::int64_t> done, std::span<const std::int64_t> targets,
                            std::span<const float> scales) {
  State& s = *state_;
  const auto count = static_cast<std::int64_t>(done.size());
  if (count == 0) return;
  const std::int64_t* rows = s.done.upload(done.data(), done.size());
  const std::int64_t* to = s.targets.upload(targets.data(), targets.size());
  const float* factor = s.scales.upload(scales.data(), scales.size());
  store_rows_kernel<<<grid_for(count * s.out_size), kThreads>>>(s.round_outputs.data(), s.output.data(), rows, to,
                                                                factor, count, s.out_size);
  check_launch("store_rows");
}

Tensor TileEngine::finish(std::span<const char> non_finite, std::span<const float> factors,
                          std::span<const float> bias) {
  State& s = *state_;
  Tensor output({s.batch, s.out_size});
  if (s.batch == 0) return output;
  s.non_finite.upload(non_finite.data(), non_finite.size());
  s.factors.upload(factors.data(), factors.size());
  if (!bias.empty()) s.bias.upload(bias.data(), bias.size());
  finish_kernel<<<grid_for(s.batch * s.out_size), kThreads>>>(s.output.data(), s.batch, s.out_size, s.non_finite.data(),
                                                              s.factors.data(), bias.empty() ? nullptr : s.bias.data(),
                                                              !bias.empty());
  check_launch("finish");
  s.output.download(output.data(), static_cast<std::size_t>(output.size()));
  return output;
}

}  // namespace tessera::simulator::cuda

namespace tessera::simulator::cuda {

struct SgemmBaseline::State {
  std::int64_t rows = 0, out_size = 0, in_size = 0;
  cublasHandle_t handle = nullptr;
  DeviceBuffer<float> x, w, y;
};

SgemmBaseline::SgemmBaseline(std::int64_t rows, std::int64_t out_size, std::int64_t in_size)
    : state_(std::make_unique<State>()) {
  require_device("SGEMM baseline");
  State& s = *state_;
  s.rows = rows;
  s.out_size = out_size;
  s.in_size = in_size;
  check(cublasCreate(&s.handle), "cublasCreate");
  check(cublasSetMathMode(s.handle, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
  const std::vector<float> ones_x(static_cast<std::size_t>(rows * in_size), 0.5f);
  const std::vector<float> ones_w(static_cast<std::size_t>(out_size * in_size), 0.01f);
  s.x.upload(ones_x);
  s.w.upload(ones_w);
  s.y.reserve(static_cast<std::size_t>(rows * out_size));
}

SgemmBaseline::~SgemmBaseline() {
  if (state_ && state_->handle != nullptr) cublasDestroy(state_->handle);
}

void SgemmBaseline::run() {
  State& s = *state_;
  const float one = 1.0f, zero = 0.0f;
  check(cublasSgemm(s.handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(s.out_size), static_cast<int>(s.rows),
                    static_cast<int>(s.in_size), &one, s.w.data(), static_cast<int>(s.in_size), s.x.data(),
                    static_cast<int>(s.in_size), &zero, s.y.data(), static_cast<int>(s.out_size)),
        "cublasSgemm");
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

}  // namespace tessera::simulator::cuda
