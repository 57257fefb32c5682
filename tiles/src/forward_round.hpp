// What one bound-management round of AnalogTile's forward pass works on, shared by the host
// loop (forward_pass.cpp) and the CPU round (cpu_round.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tessera/simulator/random_stream.hpp"
#include "tessera/tiles/analog_tile.hpp"

namespace tessera::tiles {

/// Below this many elements per step, the forward pass's loops stay on the calling thread.
inline constexpr std::int64_t kParallelElements = 1 << 15;

struct AnalogTile::Round {
  const simulator::RandomStream* stream = nullptr;  // noise of this forward call
  MvmWeights weights;                               // what the MVM multiplies with
  int index = 0;                                    // bound-management round, 0 first
  std::uint64_t first_sample = 0;                   // global index of the batch's first sample
  std::vector<std::int64_t> samples;                // batch rows still active
  std::vector<float> input_scales;                  // per active sample: 1 / (nm * reduction)
  std::vector<float> output_scales;                 // per active sample: nm * reduction
  Tensor* outputs = nullptr;                        // [active, out]: the output itself in a full first round
  bool one_hot = false;                             // DAC row a is zero except at column global_sample(a)
  std::vector<char> saturated;                      // per active sample: ADC bound exceeded

  std::int64_t active() const { return static_cast<std::int64_t>(samples.size()); }
  std::uint64_t global_sample(std::int64_t a) const {
    return first_sample + static_cast<std::uint64_t>(samples[static_cast<std::size_t>(a)]);
  }
  /// The stream `name` of this round (each round draws afresh).
  simulator::RandomStream draws(const char* name) const {
    return stream->derive(name).derive(static_cast<std::uint64_t>(index));
  }
};

/// The digital steps after the ADC: per output factor (out_scale, mapping, drift compensation)
/// and bias (empty for readouts).
struct AnalogTile::Finish {
  std::vector<float> factors;
  std::span<const float> bias;

  /// target[i] = source[i] * scale * factors[c + i] + bias[c + i] for outputs c..c+n (target may
  /// be source): the rescale of noise and bound management, then the digital steps.
  void apply(const float* source, float scale, float* target, std::int64_t c, std::int64_t n) const {
    const float* factor = factors.data() + c;
    for (std::int64_t i = 0; i < n; ++i) target[i] = source[i] * scale * factor[i];
    if (bias.empty()) return;
    for (std::int64_t i = 0; i < n; ++i) target[i] += bias[static_cast<std::size_t>(c + i)];
  }
};

struct AnalogTile::NoiseChoice {
  bool pcm_read = false;      // w_noise, PCM_READ: variance w_noise^2 |w| v^2
  bool additive = false;      // w_noise, ADDITIVE_CONSTANT: variance w_noise^2 |v|^2
  bool output_noise = false;  // out_noise
  bool nonlinear = false;     // an output nonlinearity or asymmetry between the noises
  // With nothing nonlinear between them, weight noise and output noise are two independent
  // Gaussians on the same output: one draw with the summed variance has the same distribution.
  bool combined() const { return !nonlinear; }
  bool any() const { return pcm_read || additive || output_noise || nonlinear; }
  /// The stream of the first (or only) noise draw.
  const char* first_stream() const { return combined() ? "output_noise" : "weight_noise"; }
};

/// The streams one round draws its output-side noise from.
struct AnalogTile::NoiseStreams {
  NoiseChoice choice;
  simulator::RandomStream first;         // weight noise, or weight and output noise combined
  simulator::RandomStream second;        // output noise after a nonlinearity
  simulator::RandomStream adc_rounding;  // stochastic rounding of the ADC
};

}  // namespace tessera::tiles
