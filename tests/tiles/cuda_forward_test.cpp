// The tile forward pass on the CUDA backend against the CPU's. The noise draws are the same
// numbers; the products sum in another order, so an output may land in the neighbouring ADC bin
// when it lies within float rounding of a bin edge. The bound: every element within one ADC
// step (times the sample's noise-management scale and the output factor) of the CPU's, and at
// least 99 % of them within 1e-4 relative.
#include <gtest/gtest.h>

#include <cmath>

#include "cuda_skip.hpp"
#include "tessera/simulator/periphery.hpp"
#include "tessera/tiles/analog_tile.hpp"
#include "tile_test_helpers.hpp"

namespace tessera::tiles {
namespace {

using testing::random_tensor;

TEST(CudaForward, ChoosingCudaWithoutADeviceNamesTheTileAndTheReason) {
  const auto& probe = simulator::cuda::availability();
  if (probe.available) GTEST_SKIP() << "a CUDA device is present: " << probe.device;
  AnalogTile tile(4, 4, parameters::InferenceRPUConfig{}, 0, "features.0");
  try {
    tile.set_backend(simulator::Backend::cuda);
    FAIL() << "accepted the CUDA backend without a device";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), "tile 'features.0': the CUDA backend is not available: " + probe.reason);
  }
  EXPECT_EQ(tile.backend(), simulator::Backend::cpu);
}

struct Case {
  const char* name;
  void (*configure)(parameters::InferenceRPUConfig&);
  friend void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }
};

class CudaForwardMatchesCpu : public ::testing::TestWithParam<Case> {};

TEST_P(CudaForwardMatchesCpu, WithinOneAdcStep) {
  TESSERA_SKIP_WITHOUT_CUDA();
  parameters::InferenceRPUConfig config;
  GetParam().configure(config);
  const Tensor weights = random_tensor({96, 160}, 1, 0.1f);
  const Tensor input = random_tensor({300, 160}, 2, 0.5f);
  AnalogTile cpu(96, 160, config, 5, "tile"), gpu(96, 160, config, 5, "tile");
  for (AnalogTile* tile : {&cpu, &gpu}) {
    tile->set_weights(weights);
    tile->program();
    tile->drift(3600.0);
  }
  gpu.set_backend(simulator::Backend::cuda);
  const Tensor expected = cpu.forward(input);
  const Tensor actual = gpu.forward(input);
  const float step = simulator::converter_bin(config.forward.out_res, config.forward.out_bound);
  // The digital factors after the ADC: weight-mapping scales and drift compensation.
  float factor = 1.0f;
  for (float scale : cpu.mapping_scales()) factor = std::max(factor, scale);
  for (float compensation : cpu.drift_compensation_factors()) factor *= std::max(1.0f, compensation);
  std::int64_t close = 0;
  for (std::int64_t b = 0; b < input.dim(0); ++b) {
    float row_max = 0.0f;
    for (std::int64_t j = 0; j < input.dim(1); ++j) row_max = std::max(row_max, std::abs(input[b * 160 + j]));
    // One ADC step at the sample's scale: its noise management (max |x|), up to 6 bound-management
    // halvings, and the digital factors.
    const float tolerance = 1.001f * step * row_max * 64.0f * factor + 1e-5f;
    for (std::int64_t i = 0; i < 96; ++i) {
      const float e = expected[b * 96 + i], a = actual[b * 96 + i];
      ASSERT_LE(std::abs(a - e), tolerance) << GetParam().name << " sample " << b << " output " << i;
      close += std::abs(a - e) <= 1e-4f * std::max(1.0f, std::abs(e));
    }
  }
  EXPECT_GE(close, expected.size() * 99 / 100) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Pipelines, CudaForwardMatchesCpu,
    ::testing::Values(Case{"defaults", [](parameters::InferenceRPUConfig&) {}},
                      Case{"stochastic_rounding_and_input_noise",
                           [](parameters::InferenceRPUConfig& c) {
                             c.forward.inp_sto_round = true;
                             c.forward.out_sto_round = true;
                             c.forward.inp_noise = 0.01;
                           }},
                      Case{"pcm_read_and_ir_drop",
                           [](parameters::InferenceRPUConfig& c) {
                             c.forward.w_noise = 0.02;
                             c.forward.w_noise_type = parameters::WeightNoiseType::PCM_READ;
                             c.forward.ir_drop = 1.0;
                           }},
                      Case{"nonlinear_outputs",
                           [](parameters::InferenceRPUConfig& c) {
                             c.forward.out_nonlinearity = 0.05;
                             c.forward.out_asymmetry = 0.02;
                             c.forward.w_noise = 0.01;
                             c.forward.w_noise_type = parameters::WeightNoiseType::ADDITIVE_CONSTANT;
                           }},
                      Case{"perfect", [](parameters::InferenceRPUConfig& c) { c.forward.is_perfect = true; }}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tessera::tiles
