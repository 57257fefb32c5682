// One simulated crossbar tile running y = f(W x) with aihwkit's InferenceTile semantics: the
// forward pass applies noise management, DAC, MVM, per-MVM weight noise, output noise, ADC and
// iterative bound management to a whole batch at once (one GEMM per bound-management round,
// vectorised over samples), then the digital output scale and bias.
//   AnalogTile tile(64, 128, InferenceRPUConfig{}, /*seed=*/1, "features.0");
//   tile.set_weights(w);              // [out, in]
//   Tensor y = tile.forward(x);       // [batch, in] -> [batch, out]
// Threads: calls are serialised (simulator/call_lock.hpp); accessors returning references are
// for a tile no other thread changes meanwhile.
// Randomness: every draw is addressed by (seed, tile name, purpose, sample index, element), and
// the sample index counts all samples this tile has seen, so splitting a batch over several
// calls, or over threads, gives bit-identical results. The one exception is AVERAGE_ABS_MAX
// noise management, whose running average (as in aihwkit) depends on the batches seen.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/parameters/rpu_config.hpp"
#include "tessera/simulator/backend.hpp"
#include "tessera/simulator/call_lock.hpp"
#include "tessera/simulator/noise/conductance_converter.hpp"
#include "tessera/simulator/noise/device_noise_model.hpp"
#include "tessera/simulator/random_stream.hpp"
#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {
class TileBackend;
struct TileWeights;
struct RowStatistics;
struct OutputFinish;
}  // namespace tessera::simulator

namespace tessera::tiles {

using simulator::Tensor;

class AnalogTile {
 public:
  /// Throws std::invalid_argument for bad sizes or for config settings not supported yet.
  AnalogTile(std::int64_t out_size, std::int64_t in_size, parameters::InferenceRPUConfig config, std::uint64_t seed = 0,
             std::string_view name = "tile");
  ~AnalogTile();
  AnalogTile(AnalogTile&&) noexcept;
  AnalogTile& operator=(AnalogTile&&) noexcept;

  /// Throws std::invalid_argument for sizes below 1, or for weights whose copies a tile keeps
  /// would not fit the memory available (checked before anything is allocated).
  static void check_size(std::int64_t out_size, std::int64_t in_size, std::string_view name);

  std::int64_t out_size() const { return out_size_; }
  std::int64_t in_size() const { return in_size_; }
  const parameters::InferenceRPUConfig& config() const { return config_; }
  const std::string& name() const { return name_; }

  /// Sets the layer's weights, [out_size, in_size]. With mapping.weight_scaling_omega > 0 they
  /// are scaled so that max|W| (per row if weight_scaling_columnwise) becomes omega on the
  /// tile, and the factor is applied digitally to the outputs (mapping_scales()).
  void set_weights(const Tensor& weights);
  /// Target weights on the tile (after weight scaling and remapping), [out_size, in_size].
  const Tensor& weights() const { return mapping_.targets; }
  /// The weights the MVM uses (the targets until programming and drift change them).
  const Tensor& effective_weights() const { return effective_.values; }
  /// Digital factor per output row that maps tile weights back to the layer's weights (weight
  /// scaling, remapping); empty when every factor is 1.
  const std::vector<float>& mapping_scales() const { return mapping_.scales; }
  /// The layer's weights: weights() with each row times its mapping scale.
  Tensor logical_weights() const;

  /// Digital bias added after the ADC (out_size values); empty = no bias.
  void set_bias(std::span<const float> bias);
  const std::vector<float>& bias() const { return mapping_.bias; }

  /// Maps the target weights to conductances (config.noise_model.g_converter) and applies
  /// programming noise; drift coefficients are drawn too. The effective weights become the
  /// programmed ones and the drift-compensation baseline is read.
  void program();
  /// Effective weights t_inference seconds after programming: drift and accumulated read noise
  /// from the programmed state (programs first if needed), and updated drift compensation.
  /// The noise drawn depends only on (seed, name, t_inference).
  void drift(double t_inference);
  bool is_programmed() const { return programming_.programmed; }
  /// Drift-compensation factors applied to the outputs: one (global), one per output (per
  /// column), or none.
  const std::vector<float>& drift_compensation_factors() const { return compensation_.factors; }

  /// Runs a batch [batch, in_size] -> [batch, out_size]. In training mode (or with
  /// modifier.enable_during_test) the MVM uses the effective weights perturbed by
  /// config.modifier, drawn afresh for every call (addressed by the call's first sample).
  Tensor forward(const Tensor& input);

  /// Where forward runs: Backend::cpu (default) or Backend::cuda (throws, naming the reason,
  /// when no CUDA device is usable). Results agree within float rounding (the noise draws are
  /// the same numbers; sums run in another order). Programming, drift and the drift-compensation
  /// readouts stay on the CPU.
  void set_backend(simulator::Backend backend);
  simulator::Backend backend() const { return device_ ? simulator::Backend::cuda : simulator::Backend::cpu; }
  void set_training(bool training) {
    const auto held = lock_.hold();
    training_.enabled = training;
  }
  bool is_training() const { return training_.enabled; }

  /// Ideal backward pass of the last forward call: the input gradient [batch, in_size] of
  /// y = f * (W x) for the weights that call used (modified in training), where f is the
  /// digital factor per output (out_scale, mapping scale, drift compensation). Periphery
  /// effects (DAC, ADC, noise) are treated as identity, as in straight-through training.
  Tensor backward(const Tensor& grad_output) const;
  /// Gradient of the loss with respect to weights() for a batch: (f * grad_output)^T input.
  Tensor weight_gradient(const Tensor& input, const Tensor& grad_output) const;
  /// What aihwkit does after each optimizer step: clip (config.clip), then remap
  /// (config.remap, whose factors join the mapping scales) the target weights.
  void post_update_step();
  /// Where the sample count of the next forward call starts (noise depends on it).
  void set_sample_counter(std::uint64_t next_sample) {
    const auto held = lock_.hold();
    periphery_.samples_seen = next_sample;
  }
  std::uint64_t sample_counter() const { return periphery_.samples_seen; }

 private:
  /// The weights the MVM uses, what the analog steps need of them, and their version.
  simulator::TileWeights mvm_weights(const Tensor& values, const Tensor& magnitudes, std::uint64_t version) const;
  /// `digital_post_processing`: a user's forward (drift compensation and bias applied, the
  /// AVERAGE_ABS_MAX running value updated); false for drift-compensation readouts.
  /// `identity_input`: row a of the input is one-hot at column first_sample + a (a block of the
  /// identity matrix: a drift-compensation readout), which lets the MVM skip the GEMM.
  Tensor run_forward(const Tensor& input, const simulator::TileWeights& weights, std::uint64_t first_sample,
                     const simulator::RandomStream& stream, bool digital_post_processing, bool identity_input = false);
  /// The weights a user's forward call multiplies with (drawing the modifier in training).
  simulator::TileWeights forward_weights(std::uint64_t first_sample);
  bool needs_weight_magnitudes() const;
  /// The drift-compensation reference read: the analog forward of the identity inputs,
  /// [in_size, out_size] (row r: the outputs for input one-hot at r), averaged over `reads`.
  Tensor read_identity(const simulator::RandomStream& stream, int reads);
  /// The noise-free read of the target weights (W transposed), for exact_reference.
  Tensor ideal_read() const;
  /// aihwkit's clamp of mean-|y| readouts at 1e-4.
  static std::vector<double> clamped(std::vector<double> means);
  /// Per-sample noise-management scales; `update_state` = false leaves AVERAGE_ABS_MAX's
  /// running value unchanged (readouts).
  std::vector<float> noise_management_scales(const simulator::RowStatistics& rows, bool update_state);
  /// The digital steps after the ADC: out_scale, times the mapping scale and drift
  /// compensation, and the bias, for a user's forward (`digital_post_processing`).
  simulator::OutputFinish output_finish(bool digital_post_processing) const;
  std::vector<float> output_factors(bool digital_post_processing) const;
  /// grad_output times the digital output factors (the chain rule through them).
  Tensor scale_outputs(const Tensor& grad_output) const;
  void set_effective_from_conductances(std::span<const float> conductances);
  /// The target weights changed: effective = targets again, programming and compensation reset.
  void target_weights_changed();
  /// The effective weights changed: a new version, and |W| where the analog steps need it.
  void effective_weights_changed();
  /// The backend user forward calls run on (CUDA when chosen, else the CPU).
  simulator::TileBackend& compute_backend() { return device_ ? *device_ : *cpu_; }
  /// A backend of `kind` for this tile's shape and periphery.
  std::unique_ptr<simulator::TileBackend> make_backend(simulator::Backend kind) const;

  /// The target weights and the digital steps around the crossbar.
  struct Mapping {
    Tensor targets;                     ///< on the tile, after weight scaling and remapping
    std::vector<float> scales;          ///< per output row: tile weights -> layer weights; empty = 1
    std::vector<float> bias;            ///< digital bias; empty = none
  };
  /// The weights the MVM uses: the targets, programmed, then drifted.
  struct Effective {
    Tensor values;
    Tensor magnitudes;                  ///< |W|, for PCM_READ weight noise and IR drop
    std::uint64_t version = 0;
  };
  /// Hardware-aware training: weights perturbed by the modifier on every forward.
  struct Training {
    bool enabled = false;
    bool last_forward_modified = false;  ///< the last forward used `modified`
    Tensor modified;
    Tensor modified_magnitudes;
  };
  /// Programming and drift of the conductances.
  struct Programming {
    explicit Programming(const parameters::NoiseModel& config)
        : noise_model(simulator::make_device_noise_model(config)), converter(noise_model->converter()) {}
    std::unique_ptr<simulator::DeviceNoiseModel> noise_model;
    simulator::ConductanceConverter converter;
    bool programmed = false;
    double conductance_scale = 1.0;      ///< uS per weight unit of the programmed state
    std::vector<float> conductances;     ///< as programmed
    std::vector<float> drift_coefficients;
    std::vector<float> workspace;        ///< targets (program) or drifted conductances (drift)
  };
  /// Drift compensation: the baseline read at programming and the factors at the last drift.
  struct Compensation {
    std::vector<double> baseline;
    Tensor reference;                    ///< the kept reference read (CORRELATION readouts only)
    std::vector<float> factors;
  };
  /// The periphery's per-output spreads (drawn once per tile) and running state.
  struct PeripheryState {
    std::vector<float> output_noise_std;     ///< per output: out_noise with its device spread
    std::vector<float> output_nonlinearity;  ///< per output: n of y / (1 + n |y|); empty = none
    float average_abs_max = 0.0f;        ///< AVERAGE_ABS_MAX running value
    bool average_abs_max_started = false;
    std::uint64_t samples_seen = 0;      ///< the noise address of the next forward's first sample
  };

  std::int64_t out_size_;
  std::int64_t in_size_;
  parameters::InferenceRPUConfig config_;
  std::string name_;
  simulator::RandomStream stream_;
  Mapping mapping_;
  Effective effective_;
  Training training_;
  Programming programming_;
  Compensation compensation_;
  PeripheryState periphery_;
  std::uint64_t last_version_ = 0;             ///< the last weights version handed out
  std::unique_ptr<simulator::TileBackend> cpu_;     ///< readouts, and forwards unless a device is chosen
  std::unique_ptr<simulator::TileBackend> device_;  ///< the CUDA backend when chosen
  simulator::CallLock lock_;                    ///< serialises calls from several threads
};

}  // namespace tessera::tiles
