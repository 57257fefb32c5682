// Shared set-up of tile tests: configs with every non-ideality off, and random tensors.
#pragma once

#include <cmath>
#include <numeric>
#include <vector>

#include "reference/statistics.hpp"
#include "tessera/parameters/rpu_config.hpp"
#include "tessera/simulator/random_stream.hpp"
#include "tessera/simulator/tensor.hpp"
#include "test_seed.hpp"

namespace tessera::tiles::testing {

using parameters::InferenceRPUConfig;
using simulator::Tensor;

/// Periphery with every non-ideality off: the forward pass is the plain MVM.
inline InferenceRPUConfig ideal_config() {
  InferenceRPUConfig config;
  auto& io = config.forward;
  io.noise_management = parameters::NoiseManagementType::NONE;
  io.bound_management = parameters::BoundManagementType::NONE;
  io.inp_res = 0.0;
  io.out_res = 0.0;
  io.out_noise = 0.0;
  io.out_bound = 0.0;
  io.inp_bound = 1e30;
  return config;
}

inline Tensor random_tensor(simulator::Shape shape, std::uint64_t stream, float stddev = 1.0f, float mean = 0.0f) {
  Tensor tensor(std::move(shape));
  simulator::RandomStream(tessera::testing::test_seed(), stream).fill_normal(tensor.values(), 0, mean, stddev);
  return tensor;
}

using reference::mean_of;
using reference::stddev_of;

}  // namespace tessera::tiles::testing
