// The CUDA backend's contract: a clear refusal without a device (checked everywhere), and on a
// device the same random numbers and the same fake quantization as the CPU, bit for bit.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "cuda_skip.hpp"
#include "tessera/simulator/affine_quantizer.hpp"
#include "tessera/simulator/cuda_kernels.hpp"
#include "tessera/simulator/random_stream.hpp"

namespace tessera::simulator {
namespace {

TEST(Backend, NamesRoundTripAndUnknownNamesAreRefused) {
  EXPECT_EQ(backend_from_name("cpu"), Backend::cpu);
  EXPECT_EQ(backend_from_name("cuda"), Backend::cuda);
  EXPECT_EQ(backend_name(Backend::cuda), "cuda");
  try {
    backend_from_name("gpu");
    FAIL() << "accepted 'gpu'";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "unknown backend 'gpu' (expected cpu or cuda)");
  }
}

TEST(Backend, WithoutADeviceEveryEntryPointRefusesWithTheReason) {
  const cuda::Availability& probe = cuda::availability();
  if (probe.available) GTEST_SKIP() << "a CUDA device is present: " << probe.device;
  ASSERT_FALSE(probe.reason.empty());
  const std::string expected = "the CUDA backend is not available: " + probe.reason;
  auto expect_refusal = [&](auto call, const std::string& who) {
    try {
      call();
      FAIL() << who << " ran without a device";
    } catch (const std::runtime_error& error) {
      EXPECT_EQ(std::string(error.what()), who + ": " + expected);
    }
  };
  expect_refusal([] { cuda::stream_uniforms(1, 2, 0, 8); }, "stream_uniforms");
  expect_refusal([] { cuda::stream_normals(1, 2, 0, 8); }, "stream_normals");
  QuantizeDequantize quantizer(QuantizerOptions{});
  expect_refusal([&] { quantizer.set_backend(Backend::cuda); }, "quantizer");
  EXPECT_EQ(quantizer.backend(), Backend::cpu);
}

TEST(CudaBackend, StreamsDrawTheCpuNumbersBitForBit) {
  TESSERA_SKIP_WITHOUT_CUDA();
  const RandomStream stream = RandomStream(99).derive("layer").derive("output_noise");
  for (std::uint64_t offset : {0ull, 5ull, 123457ull}) {
    std::vector<float> uniforms(100003), normals(100003);
    stream.fill_uniform(uniforms, offset);
    stream.fill_normal(normals, offset);
    EXPECT_EQ(cuda::stream_uniforms(stream.seed(), stream.stream_id(), offset, 100003), uniforms);
    EXPECT_EQ(cuda::stream_normals(stream.seed(), stream.stream_id(), offset, 100003), normals);
  }
}

TEST(CudaBackend, QuantizeDequantizeEqualsTheCpuBitForBit) {
  TESSERA_SKIP_WITHOUT_CUDA();
  Tensor data({16, 3, 5, 5});
  RandomStream(7).fill_normal(data.values(), 0, 0.0f, 2.0f);
  for (bool per_channel : {false, true}) {
    QuantizerOptions options;
    options.bitwidth = 6;
    if (per_channel) options.shape = per_channel_shape(data.shape(), 1);
    QuantizeDequantize cpu(options), gpu(options);
    for (QuantizeDequantize* q : {&cpu, &gpu}) {
      auto calibration = q->compute_encodings();
      (*q)(data);
      calibration.finish();
    }
    gpu.set_backend(Backend::cuda);
    EXPECT_EQ(gpu(data), cpu(data)) << (per_channel ? "per channel" : "per tensor");
  }
}

}  // namespace
}  // namespace tessera::simulator
