#include "tessera/simulator/tile_backend.hpp"

#include <limits>
#include <string>

#include "tile_backends.hpp"

namespace tessera::simulator {

PeripherySettings periphery_settings(const parameters::IOParameters& io, std::int64_t in_size, bool has_nonlinearity) {
  PeripherySettings p;
  p.dac.bin = converter_bin(io.inp_res, io.inp_bound);
  p.dac.bound = static_cast<float>(io.inp_bound);
  p.dac.asymmetry = static_cast<float>(io.inp_asymmetry);
  p.dac.noise = static_cast<float>(io.inp_noise);
  p.dac.stochastic = io.inp_sto_round;
  if (io.ir_drop > 0.0) {
    p.ir_drop.current_scale = static_cast<float>(static_cast<double>(in_size) / io.ir_drop_g_ratio);
    p.ir_drop.strength = static_cast<float>(io.ir_drop);
  }
  const auto w_noise = static_cast<float>(io.w_noise);
  p.noise.w_noise_squared = w_noise * w_noise;
  p.noise.out_asymmetry = static_cast<float>(io.out_asymmetry);
  p.noise.pcm_read = io.w_noise > 0.0 && io.w_noise_type == parameters::WeightNoiseType::PCM_READ;
  p.noise.additive = io.w_noise > 0.0 && io.w_noise_type == parameters::WeightNoiseType::ADDITIVE_CONSTANT;
  p.noise.output_noise = io.out_noise > 0.0;
  p.noise.nonlinear = has_nonlinearity || io.out_asymmetry != 0.0;
  p.adc.bin = converter_bin(io.out_res, io.out_bound);
  p.adc.bound = static_cast<float>(io.out_bound);
  p.adc.lower = io.bm_test_negative_bound ? -p.adc.bound : -std::numeric_limits<float>::infinity();
  p.adc.stochastic = io.out_sto_round;
  return p;
}

std::unique_ptr<TileBackend> make_tile_backend(Backend kind, TileSpec spec, std::string_view who) {
  switch (kind) {
    case Backend::cpu:
      return make_cpu_tile_backend(std::move(spec));
    case Backend::cuda:
      return make_cuda_tile_backend(std::move(spec), who);
  }
  throw std::invalid_argument("make_tile_backend: unknown backend");
}

}  // namespace tessera::simulator
