// Fake quantization on the device with the host's element function (fake_quant_kernel.hpp).
#include <stdexcept>

#include "device_support.cuh"
#include "tessera/simulator/cuda_kernels.hpp"
#include "tessera/simulator/fake_quant_kernel.hpp"

namespace tessera::simulator::cuda {
namespace {

__global__ void quantize_dequantize_kernel(const float* input, float* output, std::int64_t count,
                                           const FakeQuantParams<float>* params, std::int64_t channels,
                                           std::int64_t inner) {
  const std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= count) return;
  output[e] = quantize_dequantize_value(input[e], params[(e / inner) % channels]);
}

}  // namespace

Tensor quantize_dequantize(const Tensor& input, std::span<const float> scale, std::span<const std::int64_t> zero_point,
                           std::int64_t qmin, std::int64_t qmax, std::int64_t inner) {
  require_device("quantize_dequantize");
  if (scale.empty() || scale.size() != zero_point.size() || inner <= 0) {
    throw std::invalid_argument("quantize_dequantize: need one zero point per scale and inner > 0");
  }
  std::vector<FakeQuantParams<float>> params;
  for (std::size_t c = 0; c < scale.size(); ++c) {
    params.push_back({scale[c], 1.0f / scale[c], static_cast<float>(zero_point[c]), static_cast<float>(qmin),
                      static_cast<float>(qmax)});
  }
  Tensor output(input.shape());
  if (input.size() == 0) return output;
  DeviceBuffer<float> values;
  DeviceBuffer<FakeQuantParams<float>> encodings;
  values.upload(input.data(), static_cast<std::size_t>(input.size()));
  encodings.upload(params);
  quantize_dequantize_kernel<<<grid_for(input.size()), 256>>>(
      values.data(), values.data(), input.size(), encodings.data(), static_cast<std::int64_t>(params.size()), inner);
  check_launch("quantize_dequantize");
  values.download(output.data(), static_cast<std::size_t>(output.size()));
  return output;
}

}  // namespace tessera::simulator::cuda
